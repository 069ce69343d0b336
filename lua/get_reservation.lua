-- get_reservation.lua: one reservation, with its VMs. Leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: reservation id.
-- Returns: the reservation (reservations.reply).
-- Errors: UNAUTHORIZED, BAD_REQUEST, RESERVATION_NOT_FOUND (also another user's: only its holder
--   and admins see it).
-- uses: args, errors, identity, leases, reservations
return errors.run(KEYS, function(c)
  local name, role = identity.authenticate(c, ARGV[1])
  local id = args.str(ARGV, 2, 'reservation id')
  leases.now_reclaimed(c)
  return reservations.reply(c, reservations.visible(c, id, name, role))
end)
