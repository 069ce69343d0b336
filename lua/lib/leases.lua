-- leases: a checked-out VM may have a lease, which ends exactly lease_seconds after its
-- checkout or renewal, in ms on Redis' clock, never earlier. P:leases scores every VM with a
-- lease by its end; P:held_leases:<name> does the same for the VMs of one holder (see held).
-- Leases that ran out come back two ways: every gateway's reaper runs reap_leases.lua when the
-- next lease ends (at least once a second), and every script that shows or changes
-- reservations first returns those that ran out (leases.reclaim_* below), so that no answer
-- shows an ended lease as held. Both are atomic, so a VM is never returned twice.
-- uses: args, checkouts, clock, errors, ips, reservations, vms

-- No lease, default or maximum is longer than a year.
leases.LIMIT = 31536000
-- How many of the leases that expired first every such script returns (a backlog drains over
-- the next calls).
local RECLAIM_BATCH = '100'

-- The lease, in seconds, that a checkout or a renewal gives: argv[i] (seconds, "" for none),
-- else `fallback` (a renewal's previous length), else the gateway's default argv[i + 1] ("" for
-- none); nil means no lease. It is bounded by the caller's maximum: limits.max_lease (their
-- own, users.limits) or else the gateway's argv[i + 2]. Asking for more is BAD_REQUEST; a
-- fallback or default above the maximum is cut to it.
function leases.arg(argv, i, fallback, limits)
  local requested = args.int(argv, i, 1, leases.LIMIT, 'lease_seconds', true)
  local default = args.int(argv, i + 1, 1, leases.LIMIT, 'default lease', true)
  local max = limits.max_lease or args.int(argv, i + 2, 1, leases.LIMIT, 'maximum lease')
  local lease = requested or fallback or default
  if lease and lease > max then
    if requested then errors.fail(('BAD_REQUEST the longest lease you may ask for is %d seconds'):format(max)) end
    lease = max
  end
  return lease
end

-- Gives `vm`, held by `holder`, a lease of `lease` seconds from time t: indexes it, and adds
-- its fields to `changes` (the caller writes them, see vms.update).
function leases.start(c, vm, holder, t, lease, changes)
  local ends = clock.text(c, t + lease * 1000)
  changes.lease_expires_at, changes.lease_seconds = ends, tostring(lease)
  redis.call('ZADD', c.k.leases, ends, vm.id)
  redis.call('ZADD', c.k.held_leases .. holder, ends, vm.id)
end

-- Drops `vm`'s lease, if it has one, from the indexes (its fields are the caller's to unset).
function leases.stop(c, vm)
  if not vm.lease_expires_at then return end
  redis.call('ZREM', c.k.leases, vm.id)
  if vm.user then redis.call('ZREM', c.k.held_leases .. vm.user, vm.id) end
end

-- A lease that ran out: VM `id` (vm: its map, when loaded) returns to the pool, by no one's
-- request; a VM of a reservation returns with every other VM of it (their leases end together).
function leases.expire(c, id, vm)
  vm = vm or vms.load(c, id)
  local r = vm and vm.reservation and reservations.load(c, vm.reservation)
  if r then return reservations.release(c, r, 'lease_expired', 'system') end
  if vm then return checkouts.release(c, vm, 'lease_expired', 'system') end
  redis.call('ZREM', c.k.leases, id)
end

-- Returns VM `id` if its lease ended by time t.
function leases.reclaim_vm(c, t, id)
  local ends = redis.call('ZSCORE', c.k.leases, id)
  if ends and tonumber(ends) <= t then leases.expire(c, id) end
end

-- Returns the batch of VMs whose leases expired first, by time t (each checked again: returning
-- one may hand another of the batch to a waiter, with a new lease).
function leases.reclaim_expired(c, t)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', c.k.leases, '-inf', clock.text(c, t), 'LIMIT', '0', RECLAIM_BATCH)) do
    leases.reclaim_vm(c, t, id)
  end
end

-- Returns every VM of `name` whose lease ended by time t; looks at no other VM of theirs.
function leases.reclaim_held(c, t, name)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', c.k.held_leases .. name, '-inf', clock.text(c, t))) do
    leases.reclaim_vm(c, t, id)
  end
end

-- Reads Redis' clock, returns the batch of leases expired by then (reclaim_expired), answers the time.
function leases.now_reclaimed(c)
  local t = clock.now(c)
  leases.reclaim_expired(c, t)
  return t
end

-- The VM named by id and/or ip (both given: must be the same VM) → id, map. If its lease ran
-- out by time t, it is returned to the pool first. Errors: VM_NOT_FOUND.
function leases.locate(c, id, ip, t)
  if ip ~= '' then
    local by_ip = ips.owner(c, ip)
    if by_ip and (id == '' or id == by_ip) then id = by_ip else id = '' end
  end
  local vm = id ~= '' and vms.load(c, id)
  if not vm then errors.fail('VM_NOT_FOUND Could not find a vm with given details') end
  local ends = tonumber(vm.lease_expires_at)
  if ends and ends <= t then leases.expire(c, id, vm) end
  return id, vm
end
