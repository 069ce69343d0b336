-- bucketed_vms: moving the VMs of the bucketed layout (vmreserve up to commit c78e0e9) to
-- hashes of their own, in parts (init_pool.lua). That layout kept a VM as one field of a bucket
-- hash P:records:<first 3 or 4 characters of its id>, those buckets listed in the zset
-- P:buckets; the record was 18 values joined by '|' (below; machine_id with '%' and '|' as
-- %25 and %7C, error last and free to hold '|'); available VMs in lists P:free:<size> (with
-- stale entries); addresses in hashes P:ips:<last 12 bits> and P:ips:<last 12 bits>:<4 bits
-- before>. Counts, leases, jobs, waiters and events are the same in both layouts.
-- uses: available, ips, sizes, vms

local FIELDS = {'status', 'ip', 'created_at', 'size', 'cpu', 'memory_mb', 'user', 'checked_out_at', 'lease_expires_at',
                'lease_seconds', 'claim_ticket', 'available_since', 'job', 'job_claim', 'job_worker', 'failures',
                'machine_id', 'error'}
local RECORD_PATTERN = '^' .. ('([^|]*)|'):rep(#FIELDS - 1) .. '(.*)$'

-- VM `id` of record `text` as a map (vms.load's form), with available_since apart.
local function decode(id, text)
  local values, vm = {text:match(RECORD_PATTERN)}, {id = id}
  for i, field in ipairs(FIELDS) do
    if values[i] and values[i] ~= '' then vm[field] = values[i] end
  end
  if vm.machine_id then vm.machine_id = vm.machine_id:gsub('%%7C', '|'):gsub('%%25', '%%') end
  local since = vm.available_since
  vm.available_since = nil
  return vm, since
end

-- The old index bucket, and its part, of address `ip`.
local function old_ip_keys(c, ip)
  local a, b = ip:match('(%d+)%.(%d+)$')
  if not a then return c.k.prefix .. ':ips:other', nil end
  a = tonumber(a) % 256
  local bucket = c.k.prefix .. ':ips:' .. ((a % 16) * 256 + tonumber(b))
  return bucket, bucket .. ':' .. math.floor(a / 16)
end

local function move_one(c, id, text, t)
  local vm, since = decode(id, text)
  local changes = {}
  for field, value in pairs(vm) do
    if field ~= 'id' then changes[field] = value end
  end
  vms.update(c, vms.new(id), changes)
  if vm.status == 'available' then
    redis.call('SADD', available.key(c, vm.size), id)
    if available.indexed(c) then redis.call('ZADD', c.k.idle, since or t, id) end
  end
  if vm.ip then
    local bucket, part = old_ip_keys(c, vm.ip)
    redis.call('HDEL', bucket, vm.ip)
    if part then redis.call('HDEL', part, vm.ip) end
    ips.index(c, vm.ip, id)
  end
  if vm.status == 'checked-out' and vm.user then
    if vm.size and redis.call('EXISTS', c.k.user .. vm.user) == 1 then
      redis.call('HINCRBY', c.k.user .. vm.user, 'held:' .. vm.size, '1')
    end
    if vm.lease_expires_at then redis.call('ZADD', c.k.held_leases .. vm.user, vm.lease_expires_at, id) end
  end
end

-- Moves up to `batch` VMs of the record buckets (t: now, for an available VM without a time);
-- answers how many were moved, and whether any are left.
function bucketed_vms.move(c, batch, t)
  local buckets = c.k.prefix .. ':buckets'
  local moved = 0
  while moved < batch do
    local bucket = redis.call('ZRANGE', buckets, 0, 0)[1]
    if not bucket then break end
    local key = c.k.prefix .. ':records:' .. bucket
    local flat = redis.call('HGETALL', key)
    for i = 1, math.min(#flat, (batch - moved) * 2), 2 do
      move_one(c, flat[i], flat[i + 1], t)
      redis.call('HDEL', key, flat[i])
      moved = moved + 1
    end
    if redis.call('EXISTS', key) == 0 then redis.call('ZREM', buckets, bucket) end
  end
  return moved, redis.call('EXISTS', buckets) == 1
end

-- Whether the pool still has VMs of the bucketed layout.
function bucketed_vms.present(c) return redis.call('EXISTS', c.k.prefix .. ':buckets') == 1 end

-- Deletes the free lists (every VM of them moved) and the layout's pool fields.
function bucketed_vms.clear(c)
  local keys = {c.k.prefix .. ':free:'}
  for _, size in ipairs(sizes.names(c)) do keys[#keys + 1] = c.k.prefix .. ':free:' .. size end
  redis.call('DEL', unpack(keys))
  redis.call('HDEL', c.k.pool, 'bucket_split_at', 'time_unit')
end
