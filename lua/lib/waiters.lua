-- waiters: a checkout that may wait and finds no VM becomes a waiter: its ticket in the zset
-- P:waiters (scored by arrival, from the pool's waiter_seq counter) and, in the hash P:waiting,
-- ticket → "user gateway deadline_ms default_quota size" (size "*" for any, "=" for a waiting
-- reservation: lib/group_waiters.lua). When VMs become available, waiters.serve gives each to
-- the first waiter, in arrival order, whose deadline has not passed and who can use it (a
-- waiter for a size none is free of keeps its place, and a VM it cannot use goes on to those
-- behind it), in the same script, so no other checkout can take it first: the VM is checked out
-- to the waiter's user with a claim lease of CLAIM_SECONDS, P:waiting[ticket] becomes "handed
-- <vm id>", and "<ticket> <vm id>" is pushed to the list P:handoff:<gateway> that the waiting
-- request's gateway blocks on. That gateway then claims it (claim.lua). If the gateway died
-- meanwhile, the claim lease runs out and the VM returns to the pool (and to the next waiter).
-- A waiter at its quota by then is answered "<ticket> QUOTA" instead.
-- uses: args, checkouts, clock, errors, group_waiters, identity, idempotency, leases, pool, users, vms

waiters.CLAIM_SECONDS = 30

-- The gateway argv[i] and the new ticket argv[i + 1] of a request that may wait.
-- Errors: BAD_REQUEST (not letters, digits and dashes, or a ticket in use).
function waiters.ticket(c, argv, i)
  local gateway, ticket = args.str(argv, i, 'gateway'), args.str(argv, i + 1, 'ticket')
  if not gateway:match('^[%w-]+$') or not ticket:match('^[%w-]+$') then
    errors.fail('BAD_REQUEST gateway and ticket must be letters, digits and dashes')
  end
  if redis.call('HEXISTS', c.k.waiting, ticket) == 1 then errors.fail('BAD_REQUEST this ticket is in use') end
  return gateway, ticket
end

-- What claim.lua and claim_reservation.lua are asked (their ARGV, argv): {name, u (the
-- caller's user map), ticket, lease, t (Redis' time, leases that ran out returned), handed
-- (the id of what was handed to the ticket, nil: nothing), idem (the waiting request's
-- Idempotency-Key while it is still that ticket's, else nil)}.
function waiters.claim_request(c, argv)
  local name, _, u = identity.authenticate(c, argv[1])
  local r = {name = name, u = u, ticket = args.str(argv, 2, 'ticket')}
  r.lease = leases.arg(argv, 3, nil, users.limits(u))
  r.idem = idempotency.of(c, argv, 6, name)
  local pending = idempotency.entry(r.idem)
  if pending and pending.p == r.ticket then r.idem.f = pending.f else r.idem = nil end -- (not this request's: leave it)
  r.t = leases.now_reclaimed(c)
  local state = redis.call('HGET', c.k.waiting, r.ticket)
  r.handed = state and state:match('^handed (%S+)$')
  return r
end

-- A claim (waiters.claim_request r) that finds nothing for it: the request's key is free again.
-- Errors: NO_VM_AVAILABLE, always.
function waiters.nothing_to_claim(r)
  if r.idem then redis.call('DEL', r.idem.key) end
  errors.fail('NO_VM_AVAILABLE No VMs currently available, please try after some time')
end

-- Waiting ticket `ticket` as {user, gateway, deadline, default_quota, size}, nil when unknown.
function waiters.info(c, ticket)
  local info = redis.call('HGET', c.k.waiting, ticket)
  if not info then return nil end
  local user, gateway, deadline, default_quota, size = info:match('^(%S+) (%S+) (%d+) (%d+) (%S+)$')
  return {user = user, gateway = gateway, deadline = tonumber(deadline), default_quota = tonumber(default_quota),
          size = size == '*' and '' or size, group = size == '='}
end

-- Queues ticket `ticket` of `name`, waiting on `gateway` until `deadline` (ms).
function waiters.enqueue(c, ticket, name, gateway, deadline, default_quota, size)
  local seq = redis.call('HINCRBY', c.k.pool, 'waiter_seq', 1)
  redis.call('ZADD', c.k.waiters, seq, ticket)
  redis.call('HSET', c.k.waiting, ticket, ('%s %s %d %d %s'):format(name, gateway, deadline, default_quota,
                                                                     size == '' and '*' or size))
end

-- Pushes `text` ("<ticket> <outcome>") to the handoff list of `gateway`.
function waiters.answer(c, gateway, text)
  redis.call('RPUSH', c.k.handoff .. gateway, text)
  redis.call('EXPIRE', c.k.handoff .. gateway, 300) -- a gateway that died leaves nothing forever
end

-- Hands available VMs to waiters, first come first served (at most 1000 looked at per call), and
-- ends the waits that are over. Every script that makes a VM available calls it. (checkouts.take
-- may return a VM whose lease ran out, and so call it again: c.serving keeps that from serving
-- twice meanwhile; a waiting reservation that ends gives its VMs back and asks, with c.again,
-- for another round from the head of the queue.)
function waiters.serve(c)
  if c.serving or redis.call('ZCARD', c.k.waiters) == 0 then return end
  c.serving = true
  repeat
    c.again = false
    local t = clock.now(c)
    for _, ticket in ipairs(redis.call('ZRANGE', c.k.waiters, 0, 999)) do
      if pool.available_count(c) == 0 then break end
      local w = waiters.info(c, ticket)
      if not w or not w.user or w.deadline <= t or (w.group and group_waiters.claim_ended(c, ticket, t)) then
        group_waiters.drop(c, ticket) -- gone or past its deadline: its gateway answers 503
      elseif w.group then
        group_waiters.serve(c, ticket, w, t)
      else
        waiters.serve_one(c, ticket, w, t)
      end
    end
  until not c.again
  c.serving = false
end

-- Hands waiting checkout `ticket` (w: waiters.info) an available VM of its size, if one is.
function waiters.serve_one(c, ticket, w, t)
  local ok, vm = pcall(checkouts.take, c, w.user, users.load(c, w.user), w.default_quota, waiters.CLAIM_SECONDS, t,
                       'handed to a waiting checkout', w.size)
  if ok and vm then
    redis.call('ZREM', c.k.waiters, ticket)
    vms.update(c, vm, {claim_ticket = ticket})
    redis.call('HSET', c.k.waiting, ticket, 'handed ' .. vm.id)
    waiters.answer(c, w.gateway, ticket .. ' ' .. vm.id)
  elseif not ok then -- at its quota
    redis.call('ZREM', c.k.waiters, ticket)
    redis.call('HDEL', c.k.waiting, ticket)
    waiters.answer(c, w.gateway, ticket .. ' QUOTA')
  end
end
