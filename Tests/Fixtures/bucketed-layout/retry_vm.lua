-- retry_vm.lua: provisions an `error` VM again (with provisioning jobs it is `provisioning`
--   until the provider is done; its id is the same, so the provider finds a machine an earlier
--   try made rather than making a second).
-- KEYS: the pool's two, see README.md; uses: accounts, names, records, free, pool, events,
--   jobs, waiters, waiting, handoff.
-- ARGV[1]: identity (admin). ARGV[2]: vm id.
-- Returns: the VM record.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, VM_NOT_FOUND, INVALID_STATE (not in error).
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local id, vm = locate_vm(str_arg(2, 'vm_id'), '', now())
  if vm.status ~= 'error' then
    fail('INVALID_STATE only VMs in error can be retried; this one is ' .. vm.status)
  end
  if provisioning_jobs() then
    set_status(vm, 'provisioning')
    queue_job(vm, 'provision')
  else
    vm.error = nil
    set_status(vm, 'available')
  end
  save_vm(vm)
  event('retry', actor, id, vm.ip, nil, vm.status)
  if vm.status == 'available' then serve_waiters() end
  return vm_reply(load_vm(id))
end)
