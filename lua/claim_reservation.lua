-- claim_reservation.lua: a waiting reservation takes the VMs handed to it (lib/group_waiters.lua):
--   the lease the request asked for (or the default, or none) replaces the claim lease, and the
--   checkout time of each VM and the lease count from now.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: ticket. ARGV[3..5]: lease asked, default lease, maximum lease.
--   ARGV[6], ARGV[7]: the waiting request's Idempotency-Key ("" for none) and window: the answer
--   is kept for it, or, without a reservation, the key is free again.
-- Returns: the reservation (reservations.reply).
-- Errors: UNAUTHORIZED, BAD_REQUEST, NO_VM_AVAILABLE (nothing handed to this ticket, or the
--   claim lease ran out first and the VMs went back to the pool).
-- uses: clock, errors, idempotency, reservations, waiters
return errors.run(KEYS, function(c)
  local r = waiters.claim_request(c, ARGV)
  local reservation = r.handed and reservations.load(c, r.handed)
  if not reservation or reservation.user ~= r.name or reservation.claim_ticket ~= r.ticket then waiters.nothing_to_claim(r) end
  redis.call('HDEL', c.k.waiting, r.ticket)
  -- the client has them from now: their checkout time and lease count from the claim
  local now = clock.text(c, r.t)
  reservations.set_lease(c, reservation, r.name, r.t, r.lease, function(_, changes) changes.checked_out_at = now end)
  redis.call('HSET', c.k.reservation .. r.handed, 'created_at', now)
  redis.call('HDEL', c.k.reservation .. r.handed, 'claim_ticket')
  local reply = reservations.reply(c, reservations.load(c, r.handed))
  idempotency.keep(r.idem, reply)
  return reply
end)
