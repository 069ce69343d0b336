-- init_pool.lua: the first script every gateway runs on a pool (gateway start-up, every new
--   connection): moves a pool of the bucketed layout to this one, a part per call; seeds the
--   VM cap, the IP pool and the size catalog when the pool has none yet; and sets how VMs are
--   provisioned and returned (every gateway of a pool must be configured alike).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: max_vm_count seed, whole number 0..1000000 (no identity). ARGV[2]: IP pool seed, a
--   CIDR block, used only when the pool has none yet, or "" (none). ARGV[3]: the size catalog
--   "name=cpu:memory_mb,...", used only when the pool has none yet, or "". ARGV[4]: provisioning,
--   "instant" or "jobs" ("" leaves it). ARGV[5]: on_return, "reuse", "reset" or "replace" ("" leaves
--   it). See lib/jobs.lua. ARGV[6]: "idle" when the gateway runs idle cleanup: the pool keeps the
--   idle index from then on (built in parts when VMs are available already, see
--   lib/available.lua), else "".
-- Returns: the pool's current max_vm_count (integer); the status AGAIN while a move or the idle
--   index has parts left (the gateway calls again at once, and serves no request before the
--   answer is the cap).
-- Errors: BAD_REQUEST; INVALID_STATE for a pool this version cannot read (a layout older than
--   the bucketed one, or one a newer gateway wrote).
-- uses: args, available, bucketed_users, bucketed_vms, clock, errors, events, ip_block, jobs, pool

-- The layout this version writes, in the pool field `layout`.
local LAYOUT = 'hashes'
-- VMs or users moved per call: some 30 µs each, so ~30 ms that Redis serves nothing else.
local BATCH = 1000

-- Moves the next part of a bucketed pool (users first, so that their counts by size can be kept
-- as their VMs move); true while parts are left. Counts what moved in pool fields moved:*, and
-- sums them up in one event when done.
local function move_bucketed(c)
  if bucketed_users.present(c) then
    redis.call('HINCRBY', c.k.pool, 'moved:users', bucketed_users.move(c, BATCH))
    return true -- (VMs from the next call on)
  end
  if bucketed_vms.present(c) then
    local moved, left = bucketed_vms.move(c, BATCH, clock.now(c))
    redis.call('HINCRBY', c.k.pool, 'moved:vms', moved)
    if left then return true end
  end
  bucketed_users.clear(c)
  bucketed_vms.clear(c)
  local counts = redis.call('HMGET', c.k.pool, 'moved:vms', 'moved:users')
  redis.call('HDEL', c.k.pool, 'moved:vms', 'moved:users')
  events.append(c, 'migrate', 'system', nil, nil, nil, nil,
                ('%d VMs and %d users moved to hashes of their own'):format(tonumber(counts[1]) or 0, tonumber(counts[2]) or 0))
  return false
end

-- Brings the pool to LAYOUT; true while parts are left. A pool without a layout field is new
-- (no pool hash), or of the bucketed layout (its pool hash has time_unit ms), whose move the
-- field then says ('bucketed') until it is done. With `idle`, an idle index is kept from the
-- start, so that the VMs moved keep when they became available. Errors: INVALID_STATE.
local function upgrade(c, idle)
  local layout = pool.get(c, 'layout')
  if layout == LAYOUT then return false end
  if not layout then
    local p = c.k.prefix
    if redis.call('EXISTS', c.k.pool) == 0 then
      redis.call('HSET', c.k.pool, 'layout', LAYOUT)
      if idle then available.start_index(c) end
      return false
    end
    if pool.get(c, 'time_unit') ~= 'ms' or redis.call('EXISTS', p .. ':vms', p .. ':users', p .. ':tokens') > 0 then
      errors.fail('INVALID_STATE this pool was written by a vmreserve from before bucketed records (2026); start one '
                  .. 'gateway of the version of commit c78e0e9 on it once to move it, then this version')
    end
    layout = 'bucketed'
    redis.call('HSET', c.k.pool, 'layout', layout)
    if idle then redis.call('HSET', c.k.pool, 'idle_index', 'on') end -- (no VM of this layout yet)
  end
  if layout ~= 'bucketed' then
    errors.fail('INVALID_STATE this pool has the layout ' .. layout .. ', which a newer vmreserve wrote; run that version')
  end
  if move_bucketed(c) then return true end
  redis.call('HSET', c.k.pool, 'layout', LAYOUT)
  return false
end

return errors.run(KEYS, function(c)
  local seed = args.int(ARGV, 1, 0, 1000000, 'max_vm_count')
  local sizes = ARGV[3] or ''
  for entry in (sizes ~= '' and sizes .. ',' or ''):gmatch('([^,]*),') do
    if not entry:match('^[%w_-]+=%d+:%d+$') then errors.fail('BAD_REQUEST sizes must be name=cpu:memory_mb,...') end
  end
  local mode, on_return = ARGV[4] or '', ARGV[5] or ''
  if mode ~= '' and mode ~= 'instant' and mode ~= 'jobs' then errors.fail('BAD_REQUEST provisioning must be instant or jobs') end
  if on_return ~= '' and not jobs.RETURN_TO[on_return] then errors.fail('BAD_REQUEST on_return must be reuse, reset or replace') end
  local idle = ARGV[6] or ''
  if idle ~= '' and idle ~= 'idle' then errors.fail('BAD_REQUEST the sixth argument must be idle or nothing') end
  if upgrade(c, idle == 'idle') then return redis.status_reply('AGAIN') end
  if idle == 'idle' then
    available.start_index(c)
    if available.build_index(c, BATCH) then return redis.status_reply('AGAIN') end
  end
  if redis.call('HSETNX', c.k.pool, 'max_vm_count', seed) == 1 then
    events.append(c, 'set_cap', 'system', nil, nil, nil, nil, 'max_vm_count ' .. seed .. ' (first start)')
  end
  if sizes ~= '' then redis.call('HSETNX', c.k.pool, 'sizes', sizes) end
  local cidr = ARGV[2] or ''
  if cidr ~= '' and not pool.get(c, 'ip_pool') then
    ip_block.configure(c, cidr)
    events.append(c, 'set_ip_pool', 'system', nil, nil, nil, nil, 'ip_pool ' .. cidr .. ' (first start)')
  end
  if mode ~= '' then redis.call('HSET', c.k.pool, 'provisioning', mode) end
  if on_return ~= '' then redis.call('HSET', c.k.pool, 'on_return', on_return) end
  return tonumber(pool.get(c, 'max_vm_count'))
end)
