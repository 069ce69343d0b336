-- _prelude.lua: shared helpers. The gateway loads every script as one Redis Functions library
--   (Sources/Reservations/Scripts.swift): this file once, then one function per script, whose
--   body is the script's file after `enter(keys, args)` (defined at the end of this file).
-- KEYS: the pool's two declared keys, P:pool and P:records: (see README.md); every key of the
--   pool is named from P in table K below.
-- ARGV: none of its own; authenticate() reads the identity the script passes (ARGV[1]).
-- Returns: nothing; defines locals. Every script ends with `return run(function() ... end)`.
-- Errors: fail('CODE sentence') anywhere; run() turns it into an error reply carrying exactly
--   that text. (Redis 7.0 appends " script: <sha>, on @user_script:1." to errors raised to
--   the top level, and its pcall turns error tables into strings, hence run().)
-- Code outside functions runs once, when the library loads, where Redis offers no globals but
-- `redis`: only plain tables and functions are built there.

-- The current call's keys and arguments, and K: its pool's keys by name; set by enter().
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
-- Redis Cluster: scripts read keys they derive (a VM's bucket, a user's record) that a slot
-- migration may already have moved, but no script runs while the pool's slot migrates. Of the
-- two declared KEYS one always exists (the pool hash) and one never does (the records prefix),
-- and Redis runs a command of several keys in a migrating or importing slot only when it has all
-- of them: it answers TRYAGAIN (or ASK, then TRYAGAIN from the target), which the gateway
-- retries until the slot has moved (tested in ClusterGatewayTests).
local function run(body)
  if not K then return redis.error_reply("BAD_REQUEST expected the pool's keys P:pool and P:records:") end
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
-- Turning a Lua number into text is among the dearest things a script does (a printf), and
-- most numbers a script sends Redis are times, so now() keeps the text it read as well: ms_text
-- answers it for that time. (Numbers sent to Redis are written as text constants for the same
-- reason.)
local clock_ms, clock_text

local function now()
  local t = redis.call('TIME')
  clock_text = t[1] .. ('00000' .. t[2]):sub(-6, -4)
  clock_ms = tonumber(clock_text)
  return clock_ms
end

-- A time in ms as text.
local function ms_text(ms)
  if ms == clock_ms then return clock_text end
  return ('%d'):format(ms)
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
  if redis.call('HEXISTS', K.accounts .. hex:sub(1, 2), hex) == 1 then
    fail('INVALID_STATE this token hash is already in use')
  end
end

-- Idempotency. A checkout or create that carries an Idempotency-Key (ARGV[i], "" for none) gets,
-- for ARGV[i + 1] ms, the answer the first request with that key from the same caller got,
-- instead of being done again: a client that timed out and retries holds one VM, not two. Only
-- success is kept, so a refused request may be retried with its key. The fingerprint, the
-- words `...` joined by spaces (built only when there is a key), is what was asked: the same key for a different request is IDEMPOTENCY_MISMATCH. The answer lives in
-- K.user .. name .. ':idem:' .. key (user names have no ':') as JSON {"f": fingerprint, "a":
-- answer}, or {"f": fingerprint, "p": ticket} while a waiting checkout waits
-- (IDEMPOTENCY_IN_PROGRESS for a retry meanwhile).
local function idempotency(name, i, ...)
  local key = ARGV[i] or ''
  if key == '' then return nil end
  local fingerprint = table.concat({...}, ' ')
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

-- Users. A user is one field of a bucket hash, K.accounts .. <the first two hex digits of their
-- token's SHA-256> (256 buckets): the field is that SHA-256 in hex, the value their record, the
-- fields of USER_FIELDS in that order joined by '|' ("" when not set). So authenticating a token
-- reads one field. K.names .. <the first two hex digits of the SHA-1 of a name> maps each name to
-- its token's hash, for the scripts that name a user, and K.name_buckets (a zset, score 0) lists
-- those buckets, for listing users. As with VMs, small hashes are compact listpacks: a user costs
-- their two entries and a few bytes, where hashes of their own and a zset entry cost a key, an
-- object and table entries each.
local USER_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$'

local function account_bucket(hex) return K.accounts .. hex:sub(1, 2) end
local function name_bucket(name) return redis.sha1hex(name):sub(1, 2) end

-- The user whose token has SHA-256 hex `hex` as a map {token, name, role, quota, created_at,
-- max_lease, size_quotas} (the last two nil when not set), nil when there is none.
local function user_by_token(hex)
  local text = redis.call('HGET', account_bucket(hex), hex)
  if not text then return nil end
  local name, role, quota, created_at, max_lease, size_quotas = text:match(USER_PATTERN)
  return {token = hex, name = name, role = role, quota = quota, created_at = created_at,
          max_lease = max_lease ~= '' and max_lease or nil, size_quotas = size_quotas ~= '' and size_quotas or nil}
