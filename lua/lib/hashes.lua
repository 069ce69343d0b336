-- hashes: a Redis hash read as a Lua table.
-- uses: (none)

-- The fields of hash `key` as a map field → value, nil when the hash does not exist.
function hashes.read(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end
