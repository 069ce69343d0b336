-- bucketed_users: moving the users of the bucketed layout (vmreserve up to commit c78e0e9) to
-- hashes of their own, in parts (init_pool.lua). That layout kept a user as one field of a
-- bucket hash P:accounts:<first 2 hex digits of their token's SHA-256>: that SHA-256 → their
-- record "name|role|quota|created_at|max_lease|size_quotas" (size_quotas "name=n,..."), and
-- each name in P:names:<first 2 hex digits of the name's SHA-1> (name → token SHA-256), those
-- buckets listed in the zset P:names. Held sets (P:held:<name>) are the same in both layouts.
-- uses: users

local USER_PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$'

-- Moves up to `batch` users of the name buckets; answers how many were moved.
function bucketed_users.move(c, batch)
  local names_key, accounts = c.k.prefix .. ':names', c.k.prefix .. ':accounts:'
  local moved = 0
  while moved < batch do
    local bucket = redis.call('ZRANGE', names_key, 0, 0)[1]
    if not bucket then break end
    local key = names_key .. ':' .. bucket
    local flat = redis.call('HGETALL', key)
    for i = 1, math.min(#flat, (batch - moved) * 2), 2 do
      local hex = flat[i + 1]
      local text = redis.call('HGET', accounts .. hex:sub(1, 2), hex)
      if text then
        local name, role, quota, created_at, max_lease, size_quotas = text:match(USER_PATTERN)
        local fields = {role = role, quota = quota, created_at = created_at, token = hex}
        if max_lease ~= '' then fields.max_lease_seconds = max_lease end
        for size, n in size_quotas:gmatch('([%w_-]+)=(%d+)') do fields['quota:' .. size] = n end
        users.create(c, name, fields)
        redis.call('HDEL', accounts .. hex:sub(1, 2), hex)
      end
      redis.call('HDEL', key, flat[i])
      moved = moved + 1
    end
    if redis.call('EXISTS', key) == 0 then redis.call('ZREM', names_key, bucket) end
  end
  return moved
end

-- Whether the pool still has users of the bucketed layout.
function bucketed_users.present(c) return redis.call('EXISTS', c.k.prefix .. ':names') == 1 end

-- Deletes the account buckets (every user of them moved; a record no name pointed at never
-- authenticated anyone by name and is dropped).
function bucketed_users.clear(c)
  local keys = {}
  for n = 0, 255 do keys[#keys + 1] = c.k.prefix .. (':accounts:%02x'):format(n) end
  redis.call('DEL', unpack(keys))
end