end

-- User `name` as a map (see user_by_token), nil when there is none.
local function load_user(name)
  local hex = redis.call('HGET', K.names .. name_bucket(name), name)
  return hex and user_by_token(hex)
end

-- Writes a user's map as their record, and indexes their name.
local function save_user(u)
  redis.call('HSET', account_bucket(u.token), u.token,
             table.concat({u.name, u.role, u.quota, u.created_at, u.max_lease or '', u.size_quotas or ''}, '|'))
  local bucket = name_bucket(u.name)
  redis.call('HSET', K.names .. bucket, u.name, u.token)
  redis.call('ZADD', K.name_buckets, '0', bucket)
end

-- Removes a user's record and name (not what they hold).
local function remove_user(u)
  redis.call('HDEL', account_bucket(u.token), u.token)
  local bucket = name_bucket(u.name)
  redis.call('HDEL', K.names .. bucket, u.name)
  if redis.call('EXISTS', K.names .. bucket) == 0 then redis.call('ZREM', K.name_buckets, bucket) end
end

-- A user's limits: {quota, max_lease, size_quotas} (nil when unset).
local function limits_of(u)
  return {quota = tonumber(u.quota), max_lease = tonumber(u.max_lease), size_quotas = u.size_quotas}
end

-- Identity (ARGV[1] of the script) -> name, role, and for a user their limits (see
-- limits_of; nil for a principal the gateway vouches for, who has no user record).
local function authenticate(ident)
  ident = ident or ''
  local kind, rest = ident:sub(1, 2), ident:sub(3)
  if rest ~= '' then
    if kind == 'p:' then return rest, 'admin' end
    -- a token's hash, or a user the gateway identified by a verified identity token
    local u = kind == 't:' and user_by_token(rest) or (kind == 'u:' and load_user(rest)) or nil
    if u then return u.name, u.role, limits_of(u) end
  end
  fail('UNAUTHORIZED missing, unknown or revoked token')
end

-- What user `name`'s record sets of their limits (all nil when there is no such user).
local function user_limits(name)
  return limits_of(load_user(name) or {})
end

local function require_admin(role)
  if role ~= 'admin' then fail('FORBIDDEN this operation needs the admin role') end
end

