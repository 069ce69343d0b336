-- group_waiters: a reservation that may wait (reserve.lua with a wait) and finds too few VMs
-- available joins the queue of waiting checkouts (lib/waiters.lua), in arrival order, as
-- P:waiting[ticket] = "user gateway deadline_ms default_quota =". What it asks for is the hash
-- P:waiting_group:<ticket> (`reservation`: the id it will have; `groups`: as reserve.lua's
-- ARGV[6]). When it is the first waiter that can use a VM that becomes available, the VM is
-- set aside for it: status `set-aside`, field set_aside_for = the reservation's id, listed in
-- the hash P:set_aside:<ticket> (VM id → size); a set-aside VM is neither available nor handed
-- to anyone behind it. Once it has every VM, in the same script, they are checked out to its
-- user as the reservation, with a claim lease of waiters.CLAIM_SECONDS, P:waiting[ticket]
-- becomes "handed <reservation id>" (the reservation's field claim_ticket names the ticket),
-- and "<ticket> <reservation id>" goes to its gateway, which claims it (claim_reservation.lua).
-- Its gateway vouches that the request still waits: the zset P:wait_claims scores the ticket by
-- when that claim ends, and the gateway renews it (hold_wait.lua). When the wait ends, its client
-- goes away (leave_queue.lua) or its claim runs out (a gateway that died; the reaper's
-- group_waiters.reap), the set-aside VMs go back to the pool and on to the next waiters at once.
-- uses: args, available, checkouts, events, plans, reservations, status, users, vms, waiters

-- Queues a reservation with the gateway, ticket and claim of argv[i], argv[i + 1], argv[i + 2]
-- (see reserve.lua) for w = {user, deadline, default_quota, reservation, groups} at time t; its
-- ticket. Then serves the queue: VMs available now that no one before it can use are set aside.
function group_waiters.enqueue(c, argv, i, w, t)
  local gateway, ticket = waiters.ticket(c, argv, i)
  local claim = args.int(argv, i + 2, 1000, 3600000, 'claim')
  waiters.enqueue(c, ticket, w.user, gateway, w.deadline, w.default_quota, '=')
  redis.call('HSET', c.k.waiting_group .. ticket, 'reservation', w.reservation, 'groups', w.groups)
  redis.call('ZADD', c.k.wait_claims, t + claim, ticket)
  waiters.serve(c)
  return ticket
end

-- Whether the claim of waiting reservation `ticket` ended by time t.
function group_waiters.claim_ended(c, ticket, t)
  local ends = redis.call('ZSCORE', c.k.wait_claims, ticket)
  return not ends or tonumber(ends) <= t
end

-- Renews the claim of the caller's waiting `ticket` to `claim` ms from t: 'waiting' (renewed),
-- 'handed' (a VM or reservation waits for its claim) or 'gone' (its wait is over).
function group_waiters.hold(c, ticket, name, t, claim)
  local w = waiters.info(c, ticket)
  if w and w.user == name then
    if w.group then redis.call('ZADD', c.k.wait_claims, 'XX', t + claim, ticket) end
    return 'waiting'
  end
  local state = redis.call('HGET', c.k.waiting, ticket)
  return state and state:match('^handed ') and 'handed' or 'gone'
end

-- Ends the wait of `ticket` (a waiting checkout or reservation) that was not handed anything:
-- out of the queue, and the VMs set aside for it back to the pool, to the next waiters at once.
function group_waiters.drop(c, ticket)
  local w = waiters.info(c, ticket)
  redis.call('ZREM', c.k.waiters, ticket)
  redis.call('ZREM', c.k.wait_claims, ticket)
  redis.call('HDEL', c.k.waiting, ticket)
  local id = redis.call('HGET', c.k.waiting_group .. ticket, 'reservation')
  local aside = redis.call('HKEYS', c.k.set_aside .. ticket)
  redis.call('DEL', c.k.waiting_group .. ticket, c.k.set_aside .. ticket)
  for _, vm_id in ipairs(aside) do
    local vm = vms.load(c, vm_id)
    if vm and vm.status == 'set-aside' then
      status.change(c, vm, 'available', {set_aside_for = false})
      events.append(c, 'set_aside_returned', 'system', vm_id, vm.ip, w and w.user, 'available', nil, id)
    end
  end
  if #aside == 0 then return end
  if c.serving then c.again = true else waiters.serve(c) end
end

-- Ends the waits whose claims ran out by time t (their gateways died), 100 a call.
function group_waiters.reap(c, t)
  for _, ticket in ipairs(redis.call('ZRANGEBYSCORE', c.k.wait_claims, '-inf', t, 'LIMIT', 0, 100)) do
    group_waiters.drop(c, ticket)
  end
end

-- When the first claim ends (ms), nil when no reservation waits.
function group_waiters.next_claim_end(c)
  local first = redis.call('ZRANGE', c.k.wait_claims, 0, 0, 'WITHSCORES')
  return first[2] and tonumber(first[2])
end

-- Serves waiting reservation `ticket` (w: waiters.info) at time t: sets aside the available VMs
-- it can use, and once it has all, hands them over as its reservation. If its user's quota no
-- longer has room for the group, its wait ends with "<ticket> QUOTA" (and its VMs go back); if
-- what it asks no longer parses (the catalog changed), its wait ends.
function group_waiters.serve(c, ticket, w, t)
  local asked = redis.call('HMGET', c.k.waiting_group .. ticket, 'reservation', 'groups')
  local id = asked[1]
  local ok, groups, total = pcall(plans.groups, c, {asked[2]}, 1)
  if not id or not ok then return group_waiters.drop(c, ticket) end
  local u, aside, counts = users.load(c, w.user), redis.call('HGETALL', c.k.set_aside .. ticket), {}
  for i = 2, #aside, 2 do counts[aside[i]] = (counts[aside[i]] or 0) + 1 end
  local picks, complete = plans.plan(c, w.user, u, groups, total, counts)
  for _, size in ipairs(picks) do
    local vm = vms.load(c, available.pop(c, size))
    status.change(c, vm, 'set-aside', {set_aside_for = id}, true)
    redis.call('HSET', c.k.set_aside .. ticket, vm.id, size)
    events.append(c, 'set_aside', 'system', vm.id, vm.ip, w.user, 'set-aside', nil, id)
    counts[size] = (counts[size] or 0) + 1
  end
  if not complete then return end
  if not pcall(plans.check, c, w.user, u, w.default_quota, total, counts, t) then
    group_waiters.drop(c, ticket)
    return waiters.answer(c, w.gateway, ticket .. ' QUOTA')
  end
  local taken = {}
  for _, vm_id in ipairs(redis.call('HKEYS', c.k.set_aside .. ticket)) do
    local vm = vms.load(c, vm_id)
    checkouts.hand(c, vm, w.user, u, waiters.CLAIM_SECONDS, t, 'handed to a waiting reservation', id)
    taken[#taken + 1] = vm
  end
  redis.call('ZREM', c.k.waiters, ticket)
  redis.call('ZREM', c.k.wait_claims, ticket)
  redis.call('DEL', c.k.waiting_group .. ticket, c.k.set_aside .. ticket)
  reservations.create(c, id, w.user, t, waiters.CLAIM_SECONDS, taken)
  redis.call('HSET', c.k.reservation .. id, 'claim_ticket', ticket)
  redis.call('HSET', c.k.waiting, ticket, 'handed ' .. id)
  waiters.answer(c, w.gateway, ticket .. ' ' .. id)
end
