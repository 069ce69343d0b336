-- delete_vm.lua: deletes an available or error VM: at once, or with provisioning jobs it is
--   `deprovisioning` until the provider has destroyed its machine (retire_vm in _prelude.lua).
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, buckets, free, ips, leases, events, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: vm id. ARGV[3]: ip or "" (if given, must be the VM's).
-- Returns: the VM record as it was before deletion, or, while deprovisioning, as it is now.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, VM_NOT_FOUND, INVALID_STATE.
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local _, vm = locate_vm(str_arg(2, 'vm_id'), str_arg(3, 'ip', true), now_reclaimed())
  if vm.status ~= 'available' and vm.status ~= 'error' then
    fail('INVALID_STATE only available or error VMs can be deleted; this one is ' .. vm.status)
  end
  local reply = vm_reply(vm)
  retire_vm(vm, actor)
  return vm.status == 'deprovisioning' and vm_reply(vm) or reply
end)
