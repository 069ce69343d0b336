-- pool_stats.lua: the cap and the VM counts.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's fourteen keys, see README.md; uses: tokens, user, held, vm, vms, status, pool, leases, events.
-- ARGV[1]: identity (admin).
-- Returns: {max_vm_count, total, provisioning, available, checked-out, error} (integers).
-- Errors: UNAUTHORIZED, FORBIDDEN.
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  now_reclaimed()
  return pool_stats()
end)
