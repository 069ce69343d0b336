-- set_pool.lua: sets the VM cap (below the current count it only refuses new creates).
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's fourteen keys, see README.md; uses: tokens, user, held, vm, vms, status, pool, leases, events.
-- ARGV[1]: identity (admin). ARGV[2]: max_vm_count, 0..1000000.
-- Returns: {max_vm_count, total, provisioning, available, checked-out, error} (integers).
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST.
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local cap = int_arg(2, 0, 1000000, 'max_vm_count')
  redis.call('HSET', K.pool, 'max_vm_count', cap)
  event('set_cap', actor, {detail = 'max_vm_count ' .. cap})
  now_reclaimed()
  return pool_stats()
end)
