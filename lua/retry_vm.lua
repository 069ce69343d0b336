-- retry_vm.lua: provisions an `error` VM again (with provisioning jobs it is `provisioning`
--   until the provider is done; its id is the same, so the provider finds a machine an earlier
--   try made rather than making a second).
-- KEYS: the pool's seventeen keys, see README.md; uses: tokens, user, vm, status, pool, events,
--   jobs, idle, waiters, waiting, handoff.
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
    set_status(id, 'error', 'provisioning')
    queue_job(id, 'provision')
  else
    redis.call('HDEL', K.vm .. id, 'error')
    set_status(id, 'error', 'available')
  end
  local status = redis.call('HGET', K.vm .. id, 'status')
  event('retry', actor, {vm_id = id, ip = vm.ip, status = status})
  if status == 'available' then serve_waiters() end
  return vm_record(id)
end)