-- VMs. A VM is one field of a bucket hash, K.records .. <the first three characters of its id>
-- (4096 buckets for the gateway's UUIDs), whose value is its record: the 18 fields
-- status, ip, created_at, size, cpu, memory_mb, user, checked_out_at, lease_expires_at,
-- lease_seconds, claim_ticket, available_since, job, job_claim, job_worker, failures, machine_id
-- and error, in that order (decode_vm and save_vm; VMRecord.swift), joined by '|', "" for a field that is not set. Redis keeps a small hash as one
-- compact listpack, so a VM costs its id and record and a few bytes, where a hash of its own
-- would cost a key, an object and a table entry as well. But Redis finds a field of a listpack by
-- scanning it, and turns a hash of more than 512 fields (hash-max-listpack-entries) into a hash
-- table, some 100 bytes more per VM: 4096 buckets would pass that at about 2,100,000 VMs, and scan
-- 244 VMs each at 1,000,000 (3-4% of a checkout, BENCHMARKS.md). So a bucket that has come to hold more VMs than the
-- pool's `bucket_split_at` (a field of the pool hash, DEFAULT_BUCKET_SPLIT_AT when unset) is
-- split into the buckets of the first four characters of its VMs' ids (split_buckets); new VMs
-- of those ids go there from then on (new_vm_bucket), until the four-character buckets are all
-- empty again. A VM is looked for in its three-character bucket first, in a pool that never grew
-- that far the only one, then in its four-character one (find_vm); its map remembers where it
-- was (`bucket`). K.buckets (a zset, score 0) lists the names of the buckets that hold VMs, of
-- either length, in lexicographic order: since a split bucket is gone once its VMs are in the
-- longer ones, that is the order of the ids they hold, for listing every VM by id. Only `error`, the last field, and
-- `machine_id` hold text from outside (a provider's): the former may hold '|', the latter has
-- '%' and '|' escaped as %25 and %7C.
-- Scripts answer a VM as {vm_id, record}, the record as stored (Sources/Reservations/VMRecord.swift
-- reads it), and the pool hash counts VMs: field `vm_count` all of them, `count:<status>`
-- those in each status but checked-out, whose count is the rest (one HINCRBY fewer for every
-- checkout and checkin).
local VM_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|'
                   .. '([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$'

local DEFAULT_BUCKET_SPLIT_AT = 128

-- The pool's bucket_split_at, read once per call (enter() forgets it).
local split_at

local function split_limit()
  split_at = split_at or tonumber(redis.call('HGET', K.pool, 'bucket_split_at')) or DEFAULT_BUCKET_SPLIT_AT
  return split_at
end

-- Moves every field of hash `key` into the hash named part_of(field), and deletes `key`; answers
-- the names of those hashes (as the keys of a table).
local function split_hash(key, part_of)
  local flat, parts = redis.call('HGETALL', key), {}
  for i = 1, #flat, 2 do
    local name = part_of(flat[i])
    local part = parts[name]
    if not part then
      part = {}
      parts[name] = part
    end
    part[#part + 1] = flat[i]
    part[#part + 1] = flat[i + 1]
  end
  redis.call('DEL', key)
  for name, part in pairs(parts) do redis.call('HSET', name, unpack(part)) end
  return parts
end

-- The record of VM `id` and the key of the bucket that holds it; false when there is none.
local function find_vm(id)
  local bucket = K.records .. id:sub(1, 3)
  local text = redis.call('HGET', bucket, id)
  if text then return text, bucket end
  bucket = K.records .. id:sub(1, 4)
  return redis.call('HGET', bucket, id), bucket
end

-- The map of a VM's fields from its record text: vm_id, the fields that are set
-- ("" in the record: not set, nil in the map), `text`, the record as stored (what save_vm
-- wrote last), and `bucket`, the key of the bucket it is in. Written out field by field: a loop or a helper call per field costs twice as much
-- (bench/lua_costs.py), and a checkout and a checkin each decode one record.
local function decode_vm(id, text, bucket)
  local status, ip, created_at, size, cpu, memory_mb, user, checked_out_at, lease_expires_at, lease_seconds,
        claim_ticket, available_since, job, job_claim, job_worker, failures, machine_id, err = text:match(VM_PATTERN)
  if machine_id and machine_id:find('%', 1, true) then machine_id = machine_id:gsub('%%7C', '|'):gsub('%%25', '%%') end
  return {vm_id = id, text = text, bucket = bucket, status = status ~= '' and status or nil, ip = ip ~= '' and ip or nil,
          created_at = created_at ~= '' and created_at or nil, size = size ~= '' and size or nil,
          cpu = cpu ~= '' and cpu or nil, memory_mb = memory_mb ~= '' and memory_mb or nil,
          user = user ~= '' and user or nil, checked_out_at = checked_out_at ~= '' and checked_out_at or nil,
          lease_expires_at = lease_expires_at ~= '' and lease_expires_at or nil,
          lease_seconds = lease_seconds ~= '' and lease_seconds or nil,
          claim_ticket = claim_ticket ~= '' and claim_ticket or nil,
          available_since = available_since ~= '' and available_since or nil, job = job ~= '' and job or nil,
          job_claim = job_claim ~= '' and job_claim or nil, job_worker = job_worker ~= '' and job_worker or nil,
          failures = failures ~= '' and failures or nil, machine_id = machine_id ~= '' and machine_id or nil,
          error = err ~= '' and err or nil}
end

-- VM `id` as a map of its fields (see decode_vm), nil when there is none.
local function load_vm(id)
  local text, bucket = find_vm(id)
  return text and decode_vm(id, text, bucket)
end

local function vm_exists(id)
  return redis.call('HEXISTS', K.records .. id:sub(1, 3), id) == 1 or redis.call('HEXISTS', K.records .. id:sub(1, 4), id) == 1
end

-- The three-character buckets new VMs went to in this call, for split_buckets; enter() empties it.
local grown = {}

-- The name of the bucket for a new VM `id`: the first four characters of its id when the bucket of
-- the first three has been split (some longer bucket of that start holds VMs), else the three.
local function new_vm_bucket(id)
  local short = id:sub(1, 3)
  if redis.call('EXISTS', K.records .. short) == 0
      and #redis.call('ZRANGE', K.buckets, '(' .. short, '[' .. short .. '\255', 'BYLEX', 'LIMIT', 0, 1) > 0 then
    return id:sub(1, 4)
  end
  grown[short] = true
  return short
end

-- Splits every bucket that new VMs went to in this call (new_vm_bucket) and that now holds more
-- than the pool's bucket_split_at VMs: its VMs move to the buckets of the first four characters of
-- their ids. A VM map loaded before names the bucket it was in: call this when the call is done
-- with them.
local function split_buckets()
  for short in pairs(grown) do
    local key = K.records .. short
    if redis.call('HLEN', key) > split_limit() then
      redis.call('ZREM', K.buckets, short)
      for name in pairs(split_hash(key, function(id) return K.records .. id:sub(1, 4) end)) do
        redis.call('ZADD', K.buckets, '0', name:sub(#K.records + 1))
      end
    end
  end
  grown = {}
end

-- Writes a VM's map (from load_vm, or a new one, which goes to new_vm_bucket's bucket) as its
-- record, in one concatenation (one string built, where a loop and table.concat cost four times as much).
local function save_vm(vm)
  local machine = vm.machine_id
  if machine and machine:find('[|%%]') then machine = machine:gsub('%%', '%%25'):gsub('|', '%%7C') end
  vm.text = (vm.status or '') .. '|' .. (vm.ip or '') .. '|' .. (vm.created_at or '') .. '|' .. (vm.size or '')
    .. '|' .. (vm.cpu or '') .. '|' .. (vm.memory_mb or '') .. '|' .. (vm.user or '') .. '|' .. (vm.checked_out_at or '')
    .. '|' .. (vm.lease_expires_at or '') .. '|' .. (vm.lease_seconds or '') .. '|' .. (vm.claim_ticket or '')
    .. '|' .. (vm.available_since or '') .. '|' .. (vm.job or '') .. '|' .. (vm.job_claim or '') .. '|' .. (vm.job_worker or '')
    .. '|' .. (vm.failures or '') .. '|' .. (machine or '') .. '|' .. (vm.error or '')
  local bucket = vm.bucket
  if not bucket then
    local name = new_vm_bucket(vm.vm_id)
    bucket = K.records .. name
    vm.bucket = bucket
    redis.call('ZADD', K.buckets, '0', name)
  end
  redis.call('HSET', bucket, vm.vm_id, vm.text)
end

-- A VM as scripts answer it: {vm_id, record text}, as last loaded or saved.
local function vm_reply(vm) return {vm.vm_id, vm.text} end

-- A flat field, value array (a hash's HGETALL) as a map.
local function record_map(flat)
  local m = {}
  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end
  return m
end

local COUNT_FIELD = {provisioning = 'count:provisioning', available = 'count:available', error = 'count:error',
                     deprovisioning = 'count:deprovisioning'}

-- by: '1' or '-1'
local function count_status(status, by)
  local field = COUNT_FIELD[status]
  if field then redis.call('HINCRBY', K.pool, field, by) end
end

local function vm_count() return tonumber(redis.call('HGET', K.pool, 'vm_count')) or 0 end

-- IPs. K.ips .. <n> (n from 0 to 4095, from an IPv4 address' last twelve bits; 'other' for any
-- other address) maps each address in use to its VM's id, so that no address is given twice and a
-- VM can be found by its address. As with the VMs' buckets, one that has come to hold more than
-- the pool's bucket_split_at addresses is split by the four bits before (K.ips .. <n> .. ':' ..
-- <0 to 15>, a part), and an address is looked for in its bucket, then in its part. Nothing lists
-- them in order, so an address may go to its bucket again after a split (when its part holds
-- none): each address is in one of the two.
local IP_PART = {} -- the part's suffix by the address' third number
for c = 0, 255 do IP_PART[c] = ':' .. (c - c % 16) / 16 end

-- The key of `ip`'s bucket, and the third number of an IPv4 address (nil for others: no parts).
local function ip_bucket(ip)
  local c, d = ip:match('(%d+)%.(%d+)$')
  if not c then return K.ips .. 'other' end
  c = tonumber(c) % 256
  return K.ips .. ((c % 16) * 256 + tonumber(d)), c
end

local function ip_owner(ip)
  local bucket, c = ip_bucket(ip)
  local id = redis.call('HGET', bucket, ip)
  if id or not c then return id end
  return redis.call('HGET', bucket .. IP_PART[c], ip)
end

-- Records that `ip` is VM `id`'s: in its part when that holds addresses, else in its bucket,
-- which is split once it holds more than bucket_split_at.
local function index_ip(ip, id)
  local bucket, c = ip_bucket(ip)
  if c and redis.call('EXISTS', bucket .. IP_PART[c]) == 1 then
    redis.call('HSET', bucket .. IP_PART[c], ip, id)
    return
  end
  redis.call('HSET', bucket, ip, id)
  if c and redis.call('HLEN', bucket) > split_limit() then
    split_hash(bucket, function(address) return bucket .. IP_PART[tonumber(address:match('(%d+)%.%d+$')) % 256] end)
  end
end

local function unindex_ip(ip)
  local bucket, c = ip_bucket(ip)
  if redis.call('HDEL', bucket, ip) == 0 and c then redis.call('HDEL', bucket .. IP_PART[c], ip) end
end

-- Records of the VMs a user holds, sorted by id.
local function held_records(name)
  local ids = redis.call('SMEMBERS', K.held .. name)
  table.sort(ids)
  local out = {}
  for _, id in ipairs(ids) do
    local vm = load_vm(id)
    if vm then out[#out + 1] = vm_reply(vm) end
  end
  return out
end

-- History: every state change appends one event to the capped stream K.events in the script that
-- makes the change, so history and state never disagree. The entry id is Redis' time in ms.
-- event(action, actor, vm_id, ip, user, status, detail): action; actor (who asked: a user's or
-- principal's name, "system" for a lease that ran out); then, each only when it applies (nil or
-- "" leave the field out), the VM (vm_id, ip), the user it concerns, the VM's status after it
-- (the outcome) and a detail (a lease length, a new quota...). The stream keeps about the last
-- EVENTS_KEPT events. (Positional and without a loop: a checkout and a checkin each add one; an
-- event with a VM, its address, a user and a status, as theirs, is sent without building a table,
-- 0.3 µs less by bench/lua_costs.py.)
local EVENTS_KEPT = '100000'

local function append_event(...)
  redis.call('XADD', K.events, 'MAXLEN', '~', EVENTS_KEPT, '*', ...)
end

local function event(action, actor, vm_id, ip, user, status, detail)
  if vm_id and vm_id ~= '' and ip and ip ~= '' and user and user ~= '' and status and status ~= '' then
    if detail and detail ~= '' then
      return append_event('action', action, 'actor', actor, 'vm_id', vm_id, 'ip', ip, 'user', user, 'status', status,
                          'detail', detail)
    end
    return append_event('action', action, 'actor', actor, 'vm_id', vm_id, 'ip', ip, 'user', user, 'status', status)
  end
  local args = {'action', action, 'actor', actor, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} -- room for the five optional fields
  local n = 4
  if vm_id and vm_id ~= '' then args[n + 1], args[n + 2], n = 'vm_id', vm_id, n + 2 end
  if ip and ip ~= '' then args[n + 1], args[n + 2], n = 'ip', ip, n + 2 end
  if user and user ~= '' then args[n + 1], args[n + 2], n = 'user', user, n + 2 end
  if status and status ~= '' then args[n + 1], args[n + 2], n = 'status', status, n + 2 end
  if detail and detail ~= '' then args[n + 1], args[n + 2], n = 'detail', detail, n + 2 end
  append_event(unpack(args, 1, n))
end

-- Available VMs. Each VM that becomes available is pushed to the free list of its size,
-- K.free .. size (K.free .. '' for VMs without a size, from pools without a catalog), and has
-- the time in its field available_since. A checkout pops from the front, so the VM available
-- longest goes first, and idle cleanup looks only at the front. Whatever else takes a VM out of
-- `available` (a delete, idle cleanup) leaves its entry, which is dropped when it reaches the
-- front: an entry counts only while its VM exists and is available.
-- Sets `vm`'s status, counting it (from none for a new VM), from time t (default now); the
-- caller saves the VM.
local function set_status(vm, to, t)
  if vm.status then count_status(vm.status, '-1') end
  count_status(to, '1')
  vm.status = to
  if to == 'available' then
    vm.available_since = ms_text(t or now())
    redis.call('RPUSH', K.free .. (vm.size or ''), vm.vm_id)
  else
    vm.available_since = nil
  end
end

-- The map of the available VM at the front of the free list of `size`, popped; nil when none is.
local function pop_free(size)
  while true do
    local id = redis.call('LPOP', K.free .. size)
    if not id then return nil end
    local vm = load_vm(id)
    if vm and vm.status == 'available' then return vm end
  end
end

-- The sizes of the pool's catalog, in its order.
local function size_names()
  local names = {}
  for name in (redis.call('HGET', K.pool, 'sizes') or ''):gmatch('([%w_-]+)=') do names[#names + 1] = name end
  return names
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

-- Gives `vm` job `job`, due at `at` (default now); the caller saves the VM.
local function queue_job(vm, job, at)
  vm.job, vm.job_claim, vm.error = job, nil, nil
  redis.call('ZADD', K.jobs, at or now(), vm.vm_id)
end

local function end_job(vm)
  vm.job, vm.job_claim, vm.job_worker, vm.failures = nil, nil, nil, nil
  redis.call('ZREM', K.jobs, vm.vm_id)
end

-- What a VM coming back becomes, by the pool's on_return: status and job (nil: none).
local RETURN_TO = {reuse = {'available'}, reset = {'provisioning', 'reset'}, replace = {'deprovisioning', 'replace'}}

-- Returns a checked-out VM to the pool (checkin and lease reclamation), as the pool's on_return
-- says, and records it as event `action` by `actor`; for a VM that is not checked out it only
-- drops a stale lease entry. Saves the VM. t: the time, when at hand.
local function release(vm, action, actor, t)
  redis.call('ZREM', K.leases, vm.vm_id)
  if vm.status ~= 'checked-out' then return end
  local to = RETURN_TO[redis.call('HGET', K.pool, 'on_return') or 'reuse'] or RETURN_TO.reuse
  local holder = vm.user
  vm.user, vm.checked_out_at, vm.lease_expires_at, vm.lease_seconds, vm.claim_ticket = nil, nil, nil, nil, nil
  set_status(vm, to[1], t)
  if to[2] then queue_job(vm, to[2], t) end
  save_vm(vm)
  if holder then redis.call('SREM', K.held .. holder, vm.vm_id) end
  event(action, actor, vm.vm_id, vm.ip, holder, to[1])
  if not to[2] then serve_waiters() end
end

-- A lease that ran out: the VM returns to the pool, by no one's request. vm: its map when
-- already loaded.
local function expire(id, vm)
  vm = vm or load_vm(id)
  if vm then return release(vm, 'lease_expired', 'system') end
  redis.call('ZREM', K.leases, id)
end

-- Expired leases return their VMs to the pool before a script reads or changes reservations,
-- so no answer shows an expired lease as held. reclaim_expired takes the RECLAIM_BATCH that
-- expired first (every such script calls it, so a larger backlog drains over the next calls);
-- reclaim_vm, reclaim_held and locate_vm make one VM, or one user's count and quota, exact at once.
local RECLAIM_BATCH = '100'

local function reclaim_vm(t, id)
  local expiry = redis.call('ZSCORE', K.leases, id)
  if expiry and tonumber(expiry) <= t then expire(id) end
end

-- (each checked again: returning one VM may hand another of the batch to a waiter, with a new lease)
local function reclaim_expired(t)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.leases, '-inf', ms_text(t), 'LIMIT', '0', RECLAIM_BATCH)) do
    reclaim_vm(t, id)
  end
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

-- The VM named by id and/or ip (both given: must be the same VM) -> id, map. If its lease ran
-- out by time t, it is reclaimed first.
local function locate_vm(id, ip, t)
  if ip ~= '' then
    local by_ip = ip_owner(ip)
    if by_ip and (id == '' or id == by_ip) then id = by_ip else id = '' end
  end
  local vm = id ~= '' and load_vm(id)
  if not vm then fail('VM_NOT_FOUND Could not find a vm with given details') end
  local expiry = tonumber(vm.lease_expires_at)
  if expiry and expiry <= t then expire(id, vm) end
  return id, vm
end

-- User record {name, role, quota, created_at, held, max_lease, size_quotas} as a flat array
-- ("held" at index 10; max_lease and size_quotas "" when the user has none), nil when missing.
local function user_record(name)
  local u = load_user(name)
  if not u then return nil end
  return {'name', u.name, 'role', u.role, 'quota', u.quota, 'created_at', u.created_at,
          'held', redis.call('SCARD', K.held .. name), 'max_lease', u.max_lease or '', 'size_quotas', u.size_quotas or ''}
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
  for n = 0, 4096 do
    for _, ip in ipairs(redis.call('HKEYS', K.ips .. (n < 4096 and n or 'other'))) do
      local offset = (ip_number(ip) or -1) - block.base
      if offset >= 0 and offset < block.size then redis.call('SETBIT', K.ipbits, offset, 1) end
    end
  end
end

-- The lowest free address of the block, now taken; nil when the block is full.
local function take_block_ip(block)
  while true do
    local offset = redis.call('BITPOS', K.ipbits, 0)
    if offset < 0 or offset > block.last then return nil end
    redis.call('SETBIT', K.ipbits, offset, 1)
    local ip = ip_text(block.base + offset)
    if not ip_owner(ip) then return ip end
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
  local counts = redis.call('HMGET', K.pool, 'max_vm_count', 'vm_count', 'count:provisioning', 'count:available',
                            'count:error', 'count:deprovisioning')
  local out = {}
  for i = 1, 6 do out[i] = tonumber(counts[i]) or 0 end
  -- in STATUSES order, checked-out (the rest) after available
  out[7], out[6], out[5] = out[6], out[5], out[2] - out[3] - out[4] - out[5] - out[6]
  local block = ip_block()
  out[8] = block and block.cidr or ''
  out[9] = block and (block.last - block.first + 1) - redis.call('BITCOUNT', K.ipbits)
    + (block.first > 0 and 2 or 0) or -1
  return out
end

-- Leases. No lease, default or maximum is longer than a year.
local LEASE_LIMIT = 31536000

-- The lease, in seconds, that a checkout or a renewal gives `name`: ARGV[i] (seconds, "" for
-- none), else `fallback` (a renewal's previous length), else the gateway's default ARGV[i + 1]
-- ("" for none); nil means no lease. It is bounded by the caller's maximum: their own (user
-- field max_lease; `limits` from authenticate when at hand) or else the gateway's ARGV[i + 2].
-- Asking for more is BAD_REQUEST; a fallback or default above the maximum is cut to it.
local function lease_arg(i, name, fallback, limits)
  local requested = int_arg(i, 1, LEASE_LIMIT, 'lease_seconds', true)
  local default = int_arg(i + 1, 1, LEASE_LIMIT, 'default lease', true)
  local max = (limits or user_limits(name)).max_lease or int_arg(i + 2, 1, LEASE_LIMIT, 'maximum lease')
  local lease = requested or fallback or default
  if lease and lease > max then
    if requested then fail(('BAD_REQUEST the longest lease you may ask for is %d seconds'):format(max)) end
    lease = max
  end
  return lease
end

-- Gives checked-out `vm` a lease of `lease` seconds from time t: it ends at t + lease exactly,
-- in milliseconds, never earlier. The caller saves the VM.
local function set_lease(vm, t, lease)
  vm.lease_expires_at, vm.lease_seconds = ms_text(t + lease * 1000), tostring(lease)
  redis.call('ZADD', K.leases, vm.lease_expires_at, vm.vm_id)
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
-- a VM of any size they have room for: the first of the catalog's sizes that has one available,
-- then one without a size. `limits`: the user's, from authenticate, when at hand. Returns the
-- VM's map (saved), or nil when none is available.
-- Errors: QUOTA_EXCEEDED (checked first).
local function take_vm(name, default_quota, lease, t, detail, size, limits)
  size = size or ''
  limits = limits or user_limits(name)
  local quota = limits.quota or default_quota
  local held_key = K.held .. name
  local reclaimed = false
  if redis.call('SCARD', held_key) >= quota then
    reclaim_held(t, name) -- the caller's own leases that ran out do not count
    reclaimed = true
    if redis.call('SCARD', held_key) >= quota then
      fail('QUOTA_EXCEEDED quota of ' .. quota .. (quota == 1 and ' VM' or ' VMs') .. ' reached')
    end
  end
  local per_size = limits.size_quotas and parse_pairs(limits.size_quotas, '([%w_-]+)=(%d+)')
  local room = function() return true end
  if per_size and next(per_size) ~= nil then
    if not reclaimed then reclaim_held(t, name) end
    local held = {}
    for _, id in ipairs(redis.call('SMEMBERS', held_key)) do
      local s = (load_vm(id) or {}).size or ''
      held[s] = (held[s] or 0) + 1
    end
    room = function(s) return not per_size[s] or (held[s] or 0) < tonumber(per_size[s]) end
    if size ~= '' and not room(size) then
      local n = tonumber(per_size[size])
      fail(('QUOTA_EXCEEDED quota of %d %s %s reached'):format(n, size, n == 1 and 'VM' or 'VMs'))
    end
  end
  local vm
  if size ~= '' then
    vm = pop_free(size)
  else
    for s in (redis.call('HGET', K.pool, 'sizes') or ''):gmatch('([%w_-]+)=') do
      vm = room(s) and pop_free(s)
      if vm then break end
    end
    vm = vm or (room('') and pop_free(''))
  end
  if not vm then return nil end
  set_status(vm, 'checked-out', t)
  vm.user, vm.checked_out_at = name, ms_text(t)
  if lease then set_lease(vm, t, lease) end
  save_vm(vm)
  redis.call('SADD', held_key, vm.vm_id)
  event('checkout', name, vm.vm_id, vm.ip, name, 'checked-out',
        detail or (lease and ('lease ' .. vm.lease_seconds .. ' s') or 'no lease'))
  return vm
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

local function available_count() return tonumber(redis.call('HGET', K.pool, 'count:available')) or 0 end

serve_waiters = function()
  if serving or redis.call('ZCARD', K.waiters) == 0 then return end
  serving = true
  local t = now()
  -- in arrival order, as long as VMs are free (at most 1000 waiters looked at per call)
  for _, ticket in ipairs(redis.call('ZRANGE', K.waiters, 0, 999)) do
    if available_count() == 0 then break end
    local w = waiter_info(ticket)
    local ok, vm = true, nil
    if not w or not w.user or w.deadline <= t then
      redis.call('ZREM', K.waiters, ticket)
      redis.call('HDEL', K.waiting, ticket) -- gone or past its deadline: its gateway answers 503
    else
      ok, vm = pcall(take_vm, w.user, w.default_quota, CLAIM_SECONDS, t, 'handed to a waiting checkout', w.size)
    end
    if w and w.user and w.deadline > t and (vm or not ok) then -- served, or at its quota
      redis.call('ZREM', K.waiters, ticket)
      local answer
      if ok then
        vm.claim_ticket = ticket
        save_vm(vm)
        redis.call('HSET', K.waiting, ticket, 'handed ' .. vm.vm_id)
        answer = ticket .. ' ' .. vm.vm_id
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
  local t = now()
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
    local exists = vm_exists(id)
    if block and ip ~= '' and not exists then
      ip = take_block_ip(block)
      if not ip then
        if #out == 1 then fail('IP_POOL_EXHAUSTED no free address is left in the IP pool ' .. block.cidr) end
        want = #out - 1 -- as many as the block had room for
        break
      end
    end
    if (ip == '' or not ip_owner(ip)) and not exists then
      -- (no size: a pool without a catalog, written by an older gateway)
      local vm = {vm_id = id, size = size, cpu = size and cpu, memory_mb = size and memory, created_at = ms_text(t)}
      if ip ~= '' then
        vm.ip = ip
        index_ip(ip, id)
      end
      set_status(vm, status, t)
      if jobs then queue_job(vm, 'provision', t) end
      save_vm(vm)
      redis.call('HINCRBY', K.pool, 'vm_count', '1')
      event('create', actor, id, ip, nil, status, size)
      out[#out + 1] = vm_reply(vm)
    end
  end
  out[1] = want - (#out - 1)
  serve_waiters()
  split_buckets()
  return out
end

-- Removes a VM that nobody holds and everything that points at it, recorded as event `action`
-- (default 'delete') by `actor`.
local function remove_vm(vm, actor, detail, action)
  local id, bucket = vm.vm_id, vm.bucket
  redis.call('HDEL', bucket, id)
  if redis.call('EXISTS', bucket) == 0 then redis.call('ZREM', K.buckets, bucket:sub(#K.records + 1)) end
  redis.call('HINCRBY', K.pool, 'vm_count', '-1')
  count_status(vm.status, '-1')
  redis.call('ZREM', K.jobs, id)
  if vm.ip then
    unindex_ip(vm.ip)
    free_block_ip(vm.ip)
  end
  event(action or 'delete', actor, id, vm.ip, nil, 'deleted', detail)
end

-- Deletes an available or failed VM, as `actor`: at once, or with provisioning jobs it is
-- `deprovisioning` until the provider has destroyed its machine (finish_job.lua removes it then).
local function retire_vm(vm, actor, detail)
  if not provisioning_jobs() then return remove_vm(vm, actor, detail) end
  set_status(vm, 'deprovisioning')
  queue_job(vm, 'deprovision')
  save_vm(vm)
  event('delete', actor, vm.vm_id, vm.ip, nil, 'deprovisioning', detail)
end

-- The keys of the pool of prefix P by name (K), made once per pool: the library's locals outlive
-- a call, and naming sixteen keys costs more than finding them made.
local POOL_KEY_NAMES = {accounts = 'accounts:', names = 'names:', name_buckets = 'names', user = 'user:',
                        held = 'held:', records = 'records:',
                        buckets = 'buckets', free = 'free:', ips = 'ips:', pool = 'pool', leases = 'leases',
                        events = 'events', waiters = 'waiters', waiting = 'waiting', handoff = 'handoff:',
                        ipbits = 'ipbits', jobs = 'jobs'}
local keys_of_pool = {}

-- K for the declared keys `keys` ({P:pool, P:records:}), nil when they are not those.
local function pool_keys(keys)
  local known = keys_of_pool[keys[1]]
  if not known then
    local prefix = #keys == 2 and keys[1]:match('^(.+):pool$')
    if not prefix or keys[2] ~= prefix .. ':records:' then return nil end
    known = {}
    for name, suffix in pairs(POOL_KEY_NAMES) do known[name] = prefix .. ':' .. suffix end
    keys_of_pool[keys[1]] = known
  end
  return #keys == 2 and keys[2] == known.records and known or nil
end

-- The start of every function of the library: the call's keys and arguments become KEYS, ARGV
-- and K for the helpers above, and state kept across helpers starts afresh.
local function enter(keys, args)
  KEYS, ARGV, K = keys, args, pool_keys(keys)
  serving = false
  grown, split_at = {}, nil
end
