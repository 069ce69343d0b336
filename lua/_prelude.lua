-- _prelude.lua: shared helpers. The gateway loads every script as one Redis Functions library
--   (Sources/Reservations/Scripts.swift): this file once, then one function per script, whose
--   body is the script's file after `enter(keys, args)` (defined at the end of this file).
-- KEYS: the pool's seventeen keys, see README.md (named in table K below).
-- ARGV: none of its own; authenticate() reads the identity the script passes (ARGV[1]).
-- Returns: nothing; defines locals. Every script ends with `return run(function() ... end)`.
-- Errors: fail('CODE sentence') anywhere; run() turns it into an error reply carrying exactly
--   that text. (Redis 7.0 appends " script: <sha>, on @user_script:1." to errors raised to
--   the top level, and its pcall turns error tables into strings, hence run().)
-- Code outside functions runs once, when the library loads, where Redis offers no globals but
-- `redis`: only plain tables and functions are built there.

-- The current call's keys and arguments, and K: its keys by name; set by enter().
local KEYS, ARGV, K = {}, {}, {}
local CODES = {
  UNAUTHORIZED = true, FORBIDDEN = true, QUOTA_EXCEEDED = true, NO_VM_AVAILABLE = true,
  MAX_VM_COUNT = true, VM_NOT_FOUND = true, USER_NOT_FOUND = true, INVALID_STATE = true,
  BAD_REQUEST = true, IP_POOL_EXHAUSTED = true, IDEMPOTENCY_MISMATCH = true, IDEMPOTENCY_IN_PROGRESS = true,
}
-- Redis' own refusals of a command inside a script (out of memory, a replica, ...): they leave
-- the script with their code word intact, so the gateway answers "unavailable", not "bug".
-- Keep in step with RedisError.unavailablePrefixes (Sources/RedisClient/RedisError.swift).
local REFUSALS = {
  OOM = true, READONLY = true, MASTERDOWN = true, LOADING = true, BUSY = true, MISCONF = true,
  NOREPLICAS = true, TRYAGAIN = true, CLUSTERDOWN = true,
}
local STATUSES = {'provisioning', 'available', 'checked-out', 'error', 'deprovisioning'}
local IS_STATUS = {provisioning = true, available = true, ['checked-out'] = true, error = true, deprovisioning = true}

local function fail(msg) error({err = msg}) end

-- Runs the script body; our coded failures and Redis' refusals become exact error replies,
-- anything else (a wrong command, a bug) is re-raised as is.
local function run(body)
  if #KEYS ~= 17 then return redis.error_reply("BAD_REQUEST expected the pool's 17 keys") end
  local ok, res = pcall(body)
  if ok then return res end
  local msg = type(res) == 'table' and res.err or res -- older Redis: pcall keeps the table
  local word = type(msg) == 'string' and msg:match('^(%u[%u_]*) ')
  if word and (CODES[word] or REFUSALS[word]) then
    return redis.error_reply(msg)
  end
  error(res, 0)
end

-- Redis' clock in whole milliseconds since the Unix epoch: every stored time and lease score.
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- ARGV[i] as a whole number in lo..hi; "" gives nil when optional.
local function int_arg(i, lo, hi, what, optional)
  local s = ARGV[i]
  if optional and (s == nil or s == '') then return nil end
  local v = type(s) == 'string' and s:match('^%d+$') and tonumber(s)
  if not v or v < lo or v > hi then
    fail(('BAD_REQUEST %s must be a whole number from %d to %d'):format(what, lo, hi))
  end
  return v
end

-- ARGV[i] as a non-empty string (or "" when optional).
local function str_arg(i, what, optional)
  local s = ARGV[i] or ''
  if s == '' and not optional then fail('BAD_REQUEST ' .. what .. ' is required') end
  return s
end

local function hex_arg(i)
  local s = ARGV[i] or ''
  if #s ~= 64 or not s:match('^%x+$') then
    fail('BAD_REQUEST token hash must be 64 hex digits')
  end
  return s
end

local function role_arg(i, optional)
  local s = ARGV[i] or ''
  if optional and s == '' then return nil end
  if s ~= 'user' and s ~= 'admin' then fail('BAD_REQUEST role must be user or admin') end
  return s
