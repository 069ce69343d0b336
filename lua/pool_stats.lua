-- pool_stats.lua: the cap, the VM counts and the IP pool. Leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin).
-- Returns: stats.of_pool (lib/stats.lua).
-- Errors: UNAUTHORIZED, FORBIDDEN.
-- uses: errors, identity, leases, stats
return errors.run(KEYS, function(c)
  local _, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  leases.now_reclaimed(c)
  return stats.of_pool(c)
end)
