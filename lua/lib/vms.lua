-- vms: one hash per VM, P:vm:<id>, with named fields (a field that is not set is absent):
--   status, ip, size, cpu, memory_mb, created_at (ms), and while checked out user,
--   checked_out_at (ms), lease_expires_at (ms) and lease_seconds (with a lease), claim_ticket
--   (handed to a waiting checkout, until claimed); machine_id and error from the provider; job,
--   job_claim, job_worker and failures while the provider has work for it (see jobs);
--   reservation (the id of the reservation it belongs to, see reservations); set_aside_for (the
--   id a waiting reservation will have, while the VM is set aside for it, see group_waiters).
-- P:vms, a zset of every id with score 0, lists them in id order (list_vms.lua).
-- A VM in a script is the map of its fields plus `id`.
-- uses: hashes

-- The fields scripts answer, in this order (Sources/Reservations/VMRecord.swift reads them).
local FIELDS = {'status', 'ip', 'size', 'cpu', 'memory_mb', 'user', 'checked_out_at', 'lease_expires_at',
                'lease_seconds', 'created_at', 'machine_id', 'error', 'claim_ticket', 'job', 'job_claim',
                'job_worker', 'failures', 'reservation', 'set_aside_for'}

-- VM `id` as a map (see above), nil when there is none.
function vms.load(c, id)
  local vm = hashes.read(c.k.vm .. id)
  if vm then vm.id = id end
  return vm
end

function vms.exists(c, id) return redis.call('EXISTS', c.k.vm .. id) == 1 end

-- Applies `changes` (field → text, or false to unset it; fields of FIELDS) to `vm` and its
-- hash: one HSET, and one HDEL when some field is unset. A new VM (vms.new) is listed in P:vms,
-- its fields written in FIELDS' order, so that its HGETALL reads status first.
function vms.update(c, vm, changes)
  local set, unset, n = {}, {}, 0
  if vm.new then
    for _, field in ipairs(FIELDS) do
      if changes[field] then set[n + 1], set[n + 2], n = field, changes[field], n + 2 end
    end
    redis.call('ZADD', c.k.vms, '0', vm.id)
    vm.new = nil
  else
    for field, value in pairs(changes) do
      if value then
        set[n + 1], set[n + 2], n = field, value, n + 2
      elseif vm[field] then
        unset[#unset + 1] = field
      end
    end
  end
  for field, value in pairs(changes) do vm[field] = value or nil end
  if n > 0 then redis.call('HSET', c.k.vm .. vm.id, unpack(set, 1, n)) end
  if #unset > 0 then redis.call('HDEL', c.k.vm .. vm.id, unpack(unset)) end
end

-- A VM not stored yet: status.change (or vms.update) stores it with its first fields.
function vms.new(id) return {id = id, new = true} end

-- Deletes VM `vm`'s hash and its entry in P:vms (the caller undoes every other index).
function vms.delete(c, vm)
  redis.call('DEL', c.k.vm .. vm.id)
  redis.call('ZREM', c.k.vms, vm.id)
end

-- A VM as scripts answer it: {id, field, value, field, value, ...}, the fields set, in FIELDS' order.
function vms.reply(vm)
  local out = {vm.id}
  for _, field in ipairs(FIELDS) do
    local value = vm[field]
    if value then out[#out + 1], out[#out + 2] = field, value end
  end
  return out
end
