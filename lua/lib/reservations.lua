-- reservations: several VMs checked out as one (reserve.lua), all or none, and renewed and
-- returned together. P:reservation:<id> is a hash (user, created_at in ms, and with a lease
-- lease_seconds and lease_expires_at, the same as each of its VMs'); P:reservation_vms:<id> the
-- set of the ids of its VMs still held; P:reservations:<name> the set of the reservations `name`
-- holds. Each of its VMs names it in its field `reservation`. A reservation ends with its last
-- VM: each VM may be checked in alone (checkouts.release drops it), and a lease that runs out
-- returns every VM of the reservation at once (leases.expire).
-- uses: args, available, checkouts, errors, held, leases, pool, sizes, users, vms

-- The most VMs one reservation may hold.
reservations.MOST = 100

-- The groups asked for in argv[i]: "size:count,size:count" ("" size: any), each count 1..MOST,
-- a size at most once, as a list of {size, count}, and their total. Errors: BAD_REQUEST.
function reservations.groups(c, argv, i)
  local list, seen, total = {}, {}, 0
  for size, count in (argv[i] or ''):gmatch('([^:,]*):([^,]*)') do
    sizes.arg(c, {size}, 1)
    local n = args.int({count}, 1, 1, reservations.MOST, 'count')
    if seen[size] then errors.fail('BAD_REQUEST a size may be asked for once: ' .. (size == '' and 'any' or size)) end
    seen[size], total = true, total + n
    list[#list + 1] = {size = size, count = n}
  end
  if total == 0 then errors.fail('BAD_REQUEST ask for at least one VM') end
  if total > reservations.MOST then errors.fail(('BAD_REQUEST a reservation holds at most %d VMs'):format(reservations.MOST)) end
  return list, total
end

-- The size of each VM to take for `groups` (total `total`), for `name` (user map u) at time t: the
-- sizes asked for by name first, then any size the caller has room for, in the catalog's order,
-- then VMs without a size; nil when the pool has too few available. Nothing is changed.
-- Errors: INVALID_STATE (more than the cap could ever hold), QUOTA_EXCEEDED (the whole group
-- counted, checked first; the caller's own leases that ran out do not count).
function reservations.plan(c, name, u, default_quota, groups, total, t)
  local cap = pool.cap(c)
  if total > cap then errors.fail(('INVALID_STATE %d VMs are more than the pool can ever hold (%d)'):format(total, cap)) end
  local limits = users.limits(u)
  local quota, per_size = limits.quota or default_quota, limits.size_quotas or {}
  leases.reclaim_held(c, t, name)
  if held.count(c, name) + total > quota then
    errors.fail(('QUOTA_EXCEEDED %d more VMs would pass your quota of %d'):format(total, quota))
  end
  local room, left = {}, {}
  local function room_of(s)
    if room[s] == nil then room[s] = per_size[s] and per_size[s] - held.count_of_size(c, name, s) or math.huge end
    return room[s]
  end
  local function left_of(s)
    if left[s] == nil then left[s] = redis.call('SCARD', available.key(c, s)) end
    return left[s]
  end
  local picks, any = {}, 0
  for _, group in ipairs(groups) do
    if group.size == '' then
      any = group.count
    else
      if group.count > room_of(group.size) then
        errors.fail(('QUOTA_EXCEEDED %d more %s VMs would pass your quota of %d'):format(group.count, group.size, per_size[group.size]))
      end
      if group.count > left_of(group.size) then return nil end
      left[group.size], room[group.size] = left[group.size] - group.count, room[group.size] - group.count
      for _ = 1, group.count do picks[#picks + 1] = group.size end
    end
  end
  local order = sizes.names(c)
  order[#order + 1] = ''
  for _, s in ipairs(order) do
    local n = math.min(any, left_of(s), room_of(s))
    for _ = 1, n do picks[#picks + 1] = s end
    any = any - n
  end
  return any == 0 and picks or nil
end

-- Stores reservation `id` of `name`, created at t with `lease` seconds (nil: none), holding `taken`.
function reservations.create(c, id, name, t, lease, taken)
  local fields = {'user', name, 'created_at', tostring(t)}
  if lease then
    fields[#fields + 1], fields[#fields + 2] = 'lease_seconds', tostring(lease)
    fields[#fields + 1], fields[#fields + 2] = 'lease_expires_at', taken[1].lease_expires_at
  end
  redis.call('HSET', c.k.reservation .. id, unpack(fields))
  local ids = {}
  for i, vm in ipairs(taken) do ids[i] = vm.id end
  redis.call('SADD', c.k.reservation_vms .. id, unpack(ids))
  redis.call('SADD', c.k.reservations .. name, id)
end

-- Reservation `id` as a map (its fields, `id`, and `vms`: its VMs' ids, sorted); nil when none.
function reservations.load(c, id)
  local flat = redis.call('HGETALL', c.k.reservation .. id)
  if #flat == 0 then return nil end
  local r = {id = id, vms = redis.call('SMEMBERS', c.k.reservation_vms .. id)}
  for i = 1, #flat, 2 do r[flat[i]] = flat[i + 1] end
  table.sort(r.vms)
  return r
end

-- Reservation `id` as the caller may see it: the caller's own, or any for an admin; else
-- RESERVATION_NOT_FOUND, as for one that does not exist.
function reservations.visible(c, id, name, role)
  local r = reservations.load(c, id)
  if not r or (r.user ~= name and role ~= 'admin') then
    errors.fail('RESERVATION_NOT_FOUND Could not find a reservation with given details')
  end
  return r
end

-- `vm` leaves reservation `id`; the reservation ends with its last VM.
function reservations.drop(c, id, vm)
  redis.call('SREM', c.k.reservation_vms .. id, vm.id)
  if redis.call('SCARD', c.k.reservation_vms .. id) > 0 then return end
  local holder = redis.call('HGET', c.k.reservation .. id, 'user')
  redis.call('DEL', c.k.reservation .. id)
  if holder then redis.call('SREM', c.k.reservations .. holder, id) end
end

-- Returns every VM of reservation `r` (reservations.load) to the pool, as event `action` by `actor`.
function reservations.release(c, r, action, actor)
  for _, id in ipairs(r.vms) do
    local vm = vms.load(c, id)
    if vm then checkouts.release(c, vm, action, actor) end
  end
end

-- A reservation as scripts answer it: {id, field, value, ... (user, created_at, and
-- lease_seconds, lease_expires_at when it has a lease), {VM, VM, ...}} (VMs as vms.reply, as
-- they are now: after reservations.release, returned).
function reservations.reply(c, r)
  local out = {r.id}
  for _, field in ipairs({'user', 'created_at', 'lease_seconds', 'lease_expires_at'}) do
    if r[field] then out[#out + 1], out[#out + 2] = field, r[field] end
  end
  local list = {}
  for _, id in ipairs(r.vms) do
    local vm = vms.load(c, id)
    if vm then list[#list + 1] = vms.reply(vm) end
  end
  out[#out + 1] = list
  return out
end
