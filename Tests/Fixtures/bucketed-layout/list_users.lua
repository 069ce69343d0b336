-- list_users.lua: every user in name order.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, name_buckets, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity (admin).
-- Returns: an array of user records.
-- Errors: UNAUTHORIZED, FORBIDDEN.
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  local t = now_reclaimed()
  local names = {}
  for _, bucket in ipairs(redis.call('ZRANGE', K.name_buckets, 0, -1)) do
    for _, name in ipairs(redis.call('HKEYS', K.names .. bucket)) do names[#names + 1] = name end
  end
  table.sort(names)
  local out = {}
  for i, name in ipairs(names) do
    reclaim_held(t, name)
    out[i] = user_record(name)
  end
  return out
end)
