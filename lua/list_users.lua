-- list_users.lua: every user in name order. Their leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin).
-- Returns: an array of users.
-- Errors: UNAUTHORIZED, FORBIDDEN.
-- uses: errors, identity, leases, users
return errors.run(KEYS, function(c)
  local _, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local t = leases.now_reclaimed(c)
  local names = redis.call('SMEMBERS', c.k.users)
  table.sort(names)
  local out = {}
  for i, name in ipairs(names) do
    leases.reclaim_held(c, t, name)
    out[i] = users.reply(c, name)
  end
  return out
end)
