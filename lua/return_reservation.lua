-- return_reservation.lua: checks in every VM of a reservation (checkouts.release), which ends
--   it. Leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: reservation id.
-- Returns: the reservation as it was, its VMs as they are now (returned).
-- Errors: UNAUTHORIZED, BAD_REQUEST, RESERVATION_NOT_FOUND (also another user's, unless the
--   caller is an admin, who may return any).
-- uses: args, errors, identity, leases, reservations
return errors.run(KEYS, function(c)
  local name, role = identity.authenticate(c, ARGV[1])
  local id = args.str(ARGV, 2, 'reservation id')
  leases.now_reclaimed(c)
  local r = reservations.visible(c, id, name, role)
  reservations.release(c, r, 'checkin', name)
  return reservations.reply(c, r)
end)
