-- users: one hash per user, P:user:<name>, with the fields role, quota, created_at (ms), token
-- (their token's SHA-256 hex), max_lease_seconds (when set), quota:<size> (a quota per size,
-- when set) and held:<size> (how many VMs of that size they hold, kept by held.add and
-- held.remove); P:tokens maps each token's SHA-256 to its user's name, and the set P:users
-- holds every name.
-- uses: errors, hashes

-- User `name` as a map of their fields plus `name`, nil when there is none.
function users.load(c, name)
  local u = hashes.read(c.k.user .. name)
  if u then u.name = name end
  return u
end

-- The user whose token has SHA-256 hex `hex` (see users.load), nil when there is none.
function users.by_token(c, hex)
  local name = redis.call('HGET', c.k.tokens, hex)
  return name and users.load(c, name)
end

-- The user's limits: {quota, max_lease, size_quotas (size → n, nil when none)}, each nil when
-- not set; all nil for u = nil (a principal the gateway vouches for, who has no record).
function users.limits(u)
  if not u then return {} end
  local per_size
  for field, value in pairs(u) do
    if field:find('quota:', 1, true) == 1 then
      per_size = per_size or {}
      per_size[field:sub(7)] = tonumber(value)
    end
  end
  return {quota = tonumber(u.quota), max_lease = tonumber(u.max_lease_seconds), size_quotas = per_size}
end

-- Creates user `name` with the fields `fields` (field → value), indexed by their token.
function users.create(c, name, fields)
  local flat, rest = {}, {}
  for _, field in ipairs({'role', 'quota', 'created_at', 'token', 'max_lease_seconds'}) do
    if fields[field] then flat[#flat + 1], flat[#flat + 2] = field, fields[field] end
  end
  for field in pairs(fields) do
    if field:find(':', 1, true) then rest[#rest + 1] = field end
  end
  table.sort(rest)
  for _, field in ipairs(rest) do flat[#flat + 1], flat[#flat + 2] = field, fields[field] end
  redis.call('HSET', c.k.user .. name, unpack(flat))
  redis.call('HSET', c.k.tokens, fields.token, name)
  redis.call('SADD', c.k.users, name)
end

-- Removes user `name` (their record, token and name; what they hold must be nothing).
function users.remove(c, u)
  redis.call('DEL', c.k.user .. u.name, c.k.held .. u.name, c.k.held_leases .. u.name)
  redis.call('HDEL', c.k.tokens, u.token)
  redis.call('SREM', c.k.users, u.name)
end

-- Fails unless no user has a token of SHA-256 `hex`.
function users.token_unused(c, hex)
  if redis.call('HEXISTS', c.k.tokens, hex) == 1 then errors.fail('INVALID_STATE this token hash is already in use') end
end

-- The quotas per size of user map `u` as text, "name=n,..." by name ("" for none).
function users.size_quotas_text(u)
  local entries = {}
  for field, value in pairs(u) do
    local size = field:match('^quota:(.+)$')
    if size then entries[#entries + 1] = size .. '=' .. value end
  end
  table.sort(entries)
  return table.concat(entries, ',')
end

-- User `name` as scripts answer a user: {name, role, quota, created_at, held, max_lease,
-- size_quotas} as a flat field, value array (max_lease and size_quotas "" when not set), nil
-- when there is no such user.
function users.reply(c, name)
  local u = users.load(c, name)
  if not u then return nil end
  return {'name', name, 'role', u.role, 'quota', u.quota, 'created_at', u.created_at,
          'held', redis.call('SCARD', c.k.held .. name), 'max_lease', u.max_lease_seconds or '',
          'size_quotas', users.size_quotas_text(u)}
end

-- users.reply of a user who must exist. Errors: USER_NOT_FOUND.
function users.existing_reply(c, name)
  return users.reply(c, name) or errors.fail('USER_NOT_FOUND no user named ' .. name)
end
