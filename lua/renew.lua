-- renew.lua: extends the lease of a VM the caller holds, from now. Leases that ran out are
--   returned first: a lease that has ended cannot be renewed, the VM is no longer the caller's.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: vm id. ARGV[3]: lease seconds 1..31536000, or "" for the VM's
--   current lease length (or else the default). ARGV[4]: the gateway's default lease, or "".
--   ARGV[5]: the gateway's maximum lease (a user's own max_lease_seconds wins), see leases.arg.
-- Returns: the VM, its lease now ending `lease` seconds after this call.
-- Errors: UNAUTHORIZED, BAD_REQUEST (also a lease over the caller's maximum, or none to give),
--   VM_NOT_FOUND (also a user who does not hold it: the answer for a VM they cannot see),
--   FORBIDDEN (an admin who does not hold it: only the holder renews).
-- uses: args, errors, events, identity, leases, users, vms
return errors.run(KEYS, function(c)
  local name, role, u = identity.authenticate(c, ARGV[1])
  local t = leases.now_reclaimed(c)
  local id, vm = leases.locate(c, args.str(ARGV, 2, 'vm_id'), '', t)
  if vm.user ~= name then
    if role == 'admin' then errors.fail('FORBIDDEN only the holder of a VM can renew its lease') end
    errors.fail('VM_NOT_FOUND Could not find a vm with given details')
  end
  local lease = leases.arg(ARGV, 3, tonumber(vm.lease_seconds), users.limits(u))
  if not lease then errors.fail('BAD_REQUEST this VM has no lease: give lease_seconds') end
  local changes = {}
  leases.start(c, vm, name, t, lease, changes)
  vms.update(c, vm, changes)
  events.append(c, 'renew', name, id, vm.ip, name, 'checked-out', 'lease ' .. lease .. ' s')
  return vms.reply(vm)
end)
