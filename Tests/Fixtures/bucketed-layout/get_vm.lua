-- get_vm.lua: one VM, for an admin or its current holder.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity. ARGV[2]: vm id.
-- Returns: the VM record.
-- Errors: UNAUTHORIZED, BAD_REQUEST, VM_NOT_FOUND (also when the caller may not see it).
return run(function()
  local name, role = authenticate(ARGV[1])
  local _, vm = locate_vm(str_arg(2, 'vm_id'), '', now_reclaimed())
  if role ~= 'admin' and vm.user ~= name then
    fail('VM_NOT_FOUND Could not find a vm with given details')
  end
  return vm_reply(vm)
end)
