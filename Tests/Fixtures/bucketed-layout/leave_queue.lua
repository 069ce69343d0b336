-- leave_queue.lua: a waiting checkout stops waiting (its wait ended, or its client went away).
-- KEYS: the pool's two, see README.md; uses: held, records, free, leases, events,
--   waiters, waiting, handoff, pool, jobs.
-- ARGV[1]: identity. ARGV[2]: ticket. ARGV[3]: "give back" when a VM already handed to the
--   ticket must go back to the pool (the client is gone: it is never handed a VM), or "keep"
--   (the gateway claims it instead). ARGV[4], ARGV[5]: the request's Idempotency-Key ("" for none)
--   and window: a request that ends without a VM frees its key.
-- Returns: {'left'} (it was still waiting, or nothing is known of it), or {'handed', vm id}
--   ("keep" only), or {'returned', vm id} ("give back").
-- Errors: UNAUTHORIZED, BAD_REQUEST.
return run(function()
  local name = authenticate(ARGV[1])
  local ticket = str_arg(2, 'ticket')
  local mode = ARGV[3]
  if mode ~= 'give back' and mode ~= 'keep' then fail('BAD_REQUEST mode must be give back or keep') end
  local idem = idempotency(name, 4)
  local pending = idempotency_entry(idem)
  local function free_key() if pending and pending.p == ticket then redis.call('DEL', idem.key) end end
  redis.call('ZREM', K.waiters, ticket)
  local state = redis.call('HGET', K.waiting, ticket)
  local id = state and state:match('^handed (%S+)$')
  if not id then
    redis.call('HDEL', K.waiting, ticket)
    free_key()
    return {'left'}
  end
  if mode == 'keep' then return {'handed', id} end
  free_key()
  redis.call('HDEL', K.waiting, ticket)
  local vm = load_vm(id)
  if vm and vm.user == name and vm.claim_ticket == ticket then
    release(vm, 'abandoned', 'system')
  end
  return {'returned', id}
end)