end

local function unused_token(hex)
  if redis.call('HEXISTS', K.tokens, hex) == 1 then
    fail('INVALID_STATE this token hash is already in use')
  end
end

-- Idempotency. A checkout or create that carries an Idempotency-Key (ARGV[i], "" for none) gets,
-- for ARGV[i + 1] ms, the answer the first request with that key from the same caller got,
-- instead of being done again: a client that timed out and retries holds one VM, not two. Only
-- success is kept, so a refused request may be retried with its key. `fingerprint` is what was
-- asked: the same key for a different request is IDEMPOTENCY_MISMATCH. The answer lives in
-- K.user .. name .. ':idem:' .. key (user names have no ':') as JSON {"f": fingerprint, "a":
-- answer}, or {"f": fingerprint, "p": ticket} while a waiting checkout waits
-- (IDEMPOTENCY_IN_PROGRESS for a retry meanwhile).
local function idempotency(name, i, fingerprint)
  local key = ARGV[i] or ''
  if key == '' then return nil end
  if #key > 255 or not key:match('^[\33-\126]+$') then
    fail('BAD_REQUEST Idempotency-Key must be 1 to 255 visible ASCII characters')
  end
  return {key = K.user .. name .. ':idem:' .. key, window = int_arg(i + 1, 1, 604800000, 'idempotency window'),
          f = fingerprint}
end

-- The stored entry of `idem` (nil: none, or no key given).
local function idempotency_entry(idem)
  local text = idem and redis.call('GET', idem.key)
  return text and cjson.decode(text) or nil
end

-- The answer kept for `idem`, nil when there is none yet.
-- Errors: IDEMPOTENCY_MISMATCH, IDEMPOTENCY_IN_PROGRESS.
local function kept_answer(idem)
  local entry = idempotency_entry(idem)
  if not entry then return nil end
  if entry.f ~= idem.f then
    fail('IDEMPOTENCY_MISMATCH this Idempotency-Key was already used for a different request')
  end
  if entry.p then fail('IDEMPOTENCY_IN_PROGRESS a request with this Idempotency-Key is still waiting for a VM') end
  return entry.a
end

local function keep_answer(idem, answer)
  if idem then redis.call('SET', idem.key, cjson.encode({f = idem.f, a = answer}), 'PX', idem.window) end
end

-- Identity (ARGV[1] of the script) -> name, role.
local function authenticate(ident)
  ident = ident or ''
  local kind, rest = ident:sub(1, 2), ident:sub(3)
  if rest ~= '' then
    if kind == 'p:' then return rest, 'admin' end
    if kind == 't:' then
      local name = redis.call('HGET', K.tokens, rest)
      local role = name and redis.call('HGET', K.user .. name, 'role')
      if role then return name, role end
    end
    if kind == 'u:' then -- a user the gateway identified by a verified identity token
      local role = redis.call('HGET', K.user .. rest, 'role')
      if role then return rest, role end
    end
  end
  fail('UNAUTHORIZED missing, unknown or revoked token')
end

local function require_admin(role)
  if role ~= 'admin' then fail('FORBIDDEN this operation needs the admin role') end
end

-- Flat HGETALL of P:vm:<id> ({} when missing).
local function vm_record(id) return redis.call('HGETALL', K.vm .. id) end

local function record_map(flat)
  local m = {}
  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end
  return m
end

-- Records of the VMs a user holds, sorted by id.
local function held_records(name)
  local ids = redis.call('SMEMBERS', K.held .. name)
  table.sort(ids)
  local out = {}
  for _, id in ipairs(ids) do
    local rec = vm_record(id)
    if #rec > 0 then out[#out + 1] = rec end
  end
  return out
end

-- History: every state change appends one event to the capped stream K.events in the script that
-- makes the change, so history and state never disagree. The entry id is Redis' time in ms.
-- Fields: action; actor (who asked: a user's or principal's name, "system" for a lease that ran
-- out); and those of vm_id, ip, user (whom it concerns), status (the VM's status after it: the
-- outcome) and detail (a lease length, a new quota...) that apply. The stream keeps about the
-- last EVENTS_KEPT events.
local EVENTS_KEPT = 100000

