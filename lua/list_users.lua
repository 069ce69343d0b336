-- list_users.lua: every user in name order.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: tokens, user, users, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity (admin).
-- Returns: an array of user records.
-- Errors: UNAUTHORIZED, FORBIDDEN.
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  local t = now_reclaimed()
  local out = {}
  for _, name in ipairs(redis.call('ZRANGE', K.users, 0, -1)) do
    reclaim_held(t, name)
    out[#out + 1] = user_record(name)
  end
  return out
end)
