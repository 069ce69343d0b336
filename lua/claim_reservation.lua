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
-- uses: args, clock, errors, identity, idempotency, leases, reservations, users
return errors.run(KEYS, function(c)
  local name, _, u = identity.authenticate(c, ARGV[1])
  local ticket = args.str(ARGV, 2, 'ticket')
  local lease = leases.arg(ARGV, 3, nil, users.limits(u))
  local idem = idempotency.of(c, ARGV, 6, name)
  local pending = idempotency.entry(idem)
  if not pending or pending.p ~= ticket then idem = nil end -- (not this request's: leave it)
  local t = leases.now_reclaimed(c)
  local state = redis.call('HGET', c.k.waiting, ticket)
  local id = state and state:match('^handed (%S+)$')
  local r = id and reservations.load(c, id)
  if not r or r.user ~= name or r.claim_ticket ~= ticket then
    if idem then redis.call('DEL', idem.key) end
    errors.fail('NO_VM_AVAILABLE No VMs currently available, please try after some time')
  end
  redis.call('HDEL', c.k.waiting, ticket)
  -- the client has them from now: their checkout time and lease count from the claim
  local now = clock.text(c, t)
  reservations.set_lease(c, r, name, t, lease, function(_, changes) changes.checked_out_at = now end)
  redis.call('HSET', c.k.reservation .. id, 'created_at', now)
  redis.call('HDEL', c.k.reservation .. id, 'claim_ticket')
  local reply = reservations.reply(c, reservations.load(c, id))
  if idem then
    idem.f = pending.f
    idempotency.keep(idem, reply)
  end
  return reply
end)
