-- pool: a pool's keys by name, a call's context, and the pool hash P:pool (settings and counts).
-- uses: (none)

-- Every key of a pool is its prefix P (with a Redis Cluster hash tag) and one of these
-- (lua/README.md, "Keys"); those ending in ':' are prefixes of per-VM, per-user or per-size keys.
local SUFFIXES = {
  pool = 'pool', vm = 'vm:', vms = 'vms', available = 'available:', idle = 'idle', user = 'user:',
  users = 'users', tokens = 'tokens', held = 'held:', held_leases = 'held_leases:', ips = 'ips',
  ipbits = 'ipbits', leases = 'leases', events = 'events', waiters = 'waiters', waiting = 'waiting',
  handoff = 'handoff:', jobs = 'jobs', reservation = 'reservation:', reservation_vms = 'reservation_vms:',
  reservations = 'reservations:', waiting_group = 'waiting_group:', set_aside = 'set_aside:', wait_claims = 'wait_claims',
}
-- The keys of each pool seen, by its P:pool key: the library's locals outlive a call, and
-- naming eighteen keys costs more than finding them made.
local known = {}

-- The keys of the pool whose declared keys are `declared` ({P:pool, P:vm:}), nil when they are
-- not those two.
function pool.keys(declared)
  if #declared ~= 2 then return nil end
  local k = known[declared[1]]
  if not k then
    local prefix = declared[1]:match('^(.+):pool$')
    if not prefix or declared[2] ~= prefix .. ':vm:' then return nil end
    k = {prefix = prefix}
    for name, suffix in pairs(SUFFIXES) do k[name] = prefix .. ':' .. suffix end
    known[declared[1]] = k
  end
  return declared[2] == k.vm and k or nil
end

-- A call's context, handed to every helper: k, the pool's keys; t and tt, Redis' time once read
-- (clock.now); serving, set while waiters are served (waiters.serve). nil for wrong keys.
function pool.context(declared)
  local k = pool.keys(declared)
  return k and {k = k}
end

-- A pool field's value (nil when unset).
function pool.get(c, field) return redis.call('HGET', c.k.pool, field) end

-- The pool counts its VMs in P:pool: `vm_count` all of them, `count:<status>` those in each
-- status but checked-out, whose count is the rest (one HINCRBY fewer per checkout and checkin).
local COUNT_FIELD = {provisioning = 'count:provisioning', available = 'count:available', error = 'count:error',
                     deprovisioning = 'count:deprovisioning', ['set-aside'] = 'count:set-aside'}

-- Counts one VM more (by '1') or fewer (by '-1') in `status`.
function pool.count(c, status, by)
  local field = COUNT_FIELD[status]
  if field then redis.call('HINCRBY', c.k.pool, field, by) end
end

function pool.vm_count(c) return tonumber(redis.call('HGET', c.k.pool, 'vm_count')) or 0 end
function pool.cap(c) return tonumber(redis.call('HGET', c.k.pool, 'max_vm_count')) or 0 end
function pool.available_count(c) return tonumber(redis.call('HGET', c.k.pool, 'count:available')) or 0 end