local function event(action, actor, fields)
  local args = {'XADD', K.events, 'MAXLEN', '~', EVENTS_KEPT, '*', 'action', action, 'actor', actor}
  for _, name in ipairs({'vm_id', 'ip', 'user', 'status', 'detail'}) do
    local value = fields[name]
    if value and value ~= '' then
      args[#args + 1] = name
      args[#args + 1] = value
    end
  end
  redis.call(unpack(args))
end

-- Moves id from status set `from` (nil: none) to `to`; sets the status field and any
-- further field/value pairs in one HSET. K.idle scores every available VM by when it became
-- available (for idle cleanup); whatever takes a VM out of the available set also takes it
-- out of K.idle.
-- A VM with a size is also in K.status .. 'available:' .. size while available: a checkout for
-- one size SPOPs that set.
local function set_status(id, from, to, ...)
  if from then redis.call('SREM', K.status .. from, id) end
  redis.call('SADD', K.status .. to, id)
  redis.call('HSET', K.vm .. id, 'status', to, ...)
  if to == 'available' then
    redis.call('ZADD', K.idle, now(), id)
    local size = redis.call('HGET', K.vm .. id, 'size')
    if size then redis.call('SADD', K.status .. 'available:' .. size, id) end
  end
end

-- Takes `id`, just SPOPped from the general available set (size nil) or from its size's set,
-- out of the other one and of the idle index.
local function unlist_available(id, size)
  if size then
    redis.call('SREM', K.status .. 'available', id)
  else
    size = redis.call('HGET', K.vm .. id, 'size')
    if size then redis.call('SREM', K.status .. 'available:' .. size, id) end
  end
  redis.call('ZREM', K.idle, id)
end

-- Hands available VMs to waiting checkouts, first come first served; defined at the end.
-- Every script that makes a VM available calls it (through release() or directly).
local serve_waiters

-- Provisioning. A provider outside Redis makes, resets and destroys the machines (a script cannot
-- wait on the outside world), driven from here. A VM with work for the provider has its job in
-- field `job` (provision, reset, deprovision, or replace: deprovision, then a fresh VM in its
-- place) and its id in K.jobs, scored by when a worker may take it: at once for new work, the end
-- of the claim of the worker that has it, or a later try. Every gateway runs a worker
-- (Sources/Reservations/ProvisioningWorker.swift) that takes the first due job (take_job.lua,
-- which sets `job_claim`), renews its claim while the provider works (extend_job.lua) and
-- reports the outcome (finish_job.lua), which counts only with the claim that is current. A
-- worker that died lets its claim run out and another takes the job again; the VM's id is the
-- provider's idempotency key, so the provider finds a machine made by the first try rather than
-- making a second, and a machine is destroyed before the record that knows of it goes.
-- Pool fields the gateways write at start (init_pool.lua): `provisioning`, 'jobs' when VMs need
-- the provider's work or 'instant' (a provider with nothing to wait for: VMs are available, and
-- deleted, at once); `on_return`, what happens to a VM that comes back: 'reuse' (available
-- again), 'reset' (provisioning until the provider has reset it) or 'replace'.
local function provisioning_jobs() return redis.call('HGET', K.pool, 'provisioning') == 'jobs' end

local function queue_job(id, job, at)
  redis.call('HSET', K.vm .. id, 'job', job)
  redis.call('HDEL', K.vm .. id, 'job_claim', 'error')
  redis.call('ZADD', K.jobs, at or now(), id)
end

local function end_job(id)
  redis.call('HDEL', K.vm .. id, 'job', 'job_claim', 'job_worker', 'failures')
  redis.call('ZREM', K.jobs, id)
end

-- What a VM coming back becomes, by the pool's on_return: status and job (nil: none).
local RETURN_TO = {reuse = {'available'}, reset = {'provisioning', 'reset'}, replace = {'deprovisioning', 'replace'}}

-- Returns a checked-out VM to the pool (checkin and lease reclamation), as the pool's on_return
-- says, and records it as event `action` by `actor`; for a VM that is not checked out it only
-- drops a stale lease entry.
-- vm: its field map when already read.
local function release(id, vm, action, actor)
  if not vm then
    local v = redis.call('HMGET', K.vm .. id, 'status', 'user', 'ip')
    vm = {status = v[1], user = v[2], ip = v[3]}
  end
  redis.call('ZREM', K.leases, id)
  if vm.status ~= 'checked-out' then return end
  local to = RETURN_TO[redis.call('HGET', K.pool, 'on_return') or 'reuse'] or RETURN_TO.reuse
  set_status(id, 'checked-out', to[1])
  redis.call('HDEL', K.vm .. id, 'user', 'checked_out_at', 'lease_expires_at', 'lease_seconds', 'claim_ticket')
  if vm.user then redis.call('SREM', K.held .. vm.user, id) end
  if to[2] then queue_job(id, to[2]) end
  event(action, actor, {vm_id = id, ip = vm.ip, user = vm.user, status = to[1]})
  if not to[2] then serve_waiters() end
end

-- A lease that ran out: the VM returns to the pool, by no one's request.
local function expire(id, vm) release(id, vm, 'lease_expired', 'system') end

-- Expired leases return their VMs to the pool before a script reads or changes reservations,
-- so no answer shows an expired lease as held. reclaim_expired takes the RECLAIM_BATCH that
-- expired first (every such script calls it, so a larger backlog drains over the next calls);
-- reclaim_vm, reclaim_held and locate_vm make one VM, or one user's count and quota, exact at once.
local RECLAIM_BATCH = 100

local function reclaim_expired(t)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.leases, '-inf', t, 'LIMIT', 0, RECLAIM_BATCH)) do
    expire(id)
  end
