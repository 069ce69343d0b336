-- reservations: several VMs checked out as one (reserve.lua), all or none, and renewed and
-- returned together. P:reservation:<id> is a hash (user, created_at in ms, with a lease
-- lease_seconds and lease_expires_at, the same as each of its VMs', and claim_ticket while it
-- is handed to a waiting request that has not claimed it yet, see group_waiters); P:reservation_vms:<id> the
-- set of the ids of its VMs still held; P:reservations:<name> the set of the reservations `name`
-- holds. Each of its VMs names it in its field `reservation`. A reservation ends with its last
-- VM: each VM may be checked in alone (checkouts.release drops it), and a lease that runs out
-- returns every VM of the reservation at once (leases.expire).
-- uses: checkouts, errors, leases, vms

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

-- Gives every VM of reservation `r` (reservations.load), held by `name`, and the reservation a
-- lease of `lease` seconds from t (nil: none); each(vm, changes), when given, may add to each
-- VM's changes before they are written.
function reservations.set_lease(c, r, name, t, lease, each)
  local ends
  for _, vm_id in ipairs(r.vms) do
    local vm, changes = vms.load(c, vm_id), {lease_expires_at = false, lease_seconds = false}
    leases.stop(c, vm)
    if lease then leases.start(c, vm, name, t, lease, changes) end
    if each then each(vm, changes) end
    vms.update(c, vm, changes)
    ends = changes.lease_expires_at
  end
  if lease then
    redis.call('HSET', c.k.reservation .. r.id, 'lease_seconds', tostring(lease), 'lease_expires_at', ends)
  else
    redis.call('HDEL', c.k.reservation .. r.id, 'lease_seconds', 'lease_expires_at')
  end
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

-- Returns every VM of reservation `r` (reservations.load) to the pool, as event `action` by
-- `actor`; a reservation handed to a waiting request that never claimed it takes its ticket along.
function reservations.release(c, r, action, actor)
  if r.claim_ticket then redis.call('HDEL', c.k.waiting, r.claim_ticket) end -- (handed, never claimed)
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
