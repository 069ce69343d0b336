-- reserve.lua: checks out several VMs to the caller as one reservation, all or none: leases
--   that ran out are returned first, then every VM asked for is taken (checkouts.take), or,
--   when the pool has too few available, nothing changes and no event is written; with a wait,
--   the caller then joins the queue of waiters instead (lib/group_waiters.lua).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: default quota 0..1000000. ARGV[3]: lease seconds, or "" for the
--   default. ARGV[4]: the gateway's default lease, or "". ARGV[5]: the gateway's maximum lease
--   (as checkout.lua). ARGV[6]: the groups, "size:count,size:count" (size "" for any size; each
--   size once; 1..100 VMs in all). ARGV[7]: the request's Idempotency-Key, or "". ARGV[8]: how
--   long its answer is kept, ms. ARGV[9]: the new reservation's id (the gateway makes one).
--   ARGV[10]: how long to wait, 1..3600000 ms, or "" not to. With a wait, ARGV[11]: the id of
--   the gateway that waits (its handoff list); ARGV[12]: a new ticket (a UUID); ARGV[13]: how
--   long the gateway's claim on the wait lasts unless renewed (hold_wait.lua), 1000..3600000 ms.
-- Returns: {'reservation', the reservation (reservations.reply)}, its VMs checked out, each
--   with the same lease (with a key used before, the first request's answer); or, with a wait,
--   {'queued', ticket}.
-- Errors: UNAUTHORIZED, BAD_REQUEST, INVALID_STATE (more VMs than the cap can ever hold: never
--   a wait), QUOTA_EXCEEDED (the whole group counted, also per size; checked before queueing),
--   NO_VM_AVAILABLE (without a wait), IDEMPOTENCY_MISMATCH, IDEMPOTENCY_IN_PROGRESS.
-- uses: args, checkouts, errors, group_waiters, identity, idempotency, leases, plans, reservations, users, waiters
return errors.run(KEYS, function(c)
  local name, _, u = identity.authenticate(c, ARGV[1])
  local default_quota = args.int(ARGV, 2, 0, 1000000, 'default quota')
  local groups, total = plans.groups(c, ARGV, 6)
  local idem = idempotency.of(c, ARGV, 7, name, 'reserve', ARGV[3] or '', ARGV[6])
  local kept = idempotency.kept(idem)
  if kept then return {'reservation', kept} end
  local lease = leases.arg(ARGV, 3, nil, users.limits(u))
  local id = args.str(ARGV, 9, 'reservation id')
  local wait = args.int(ARGV, 10, 1, 3600000, 'wait', true)
  if redis.call('EXISTS', c.k.reservation .. id) == 1 then errors.fail('BAD_REQUEST reservation id in use') end
  local t = leases.now_reclaimed(c)
  plans.check(c, name, u, default_quota, total, plans.named(groups), t)
  local picks, complete = plans.plan(c, name, u, groups, total, {})
  if complete then
    local taken = {} -- (the plan left room for each: no take fails)
    for i, size in ipairs(picks) do
      taken[i] = checkouts.take(c, name, u, default_quota, lease, t, nil, size, id)
    end
    reservations.create(c, id, name, t, lease, taken)
    local reply = reservations.reply(c, reservations.load(c, id))
    idempotency.keep(idem, reply)
    return {'reservation', reply}
  end
  if not wait then
    errors.fail(('NO_VM_AVAILABLE Not enough VMs available for %d, please try after some time'):format(total))
  end
  local ticket = group_waiters.enqueue(c, ARGV, 11, {user = name, deadline = t + wait, default_quota = default_quota,
                                                      reservation = id, groups = ARGV[6]}, t)
  -- (until claim_reservation.lua keeps the answer, or the wait ends without one)
  idempotency.pend(idem, ticket, wait + waiters.CLAIM_SECONDS * 1000 + 60000)
  return {'queued', ticket}
end)
