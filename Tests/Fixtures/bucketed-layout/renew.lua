-- renew.lua: extends the lease of a VM the caller holds, from now.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua): a lease that has ended
--   cannot be renewed, the VM is no longer the caller's.
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity. ARGV[2]: vm id. ARGV[3]: lease seconds 1..31536000, or "" for the VM's
--   current lease length (or else the default). ARGV[4]: the gateway's default lease, or "".
--   ARGV[5]: the gateway's maximum lease (a user's own max_lease wins), see lease_arg.
-- Returns: the VM record, its lease now ending `lease` seconds after this call.
-- Errors: UNAUTHORIZED, BAD_REQUEST (also a lease over the caller's maximum, or none to give),
--   VM_NOT_FOUND (also a user who does not hold it: the answer for a VM they cannot see),
--   FORBIDDEN (an admin who does not hold it: only the holder renews).
return run(function()
  local name, role = authenticate(ARGV[1])
  local t = now_reclaimed()
  local id, vm = locate_vm(str_arg(2, 'vm_id'), '', t)
  if vm.user ~= name then
    if role == 'admin' then fail('FORBIDDEN only the holder of a VM can renew its lease') end
    fail('VM_NOT_FOUND Could not find a vm with given details')
  end
  local lease = lease_arg(3, name, tonumber(vm.lease_seconds))
  if not lease then fail('BAD_REQUEST this VM has no lease: give lease_seconds') end
  set_lease(vm, t, lease)
  save_vm(vm)
  event('renew', name, id, vm.ip, name, 'checked-out', 'lease ' .. lease .. ' s')
  return vm_reply(vm)
end)
