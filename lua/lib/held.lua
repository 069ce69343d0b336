-- held: what each user holds, kept so that no rule has to read it all: P:held:<name>, the set
-- of the ids of the VMs they hold; the counts by size in their user hash (held:<size>); and
-- P:held_leases:<name>, a zset of those VMs' lease ends (ms), which finds their leases that ran
-- out without looking at the others (leases.start and leases.stop keep it).
-- uses: (none)

-- Records that `name` holds `vm`; u: their user map (nil for a principal, who has no counts).
function held.add(c, name, vm, u)
  redis.call('SADD', c.k.held .. name, vm.id)
  if u and vm.size then redis.call('HINCRBY', c.k.user .. name, 'held:' .. vm.size, '1') end
end

-- Records that `name` no longer holds `vm`.
function held.remove(c, name, vm)
  redis.call('SREM', c.k.held .. name, vm.id)
  local user_key = c.k.user .. name
  if vm.size and redis.call('EXISTS', user_key) == 1 then redis.call('HINCRBY', user_key, 'held:' .. vm.size, '-1') end
end

-- How many VMs `name` holds.
function held.count(c, name) return redis.call('SCARD', c.k.held .. name) end

-- How many VMs of `size` user `name` holds.
function held.count_of_size(c, name, size)
  return tonumber(redis.call('HGET', c.k.user .. name, 'held:' .. size)) or 0
end

-- The ids of the VMs `name` holds, sorted.
function held.ids(c, name)
  local ids = redis.call('SMEMBERS', c.k.held .. name)
  table.sort(ids)
  return ids
end
