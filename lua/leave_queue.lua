-- leave_queue.lua: a waiting checkout or reservation stops waiting (its wait ended, or its
--   client went away); the VMs set aside for a reservation go back to the pool, and on to the
--   next waiters.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: ticket. ARGV[3]: "give back" when a VM (or a reservation) already
--   handed to the ticket must go back to the pool (the client is gone: it is never handed
--   one), or "keep" (the gateway claims it instead). ARGV[4], ARGV[5]: the request's Idempotency-Key ("" for none)
--   and window: a request that ends without a VM frees its key.
-- Returns: {'left'} (it was still waiting, or nothing is known of it), or {'handed', id}
--   ("keep" only), or {'returned', id} ("give back"): the VM's id, or the reservation's.
-- Errors: UNAUTHORIZED, BAD_REQUEST.
-- uses: args, checkouts, errors, group_waiters, identity, idempotency, reservations, vms, waiters
return errors.run(KEYS, function(c)
  local name = identity.authenticate(c, ARGV[1])
  local ticket = args.str(ARGV, 2, 'ticket')
  local mode = ARGV[3]
  if mode ~= 'give back' and mode ~= 'keep' then errors.fail('BAD_REQUEST mode must be give back or keep') end
  local idem = idempotency.of(c, ARGV, 4, name)
  local pending = idempotency.entry(idem)
  local function free_key() if pending and pending.p == ticket then redis.call('DEL', idem.key) end end
  local state = redis.call('HGET', c.k.waiting, ticket)
  local id = state and state:match('^handed (%S+)$')
  if not id then
    local w = waiters.info(c, ticket)
    if w and w.user == name then group_waiters.drop(c, ticket) end
    free_key()
    return {'left'}
  end
  if mode == 'keep' then return {'handed', id} end
  free_key()
  redis.call('HDEL', c.k.waiting, ticket)
  local r = reservations.load(c, id)
  if r and r.user == name and r.claim_ticket == ticket then reservations.release(c, r, 'abandoned', 'system') end
  local vm = not r and vms.load(c, id)
  if vm and vm.user == name and vm.claim_ticket == ticket then checkouts.release(c, vm, 'abandoned', 'system') end
  return {'returned', id}
end)
