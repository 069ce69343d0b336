-- list_reservations.lua: the reservations the caller holds, with their VMs, oldest first. Their
--   leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity.
-- Returns: an array of reservations (reservations.reply).
-- Errors: UNAUTHORIZED.
-- uses: errors, identity, leases, reservations
return errors.run(KEYS, function(c)
  local name = identity.authenticate(c, ARGV[1])
  leases.reclaim_held(c, leases.now_reclaimed(c), name)
  local list = {}
  for _, id in ipairs(redis.call('SMEMBERS', c.k.reservations .. name)) do
    local r = reservations.load(c, id)
    if r then list[#list + 1] = r end
  end
  table.sort(list, function(a, b) return tonumber(a.created_at) < tonumber(b.created_at) or (a.created_at == b.created_at and a.id < b.id) end)
  local out = {}
  for i, r in ipairs(list) do out[i] = reservations.reply(c, r) end
  return out
end)
