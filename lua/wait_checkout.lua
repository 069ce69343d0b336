-- wait_checkout.lua: checks out an available VM, or, when none is available, queues the caller
--   as a waiter behind those already waiting (see lib/waiters.lua).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: default quota 0..1000000. ARGV[3..5]: lease asked, default lease,
--   maximum lease, as for checkout.lua. ARGV[6]: how long to wait, 1..3600000 ms.
--   ARGV[7]: the id of the gateway that waits (its handoff list). ARGV[8]: a new ticket (a UUID).
--   ARGV[9]: a size from the pool's catalog, or "" for any. ARGV[10], ARGV[11]: Idempotency-Key
--   and window, as for checkout.lua (the same key answers both scripts alike).
-- Returns: {'vm', VM} when one was available (or a key's first answer), or {'queued', ticket}.
-- Errors: UNAUTHORIZED, BAD_REQUEST, QUOTA_EXCEEDED (checked first: a waiter at quota is not
--   queued), IDEMPOTENCY_MISMATCH, IDEMPOTENCY_IN_PROGRESS.
-- uses: args, checkouts, errors, idempotency, leases, vms, waiters
return errors.run(KEYS, function(c)
  local r = checkouts.request(c, ARGV, 9, 10)
  if r.kept then return {'vm', r.kept} end
  local wait = args.int(ARGV, 6, 1, 3600000, 'wait')
  local gateway, ticket = waiters.ticket(c, ARGV, 7)
  local t = leases.now_reclaimed(c)
  local vm = checkouts.take(c, r.name, r.user, r.default_quota, r.lease, t, nil, r.size)
  if vm then
    local reply = vms.reply(vm)
    idempotency.keep(r.idem, reply)
    return {'vm', reply}
  end
  waiters.enqueue(c, ticket, r.name, gateway, t + wait, r.default_quota, r.size)
  -- (until claim.lua keeps the answer, or the wait ends without one)
  idempotency.pend(r.idem, ticket, wait + waiters.CLAIM_SECONDS * 1000 + 60000)
  return {'queued', ticket}
end)
