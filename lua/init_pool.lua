-- init_pool.lua: seeds the VM cap and the IP pool when the pool has none yet (gateway start-up),
--   sets how VMs are provisioned and returned (every gateway of a pool must be configured alike),
--   and converts the leases of a pool from before times were milliseconds.
-- KEYS: the pool's seventeen keys, see README.md; uses: pool, vm, leases, events, ipbits, ips.
-- ARGV[1]: max_vm_count seed, whole number 0..1000000 (no identity). ARGV[2]: IP pool seed, a
--   CIDR block, used only when the pool has none yet, or "" (none). ARGV[3]: the size catalog
--   "name=cpu:memory_mb,...", used only when the pool has none yet, or "". ARGV[4]: provisioning,
--   "instant" or "jobs" ("" leaves it). ARGV[5]: on_return, "reuse", "reset" or "replace" ("" leaves
--   it). See "Provisioning" in _prelude.lua.
-- Returns: the pool's current max_vm_count (integer).
-- Errors: BAD_REQUEST.
return run(function()
  local seed = int_arg(1, 0, 1000000, 'max_vm_count')
  -- A pool written before times were milliseconds (no time_unit yet) has its leases converted,
  -- once, so that none ends early or late across the upgrade. (Older times in VM and user
  -- records are whole seconds below 10^11; the gateway reads them as such.)
  if redis.call('HGET', K.pool, 'time_unit') ~= 'ms' then
    local legacy = redis.call('ZRANGE', K.leases, 0, -1, 'WITHSCORES')
    for i = 1, #legacy, 2 do
      local id, expiry = legacy[i], tonumber(legacy[i + 1]) * 1000
      redis.call('ZADD', K.leases, expiry, id)
      redis.call('HSET', K.vm .. id, 'lease_expires_at', expiry)
    end
    redis.call('HSET', K.pool, 'time_unit', 'ms')
  end
  if redis.call('HSETNX', K.pool, 'max_vm_count', seed) == 1 then
    event('set_cap', 'system', {detail = 'max_vm_count ' .. seed .. ' (first start)'})
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
    event('set_ip_pool', 'system', {detail = 'ip_pool ' .. cidr .. ' (first start)'})
  end
  local mode, on_return = ARGV[4] or '', ARGV[5] or ''
  if mode ~= '' and mode ~= 'instant' and mode ~= 'jobs' then fail('BAD_REQUEST provisioning must be instant or jobs') end
  if on_return ~= '' and not RETURN_TO[on_return] then fail('BAD_REQUEST on_return must be reuse, reset or replace') end
  if mode ~= '' then redis.call('HSET', K.pool, 'provisioning', mode) end
  if on_return ~= '' then redis.call('HSET', K.pool, 'on_return', on_return) end
  return tonumber(redis.call('HGET', K.pool, 'max_vm_count'))
end)
