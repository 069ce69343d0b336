-- available: the sets P:available:<size> (P:available: for VMs without a size, from pools
-- without a catalog) hold exactly the VMs whose status is `available`; a checkout takes a VM
-- with SPOP. A pool whose gateways run idle cleanup also keeps the idle index: the zset P:idle
-- scores each available VM by when it became available (ms), so that the longest idle are found
-- without a scan. Its pool field `idle_index` is `on` once the index is whole, or `building
-- <n> <cursor>` while init_pool builds it (available.build_index); without the field there is
-- no index, and no checkout or checkin pays for one (BENCHMARKS.md). status.change keeps both.
-- uses: clock, sizes

function available.key(c, size) return c.k.available .. (size or '') end

-- Whether the pool keeps the idle index (whole or being built); read once per call.
function available.indexed(c)
  if c.indexed == nil then c.indexed = redis.call('HEXISTS', c.k.pool, 'idle_index') == 1 end
  return c.indexed
end

-- `vm` became available now.
function available.add(c, vm)
  redis.call('SADD', available.key(c, vm.size), vm.id)
  if available.indexed(c) then redis.call('ZADD', c.k.idle, clock.text(c, clock.now(c)), vm.id) end
end

-- `vm` is no longer available.
function available.remove(c, vm)
  redis.call('SREM', available.key(c, vm.size), vm.id)
  if available.indexed(c) then redis.call('ZREM', c.k.idle, vm.id) end
end

-- The id of an available VM of `size`, taken out of the set (SPOP) and the idle index; nil when
-- none is. The caller changes its status (status.change with `taken`).
function available.pop(c, size)
  local id = redis.call('SPOP', available.key(c, size))
  if id and available.indexed(c) then redis.call('ZREM', c.k.idle, id) end
  return id
end

-- The ids of up to `n` available VMs that became available at `before` (ms) or earlier, the
-- longest available first; none while the idle index is not whole.
function available.idle_since(c, before, n)
  if redis.call('HGET', c.k.pool, 'idle_index') ~= 'on' then return {} end
  return redis.call('ZRANGEBYSCORE', c.k.idle, '-inf', clock.text(c, before), 'LIMIT', '0', n)
end

-- Starts the idle index of a pool that has none (a gateway with idle cleanup came): whole at
-- once when no VM is available, else to be built (available.build_index).
function available.start_index(c)
  if available.indexed(c) then return end
  local none = (tonumber(redis.call('HGET', c.k.pool, 'count:available')) or 0) == 0
  redis.call('HSET', c.k.pool, 'idle_index', none and 'on' or 'building 1 0')
  c.indexed = true
end

-- Adds up to about `batch` available VMs to the idle index being built, as available from now
-- (when they became so is not known; those a change has indexed meanwhile keep their time), the
-- sets of the catalog's sizes and then P:available: in turn, SSCAN by SSCAN. Answers true while
-- some are left; the index is `on` after the last.
function available.build_index(c, batch)
  local state = redis.call('HGET', c.k.pool, 'idle_index') or 'on'
  local n, cursor = state:match('^building (%d+) (%d+)$')
  if not n then return false end
  n = tonumber(n)
  local names = sizes.names(c)
  names[#names + 1] = ''
  local added, now = 0, clock.text(c, clock.now(c))
  while names[n] and added < batch do
    local page = redis.call('SSCAN', available.key(c, names[n]), cursor, 'COUNT', batch)
    cursor = page[1]
    for _, id in ipairs(page[2]) do redis.call('ZADD', c.k.idle, 'NX', now, id) end
    added = added + #page[2]
    if cursor == '0' then n = n + 1 end
  end
  redis.call('HSET', c.k.pool, 'idle_index', names[n] and ('building %d %s'):format(n, cursor) or 'on')
  return names[n] ~= nil
end
