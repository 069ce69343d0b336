-- reap_leases.lua: returns the VMs whose leases ran out to the pool, the first to expire first,
--   and ends the waits of reservations whose gateways stopped renewing their claims (their
--   set-aside VMs go back: lib/group_waiters.lua), for the reaper every gateway runs
--   (Sources/Reservations/LeaseReaper.swift). Like every script it is atomic, so any number of
--   gateways may run it at once: a VM is released once.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: the most VMs to release in this call, 1..10000 (no identity: it does only what the
--   leases already decided).
-- Returns: {VMs released, the earliest lease end or claim end still to come in ms or -1 when
--   none, Redis' time now in ms}: the reaper sleeps until then (at most a second: other gateways
--   add leases).
-- Errors: BAD_REQUEST.
-- uses: args, clock, errors, group_waiters, leases
return errors.run(KEYS, function(c)
  local batch = args.int(ARGV, 1, 1, 10000, 'batch')
  local t = clock.now(c)
  local expired = redis.call('ZRANGEBYSCORE', c.k.leases, '-inf', clock.text(c, t), 'LIMIT', 0, batch)
  -- (each checked again: returning one, or a reservation, may hand another of them to a waiter)
  for _, id in ipairs(expired) do leases.reclaim_vm(c, t, id) end
  group_waiters.reap(c, t)
  local first = redis.call('ZRANGE', c.k.leases, 0, 0, 'WITHSCORES')
  local next = math.min(first[2] and tonumber(first[2]) or math.huge, group_waiters.next_claim_end(c) or math.huge)
  return {#expired, next < math.huge and next or -1, t}
end)
