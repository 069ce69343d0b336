-- renew_reservation.lua: extends the lease of every VM of a reservation the caller holds, from
--   now, to the same end. Leases that ran out are returned first (an ended reservation cannot
--   be renewed).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: reservation id. ARGV[3]: lease seconds, or "" for the
--   reservation's lease length (or else the default). ARGV[4]: the gateway's default lease, or
--   "". ARGV[5]: the gateway's maximum lease (see leases.arg).
-- Returns: the reservation (reservations.reply).
-- Errors: UNAUTHORIZED, BAD_REQUEST (also a lease over the caller's maximum, or none to give),
--   RESERVATION_NOT_FOUND (also a user who does not hold it), FORBIDDEN (an admin who does not
--   hold it: only the holder renews).
-- uses: args, errors, events, identity, leases, reservations, users
return errors.run(KEYS, function(c)
  local name, role, u = identity.authenticate(c, ARGV[1])
  local t = leases.now_reclaimed(c)
  local id = args.str(ARGV, 2, 'reservation id')
  leases.reclaim_held(c, t, name)
  local r = reservations.visible(c, id, name, role)
  if r.user ~= name then errors.fail('FORBIDDEN only the holder of a reservation can renew it') end
  local lease = leases.arg(ARGV, 3, tonumber(r.lease_seconds), users.limits(u))
  if not lease then errors.fail('BAD_REQUEST this reservation has no lease: give lease_seconds') end
  reservations.set_lease(c, r, name, t, lease, function(vm)
    events.append(c, 'renew', name, vm.id, vm.ip, name, 'checked-out', 'lease ' .. lease .. ' s', id)
  end)
  return reservations.reply(c, reservations.load(c, id))
end)
