-- list_users.lua: every user in name order.
-- KEYS: the pool's ten keys, see README.md; uses: tokens, user, users, held.
-- ARGV[1]: identity (admin).
-- Returns: an array of user records.
-- Errors: UNAUTHORIZED, FORBIDDEN.
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  local out = {}
  for _, name in ipairs(redis.call('ZRANGE', K.users, 0, -1)) do
    out[#out + 1] = user_record(name)
  end
  return out
end)
