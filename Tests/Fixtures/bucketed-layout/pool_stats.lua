-- pool_stats.lua: the cap, the VM counts and the IP pool.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, buckets, free, pool, leases, events, jobs.
-- ARGV[1]: identity (admin).
-- Returns: pool_stats() of _prelude.lua.
-- Errors: UNAUTHORIZED, FORBIDDEN.
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  now_reclaimed()
  return pool_stats()
end)
