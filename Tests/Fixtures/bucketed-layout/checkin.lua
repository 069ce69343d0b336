-- checkin.lua: returns a checked-out VM to the pool.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, ips, leases, events, pool, jobs.
-- ARGV[1]: identity. ARGV[2]: vm id or "". ARGV[3]: ip or "" (at least one given; both given
--   must name the same VM).
-- Returns: the VM record (now available).
-- Errors: UNAUTHORIZED, BAD_REQUEST, VM_NOT_FOUND, FORBIDDEN (a user who does not hold it),
--   INVALID_STATE (holder or admin, VM not checked out).
return run(function()
  local name, role = authenticate(ARGV[1])
  local id, ip = str_arg(2, 'vm_id', true), str_arg(3, 'ip', true)
  if id == '' and ip == '' then fail('BAD_REQUEST give vm_id, ip or both') end
  local vm
  local t = now_reclaimed()
  id, vm = locate_vm(id, ip, t)
  if role ~= 'admin' and vm.user ~= name then fail('FORBIDDEN you do not hold this VM') end
  if vm.status ~= 'checked-out' then
    fail('INVALID_STATE VM is ' .. vm.status .. ', not checked out')
  end
  release(vm, 'checkin', name, t)
  return vm_reply(vm)
end)
