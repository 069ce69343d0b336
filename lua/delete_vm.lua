-- delete_vm.lua: deletes an available or error VM.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's sixteen keys, see README.md; uses: tokens, user, held, vm, vms, status, ips, leases, events.
-- ARGV[1]: identity (admin). ARGV[2]: vm id. ARGV[3]: ip or "" (if given, must be the VM's).
-- Returns: the VM record as it was before deletion.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, VM_NOT_FOUND, INVALID_STATE.
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local id, vm, rec = locate_vm(str_arg(2, 'vm_id'), str_arg(3, 'ip', true), now_reclaimed())
  if vm.status ~= 'available' and vm.status ~= 'error' then
    fail('INVALID_STATE only available or error VMs can be deleted; this one is ' .. vm.status)
  end
  remove_vm(id, vm, actor)
  return rec
end)