end

local function reclaim_vm(t, id)
  local expiry = redis.call('ZSCORE', K.leases, id)
  if expiry and tonumber(expiry) <= t then expire(id) end
end

local function reclaim_held(t, name)
  for _, id in ipairs(redis.call('SMEMBERS', K.held .. name)) do reclaim_vm(t, id) end
end

-- Reads the Redis clock, reclaims the batch of leases expired by then, returns the time.
local function now_reclaimed()
  local t = now()
  reclaim_expired(t)
  return t
end

-- The VM named by id and/or ip (both given: must be the same VM) -> id, field map, flat record.
-- If its lease ran out by time t, it is reclaimed first.
local function locate_vm(id, ip, t)
  if ip ~= '' then
    local by_ip = redis.call('HGET', K.ips, ip)
    if by_ip and (id == '' or id == by_ip) then id = by_ip else id = '' end
  end
  local flat = id ~= '' and vm_record(id) or {}
  if #flat == 0 then fail('VM_NOT_FOUND Could not find a vm with given details') end
  local vm = record_map(flat)
  local expiry = tonumber(vm.lease_expires_at)
  if expiry and expiry <= t then
    expire(id, vm)
    flat = vm_record(id)
    vm = record_map(flat)
  end
  return id, vm, flat
end

-- User record {name, role, quota, created_at, held, max_lease, size_quotas} as a flat array
-- ("held" at index 10; max_lease and size_quotas "" when the user has none), nil when missing.
local function user_record(name)
  local u = redis.call('HMGET', K.user .. name, 'name', 'role', 'quota', 'created_at', 'max_lease', 'size_quotas')
  if not u[1] then return nil end
  return {'name', u[1], 'role', u[2], 'quota', u[3], 'created_at', u[4],
          'held', redis.call('SCARD', K.held .. name), 'max_lease', u[5] or '', 'size_quotas', u[6] or ''}
end

local function existing_user(name)
  return user_record(name) or fail('USER_NOT_FOUND no user named ' .. name)
end

-- IP pools. Without one, VMs get the random public addresses the gateway proposes. With one
-- (pool field ip_pool, a CIDR block), create_vms takes addresses from it: bit i of the bitmap
-- K.ipbits is set while base + i is in use (or reserved: a block's network and broadcast
-- addresses, for blocks of 4 addresses or more), so BITPOS finds the lowest free address at
-- once, a delete frees it for reuse, and a full block is known at once, not searched for.
local function ip_number(ip)
  local a, b, c, d = ip:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
  if not a then return nil end
  return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
