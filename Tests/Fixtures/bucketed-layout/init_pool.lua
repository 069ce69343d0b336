-- init_pool.lua: seeds the VM cap and the IP pool when the pool has none yet (gateway start-up),
--   sets how VMs are provisioned and returned (every gateway of a pool must be configured alike),
--   converts the leases of a pool from before times were milliseconds, and moves the VMs and
--   users of a pool from before their records were bucketed into buckets, a part per call (see
--   migrate_layout and migrate_users below).
-- KEYS: the pool's two, see README.md; uses: pool, records, buckets, free, ips, leases,
--   events, ipbits, accounts, names, name_buckets (and the keys of the earlier layout, derived from the pool's prefix).
-- ARGV[1]: max_vm_count seed, whole number 0..1000000 (no identity). ARGV[2]: IP pool seed, a
--   CIDR block, used only when the pool has none yet, or "" (none). ARGV[3]: the size catalog
--   "name=cpu:memory_mb,...", used only when the pool has none yet, or "". ARGV[4]: provisioning,
--   "instant" or "jobs" ("" leaves it). ARGV[5]: on_return, "reuse", "reset" or "replace" ("" leaves
--   it). See "Provisioning" in _prelude.lua.
-- Returns: the pool's current max_vm_count (integer); the status AGAIN while a migration has parts
--   left (call again).
-- Errors: BAD_REQUEST.

-- The earlier layouts are moved in parts of MIGRATION_BATCH VMs or users, one part per call
-- (some 20 µs per VM, so ~20 ms that Redis serves nothing else; the first call also converts
-- the leases, one ZADD and HSET per checked-out VM), and init_pool answers the status
-- AGAIN while any is left: the gateway calls it again at once (RedisClient's setup commands, and
-- ReservationStore.initializePool, repeat a step that answers AGAIN), and serves no request
-- before the answer is the cap. (Gateways of the earlier layouts must be stopped first; see
-- README.md.) What each part moved is counted in pool fields migrated:*, and one event sums up
-- each migration when its last part is done.
local MIGRATION_BATCH = 1000

-- A pool written before VM records were bucketed kept a hash per VM (P:vm:<id>), every id in the
-- zset P:vms, a set per status (P:status:<status>, and P:status:available:<size>), the addresses
-- in the hash P:ips and the idle index P:idle. This moves the next part of the VMs into the
-- present layout, and once none is left deletes those keys. An available VM's idle time counts
-- from now. Returns true while VMs are left.
local function migrate_layout(t, legacy)
  local ids = redis.call('ZRANGE', legacy .. 'vms', 0, MIGRATION_BATCH - 1)
  local sizes = {}
  for _, id in ipairs(ids) do
    local vm = record_map(redis.call('HGETALL', legacy .. 'vm:' .. id))
    local status = vm.status
    if status then
      vm.vm_id, vm.status = id, nil
      set_status(vm, status, t)
      save_vm(vm)
      redis.call('HINCRBY', K.pool, 'vm_count', 1)
      if vm.ip then index_ip(vm.ip, id) end
      if vm.size then sizes[#sizes + 1] = legacy .. 'status:available:' .. vm.size end
    end
    redis.call('DEL', legacy .. 'vm:' .. id)
    redis.call('ZREM', legacy .. 'vms', id)
  end
  if #sizes > 0 then redis.call('DEL', unpack(sizes)) end -- sets no part reads: each VM has its status
  split_buckets()
  redis.call('HINCRBY', K.pool, 'migrated:vms', #ids)
  if redis.call('EXISTS', legacy .. 'vms') == 1 then return true end
  local old_keys = {legacy .. 'ips', legacy .. 'idle'}
  for _, status in ipairs(STATUSES) do old_keys[#old_keys + 1] = legacy .. 'status:' .. status end
  redis.call('DEL', unpack(old_keys))
  local moved = redis.call('HGET', K.pool, 'migrated:vms')
  redis.call('HDEL', K.pool, 'migrated:vms')
  event('migrate', 'system', nil, nil, nil, nil, moved .. ' VMs moved to bucketed records')
  return false
end

-- A pool written before user records were bucketed kept a hash per user (P:user:<name>), every
-- name in the zset P:users and token hashes in the hash P:tokens. This moves the next part of the
-- users into the present layout (see "Users" in _prelude.lua), and once none is left deletes
-- those keys. A name already in the present layout keeps its record there, and a record without
-- a token (which never authenticated) is not moved; the event says how many of each. Returns
-- true while users are left.
local function migrate_users(legacy)
  local names = redis.call('ZRANGE', legacy .. 'users', 0, MIGRATION_BATCH - 1)
  local moved, kept, tokenless = 0, 0, 0
  for _, name in ipairs(names) do
    local u = record_map(redis.call('HGETALL', legacy .. 'user:' .. name))
    if not u.token or not u.name then
      tokenless = tokenless + 1
    elseif load_user(name) or redis.call('HEXISTS', account_bucket(u.token), u.token) == 1 then
      kept = kept + 1
    else
      save_user(u)
      moved = moved + 1
    end
    redis.call('DEL', legacy .. 'user:' .. name)
    redis.call('ZREM', legacy .. 'users', name)
  end
  redis.call('HINCRBY', K.pool, 'migrated:users', moved)
  redis.call('HINCRBY', K.pool, 'migrated:kept', kept)
  redis.call('HINCRBY', K.pool, 'migrated:tokenless', tokenless)
  if redis.call('EXISTS', legacy .. 'users') == 1 then return true end
  redis.call('DEL', legacy .. 'tokens')
  local counts = redis.call('HMGET', K.pool, 'migrated:users', 'migrated:kept', 'migrated:tokenless')
  redis.call('HDEL', K.pool, 'migrated:users', 'migrated:kept', 'migrated:tokenless')
  event('migrate', 'system', nil, nil, nil, nil,
        ('%s users moved to bucketed records, %s already there, %s without a token dropped'):format(unpack(counts)))
  return false
end

return run(function()
  local seed = int_arg(1, 0, 1000000, 'max_vm_count')
  local t = now()
  local legacy = K.pool:sub(1, -5) -- the pool's prefix and ':', for the keys of earlier layouts
  -- A pool written before times were milliseconds (no time_unit yet) has its leases converted,
  -- once, so that none ends early or late across the upgrade. (Older times in VM and user
  -- records are whole seconds below 10^11; the gateway reads them as such.) Such a pool also
  -- has the earlier layout, converted next.
  if redis.call('HGET', K.pool, 'time_unit') ~= 'ms' then
    local leases = redis.call('ZRANGE', K.leases, 0, -1, 'WITHSCORES')
    for i = 1, #leases, 2 do
      local id, expiry = leases[i], tonumber(leases[i + 1]) * 1000
      redis.call('ZADD', K.leases, expiry, id)
      redis.call('HSET', legacy .. 'vm:' .. id, 'lease_expires_at', expiry)
    end
    redis.call('HSET', K.pool, 'time_unit', 'ms')
  end
  local legacy_users = redis.call('EXISTS', legacy .. 'users') == 1
  if redis.call('EXISTS', legacy .. 'vms') == 1 then
    if migrate_layout(t, legacy) or legacy_users then return redis.status_reply('AGAIN') end -- users: next call
  elseif legacy_users then
    if migrate_users(legacy) then return redis.status_reply('AGAIN') end
  else -- counts of a migration that a gateway of the one-call kind finished
    redis.call('HDEL', K.pool, 'migrated:vms', 'migrated:users', 'migrated:kept', 'migrated:tokenless')
  end
  if redis.call('HSETNX', K.pool, 'max_vm_count', seed) == 1 then
    event('set_cap', 'system', nil, nil, nil, nil, 'max_vm_count ' .. seed .. ' (first start)')
  end
  local sizes = ARGV[3] or ''
  if sizes ~= '' then
    for entry in (sizes .. ','):gmatch('([^,]*),') do
      if not entry:match('^[%w_-]+=%d+:%d+$') then fail('BAD_REQUEST sizes must be name=cpu:memory_mb,...') end
    end
    redis.call('HSETNX', K.pool, 'sizes', sizes)
  end
  local cidr = ARGV[2] or ''
  if cidr ~= '' and not redis.call('HGET', K.pool, 'ip_pool') then
    configure_ip_pool(cidr)
    event('set_ip_pool', 'system', nil, nil, nil, nil, 'ip_pool ' .. cidr .. ' (first start)')
  end
  local mode, on_return = ARGV[4] or '', ARGV[5] or ''
  if mode ~= '' and mode ~= 'instant' and mode ~= 'jobs' then fail('BAD_REQUEST provisioning must be instant or jobs') end
  if on_return ~= '' and not RETURN_TO[on_return] then fail('BAD_REQUEST on_return must be reuse, reset or replace') end
  if mode ~= '' then redis.call('HSET', K.pool, 'provisioning', mode) end
  if on_return ~= '' then redis.call('HSET', K.pool, 'on_return', on_return) end
  return tonumber(redis.call('HGET', K.pool, 'max_vm_count'))
end)
