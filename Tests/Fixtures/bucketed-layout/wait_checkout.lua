-- wait_checkout.lua: checks out any available VM, or, when none is available, queues the caller
--   as a waiter (see serve_waiters in _prelude.lua) behind those already waiting.
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, pool,
--   leases, events, waiters, waiting, jobs.
-- ARGV[1]: identity. ARGV[2]: default quota 0..1000000. ARGV[3..5]: lease asked, default lease,
--   maximum lease, as for checkout.lua. ARGV[6]: how long to wait, 1..3600000 ms.
--   ARGV[7]: the id of the gateway that waits (its handoff list). ARGV[8]: a new ticket (a UUID).
--   ARGV[9]: a size from the pool's catalog, or "" for any. ARGV[10], ARGV[11]: Idempotency-Key
--   and window, as for checkout.lua (the same key answers both scripts alike).
-- Returns: {'vm', VM record} when one was available (or a key's first answer), or {'queued', ticket}.
-- Errors: UNAUTHORIZED, BAD_REQUEST, QUOTA_EXCEEDED (checked first: a waiter at quota is not
--   queued), IDEMPOTENCY_MISMATCH, IDEMPOTENCY_IN_PROGRESS.
return run(function()
  local name, _, limits = authenticate(ARGV[1])
  limits = limits or user_limits(name)
  local default_quota = int_arg(2, 0, 1000000, 'default quota')
  local idem = idempotency(name, 10, 'checkout', ARGV[3] or '', size_arg(9))
  local kept = kept_answer(idem)
  if kept then return {'vm', kept} end
  local lease = lease_arg(3, name, nil, limits)
  local wait = int_arg(6, 1, 3600000, 'wait')
  local gateway, ticket = str_arg(7, 'gateway'), str_arg(8, 'ticket')
  if not gateway:match('^[%w-]+$') or not ticket:match('^[%w-]+$') then
    fail('BAD_REQUEST gateway and ticket must be letters, digits and dashes')
  end
  local size = size_arg(9)
  local t = now_reclaimed()
  local vm = take_vm(name, default_quota, lease, t, nil, size, limits)
  if vm then
    local record = vm_reply(vm)
    keep_answer(idem, record)
    return {'vm', record}
  end
  if redis.call('HEXISTS', K.waiting, ticket) == 1 then fail('BAD_REQUEST this ticket is in use') end
  local seq = redis.call('HINCRBY', K.pool, 'waiter_seq', 1)
  redis.call('ZADD', K.waiters, seq, ticket)
  redis.call('HSET', K.waiting, ticket, ('%s %s %d %d %s'):format(name, gateway, t + wait, default_quota,
                                                                 size == '' and '*' or size))
  if idem then -- until claim.lua keeps the answer, or the wait ends without one
    redis.call('SET', idem.key, cjson.encode({f = idem.f, p = ticket}), 'PX', wait + CLAIM_SECONDS * 1000 + 60000)
  end
  return {'queued', ticket}
end)