end

local function ip_text(n)
  return ('%d.%d.%d.%d'):format(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                                math.floor(n / 256) % 256, n % 256)
end

-- A CIDR block as {cidr, base, size, first, last} (first..last: the usable offsets), or nil.
local function parse_block(cidr)
  local ip, bits = (cidr or ''):match('^([%d.]+)/(%d+)$')
  local base, prefix = ip and ip_number(ip), tonumber(bits)
  if not base or not prefix or prefix < 12 or prefix > 32 then return nil end
  local size = 2 ^ (32 - prefix)
  if base % size ~= 0 then return nil end
  local reserved = size >= 4 and 1 or 0
  return {cidr = cidr, base = base, size = size, first = reserved, last = size - 1 - reserved}
end

local function ip_block() return parse_block(redis.call('HGET', K.pool, 'ip_pool')) end

-- Makes `cidr` ("" for none) the pool's block and rebuilds the bitmap from the VMs that exist.
local function configure_ip_pool(cidr)
  redis.call('DEL', K.ipbits)
  if cidr == '' then
    redis.call('HDEL', K.pool, 'ip_pool')
    return
  end
  local block = parse_block(cidr)
  if not block then
    fail('BAD_REQUEST ip_pool must be an IPv4 network address with a prefix from /12 to /32, e.g. 203.0.113.0/26')
  end
  redis.call('HSET', K.pool, 'ip_pool', cidr)
  if block.first > 0 then
    redis.call('SETBIT', K.ipbits, 0, 1)
    redis.call('SETBIT', K.ipbits, block.size - 1, 1)
  end
  for _, ip in ipairs(redis.call('HKEYS', K.ips)) do
    local offset = ip_number(ip) - block.base
    if offset >= 0 and offset < block.size then redis.call('SETBIT', K.ipbits, offset, 1) end
  end
end

-- The lowest free address of the block, now taken; nil when the block is full.
local function take_block_ip(block)
  while true do
    local offset = redis.call('BITPOS', K.ipbits, 0)
    if offset < 0 or offset > block.last then return nil end
    redis.call('SETBIT', K.ipbits, offset, 1)
    local ip = ip_text(block.base + offset)
    if redis.call('HEXISTS', K.ips, ip) == 0 then return ip end
  end
end

-- A deleted VM's address becomes free again if it is the block's.
local function free_block_ip(ip)
  local block = ip_block()
  local offset = block and ip_number(ip) - block.base
  if offset and offset >= block.first and offset <= block.last then redis.call('SETBIT', K.ipbits, offset, 0) end
end

