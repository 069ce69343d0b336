-- pool_stats.lua: the cap and the VM counts.
-- KEYS: the pool's ten keys, see README.md; uses: tokens, user, pool, vms, status.
-- ARGV[1]: identity (admin).
-- Returns: {max_vm_count, total, provisioning, available, checked-out, error} (integers).
-- Errors: UNAUTHORIZED, FORBIDDEN.
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  return pool_stats()
end)
