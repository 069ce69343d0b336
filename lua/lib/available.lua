-- available: the sets P:available:<size> (P:available: for VMs without a size, from pools
-- without a catalog) hold exactly the VMs whose status is `available`, and the zset P:idle
-- scores each of them by when it became available (ms), for idle cleanup. A checkout takes a
-- VM with SPOP. status.change keeps both.
-- uses: clock

function available.key(c, size) return c.k.available .. (size or '') end

-- `vm` became available now.
function available.add(c, vm)
  redis.call('SADD', available.key(c, vm.size), vm.id)
  redis.call('ZADD', c.k.idle, clock.text(c, clock.now(c)), vm.id)
end

-- `vm` is no longer available.
function available.remove(c, vm)
  redis.call('SREM', available.key(c, vm.size), vm.id)
  redis.call('ZREM', c.k.idle, vm.id)
end

-- The id of an available VM of `size`, taken out of the set (SPOP) and P:idle; nil when none is.
-- The caller changes its status (status.change with `taken`).
function available.pop(c, size)
  local id = redis.call('SPOP', available.key(c, size))
  if id then redis.call('ZREM', c.k.idle, id) end
  return id
end

-- The ids of up to `n` available VMs that became available at `before` (ms) or earlier, the
-- longest available first.
function available.idle_since(c, before, n)
  return redis.call('ZRANGEBYSCORE', c.k.idle, '-inf', clock.text(c, before), 'LIMIT', '0', n)
end