-- {max_vm_count, total, then one count per status in STATUSES order, then the IP pool's CIDR
-- ("" for none) and its free addresses (-1 for none)}.
local function pool_stats()
  local out = {tonumber(redis.call('HGET', K.pool, 'max_vm_count')) or 0,
               redis.call('ZCARD', K.vms)}
  for _, s in ipairs(STATUSES) do out[#out + 1] = redis.call('SCARD', K.status .. s) end
  local block = ip_block()
  out[#out + 1] = block and block.cidr or ''
  out[#out + 1] = block and (block.last - block.first + 1) - redis.call('BITCOUNT', K.ipbits)
    + (block.first > 0 and 2 or 0) or -1
  return out
end

-- Leases. No lease, default or maximum is longer than a year.
local LEASE_LIMIT = 31536000

-- The lease, in seconds, that a checkout or a renewal gives `name`: ARGV[i] (seconds, "" for
-- none), else `fallback` (a renewal's previous length), else the gateway's default ARGV[i + 1]
-- ("" for none); nil means no lease. It is bounded by the caller's maximum: their own (user
-- field max_lease) or else the gateway's ARGV[i + 2]. Asking for more is BAD_REQUEST; a
-- fallback or default above the maximum is cut to it.
local function lease_arg(i, name, fallback)
  local requested = int_arg(i, 1, LEASE_LIMIT, 'lease_seconds', true)
  local default = int_arg(i + 1, 1, LEASE_LIMIT, 'default lease', true)
  local max = tonumber(redis.call('HGET', K.user .. name, 'max_lease'))
    or int_arg(i + 2, 1, LEASE_LIMIT, 'maximum lease')
  local lease = requested or fallback or default
  if lease and lease > max then
    if requested then fail(('BAD_REQUEST the longest lease you may ask for is %d seconds'):format(max)) end
    lease = max
  end
  return lease
end

-- Gives checked-out VM `id` a lease of `lease` seconds from time t: it ends at t + lease exactly,
-- in milliseconds, never earlier.
local function set_lease(id, t, lease)
  local expiry = t + lease * 1000
  redis.call('HSET', K.vm .. id, 'lease_expires_at', expiry, 'lease_seconds', lease)
  redis.call('ZADD', K.leases, expiry, id)
end

-- Sizes. The pool's catalog (pool field sizes, "name=cpu:memory_mb,...", seeded by the gateway)
-- lists the sizes a VM may have; a VM carries its size, cpu and memory_mb. A user may have quotas
-- per size (user field size_quotas, "name=n,..."), besides their quota in total.
local function parse_pairs(text, pattern)
  local out, order = {}, {}
  for name, value in (text or ''):gmatch(pattern) do
    out[name] = value
    order[#order + 1] = name
  end
  return out, order
end

local function size_catalog() return parse_pairs(redis.call('HGET', K.pool, 'sizes'), '([%w_-]+)=(%d+:%d+)') end

local function size_quotas(name)
  local quotas = parse_pairs(redis.call('HGET', K.user .. name, 'size_quotas'), '([%w_-]+)=(%d+)')
  for size, n in pairs(quotas) do quotas[size] = tonumber(n) end
  return quotas
end

-- A size named by a request ("" for any), checked against the catalog.
local function size_arg(i)
  local size = ARGV[i] or ''
  if size == '' then return '' end
  local catalog, order = size_catalog()
  if not catalog[size] then fail('BAD_REQUEST size must be one of ' .. table.concat(order, ', ')) end
  return size
end

-- Checks a VM out to `name` at time t if they have room in their quota (user field quota, else
-- `default_quota`; their own leases that ran out do not count) and, for a VM of a size they have
-- a quota for, in that one, with a lease of `lease` seconds (nil: none). `size` "" (or nil) takes
-- a VM of any size they have room for. Returns the VM's id, or nil when none is available.
-- Errors: QUOTA_EXCEEDED (checked first).
local function take_vm(name, default_quota, lease, t, detail, size)
  size = size or ''
  local quota = tonumber(redis.call('HGET', K.user .. name, 'quota')) or default_quota
  local function at_quota() return redis.call('SCARD', K.held .. name) >= quota end
  local reclaimed = false
  if at_quota() then
    reclaim_held(t, name) -- the caller's own leases that ran out do not count
    reclaimed = true
    if at_quota() then
      fail('QUOTA_EXCEEDED quota of ' .. quota .. (quota == 1 and ' VM' or ' VMs') .. ' reached')
    end
  end
  local limits = size_quotas(name)
  local id, popped_size
  if next(limits) == nil and size == '' then
    id = redis.call('SPOP', K.status .. 'available') -- the common case: no sizes to mind
  else
    if not reclaimed then reclaim_held(t, name) end
    local held = {}
    for _, vm in ipairs(redis.call('SMEMBERS', K.held .. name)) do
      local s = redis.call('HGET', K.vm .. vm, 'size') or ''
      held[s] = (held[s] or 0) + 1
    end
    local function room(s) return not limits[s] or (held[s] or 0) < limits[s] end
    if size ~= '' then
      if not room(size) then
        fail(('QUOTA_EXCEEDED quota of %d %s %s reached'):format(limits[size], size, limits[size] == 1 and 'VM' or 'VMs'))
      end
      id, popped_size = redis.call('SPOP', K.status .. 'available:' .. size), size
    else
      local _, order = size_catalog()
      for _, s in ipairs(order) do
        if room(s) then id, popped_size = redis.call('SPOP', K.status .. 'available:' .. s), s end
        if id then break end
      end
    end
  end
  if not id then return nil end
  unlist_available(id, popped_size)
  set_status(id, nil, 'checked-out', 'user', name, 'checked_out_at', t)
  if lease then set_lease(id, t, lease) end
  redis.call('SADD', K.held .. name, id)
  event('checkout', name, {vm_id = id, ip = redis.call('HGET', K.vm .. id, 'ip'), user = name,
        status = 'checked-out', detail = detail or (lease and ('lease ' .. lease .. ' s') or 'no lease')})
  return id
end

-- Waiting checkouts. A checkout that may wait and finds no VM becomes a waiter: its ticket in
-- K.waiters (a zset scored by arrival, from the pool's waiter_seq counter) and
-- K.waiting[ticket] = "user gateway deadline_ms default_quota size" (size "*" for any). When VMs
-- become available, serve_waiters gives each to the first waiter whose deadline has not passed
-- and whose size it is (a waiter for a size none is free of keeps its place), in the same script,
-- so no other checkout can take it first: the VM is checked out to the waiter's user with a
-- claim lease of CLAIM_SECONDS, K.waiting[ticket] becomes "handed <vm id>", and
-- "<ticket> <vm id>" is pushed to the list K.handoff .. gateway that the waiting request's
-- gateway blocks on. That gateway then claims it (claim.lua: the lease the request asked for
-- replaces the claim lease). If the gateway died meanwhile, the claim lease runs out and the VM
-- returns to the pool (and to the next waiter). A waiter at its quota by then is answered
-- "<ticket> QUOTA" instead.
local CLAIM_SECONDS = 30

local function waiter_info(ticket)
  local info = redis.call('HGET', K.waiting, ticket)
  if not info then return nil end
  local user, gateway, deadline, default_quota, size = info:match('^(%S+) (%S+) (%d+) (%d+) (%S+)$')
  return {user = user, gateway = gateway, deadline = tonumber(deadline), default_quota = tonumber(default_quota),
          size = size == '*' and '' or size}
end

local serving = false -- take_vm may release a VM, whose release() must not serve again meanwhile

serve_waiters = function()
  if serving or redis.call('ZCARD', K.waiters) == 0 then return end
  serving = true
  local t = now()
  -- in arrival order, as long as VMs are free (at most 1000 waiters looked at per call)
  for _, ticket in ipairs(redis.call('ZRANGE', K.waiters, 0, 999)) do
    if redis.call('SCARD', K.status .. 'available') == 0 then break end
    local w = waiter_info(ticket)
    local ok, id = true, nil
    if not w or not w.user or w.deadline <= t then
      redis.call('ZREM', K.waiters, ticket)
      redis.call('HDEL', K.waiting, ticket) -- gone or past its deadline: its gateway answers 503
    else
      ok, id = pcall(take_vm, w.user, w.default_quota, CLAIM_SECONDS, t, 'handed to a waiting checkout', w.size)
    end
    if w and w.user and w.deadline > t and (id or not ok) then -- served, or at its quota
      redis.call('ZREM', K.waiters, ticket)
      local answer
      if ok then
        redis.call('HSET', K.vm .. id, 'claim_ticket', ticket)
        redis.call('HSET', K.waiting, ticket, 'handed ' .. id)
        answer = ticket .. ' ' .. id
      else
        redis.call('HDEL', K.waiting, ticket)
        answer = ticket .. ' QUOTA'
      end
      redis.call('RPUSH', K.handoff .. w.gateway, answer)
      redis.call('EXPIRE', K.handoff .. w.gateway, 300) -- a gateway that died leaves nothing forever
    end
  end
  serving = false
end

-- Creates up to `want` VMs from the candidate id, ip pairs ARGV[first], ARGV[first + 1], ... (in
-- order; a candidate whose id or ip exists is skipped; with an IP pool the block's address
-- replaces the candidate's; an ip "" leaves the address to the provider), of `size` (nil or "":
-- the catalog's first), records them as created by `actor`. They are available at once, and
-- handed to waiters, or with provisioning jobs they are `provisioning` until the provider is done.
-- Returns {shortfall, vm record, ...}: shortfall = how many of `want` could not be created
-- because candidates ran out (a full IP pool ends the creation without one).
-- Errors: IP_POOL_EXHAUSTED (the block was full before the first).
local function create_from_candidates(actor, want, first, size)
  local t = ('%d'):format(now())
  local block = ip_block()
  local catalog, order = size_catalog()
  size = (size ~= nil and size ~= '') and size or order[1]
  local cpu, memory = (catalog[size or ''] or ''):match('^(%d+):(%d+)$')
  local jobs = provisioning_jobs()
  local status = jobs and 'provisioning' or 'available'
  local out = {0}
  for i = first, #ARGV - 1, 2 do
    if #out > want then break end
    local id, ip = ARGV[i], ARGV[i + 1]
    if block and ip ~= '' and redis.call('EXISTS', K.vm .. id) == 0 then
      ip = take_block_ip(block)
      if not ip then
        if #out == 1 then fail('IP_POOL_EXHAUSTED no free address is left in the IP pool ' .. block.cidr) end
        want = #out - 1 -- as many as the block had room for
        break
      end
    end
    if (ip == '' or redis.call('HEXISTS', K.ips, ip) == 0) and redis.call('EXISTS', K.vm .. id) == 0 then
      if size then redis.call('HSET', K.vm .. id, 'size', size, 'cpu', cpu, 'memory_mb', memory) end
      -- (no size: a pool without a catalog, written by an older gateway)
      if ip ~= '' then
        redis.call('HSET', K.ips, ip, id)
        set_status(id, nil, status, 'vm_id', id, 'created_at', t, 'ip', ip)
      else
        set_status(id, nil, status, 'vm_id', id, 'created_at', t)
      end
      if jobs then queue_job(id, 'provision') end
      redis.call('ZADD', K.vms, 0, id)
      event('create', actor, {vm_id = id, ip = ip, status = status, detail = size})
      out[#out + 1] = vm_record(id)
    end
  end
  out[1] = want - (#out - 1)
  serve_waiters()
  return out
end

-- Removes a VM that nobody holds and everything that points at it, recorded as event `action`
-- (default 'delete') by `actor`.
local function remove_vm(id, vm, actor, detail, action)
  redis.call('DEL', K.vm .. id)
  redis.call('ZREM', K.vms, id)
  redis.call('SREM', K.status .. vm.status, id)
  if vm.size then redis.call('SREM', K.status .. 'available:' .. vm.size, id) end
  redis.call('ZREM', K.idle, id)
  redis.call('ZREM', K.jobs, id)
  if vm.ip then
    redis.call('HDEL', K.ips, vm.ip)
    free_block_ip(vm.ip)
  end
  event(action or 'delete', actor, {vm_id = id, ip = vm.ip, status = 'deleted', detail = detail})
end

-- Deletes an available or failed VM, as `actor`: at once, or with provisioning jobs it is
-- `deprovisioning` until the provider has destroyed its machine (finish_job.lua removes it then).
local function retire_vm(id, vm, actor, detail)
  if not provisioning_jobs() then return remove_vm(id, vm, actor, detail) end
  set_status(id, vm.status, 'deprovisioning')
  if vm.status == 'available' then unlist_available(id) end
  queue_job(id, 'deprovision')
  event('delete', actor, {vm_id = id, ip = vm.ip, status = 'deprovisioning', detail = detail})
end

-- The start of every function of the library: the call's keys and arguments become KEYS, ARGV
-- and K for the helpers above, and state kept across helpers starts afresh (the library's locals
-- outlive a call).
local function enter(keys, args)
  KEYS, ARGV = keys, args
  K.tokens, K.user, K.users, K.held, K.vm = keys[1], keys[2], keys[3], keys[4], keys[5]
  K.vms, K.status, K.ips, K.pool, K.leases, K.events = keys[6], keys[7], keys[8], keys[9], keys[10], keys[11]
  K.waiters, K.waiting, K.handoff, K.ipbits, K.idle = keys[12], keys[13], keys[14], keys[15], keys[16]
  K.jobs = keys[17]
  serving = false
end
