-- retry_vm.lua: provisions an `error` VM again (with provisioning jobs it is `provisioning`
--   until the provider is done; its id is the same, so the provider finds a machine an earlier
--   try made rather than making a second).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: vm id.
-- Returns: the VM.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, VM_NOT_FOUND, INVALID_STATE (not in error).
-- uses: args, clock, errors, events, identity, jobs, leases, status, vms, waiters
return errors.run(KEYS, function(c)
  local actor, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local id, vm = leases.locate(c, args.str(ARGV, 2, 'vm_id'), '', clock.now(c))
  if vm.status ~= 'error' then
    errors.fail('INVALID_STATE only VMs in error can be retried; this one is ' .. vm.status)
  end
  local changes = {error = false}
  if jobs.enabled(c) then
    jobs.queue(c, vm, 'provision', nil, changes)
    status.change(c, vm, 'provisioning', changes)
  else
    status.change(c, vm, 'available', changes)
  end
  events.append(c, 'retry', actor, id, vm.ip, nil, vm.status)
  if vm.status == 'available' then waiters.serve(c) end
  return vms.reply(vms.load(c, id))
end)
