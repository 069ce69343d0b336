-- set_pool.lua: sets the VM cap (below the current count it only refuses new creates) and/or
--   the IP pool new VMs take their addresses from (VMs that exist keep theirs).
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, buckets, free, pool, leases, events, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: max_vm_count, 0..1000000, or "" (unchanged).
--   ARGV[3]: ip_pool: a CIDR block /12 to /32 (network address), "none" for random public
--   addresses, or "" (unchanged).
-- Returns: pool_stats() of _prelude.lua.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST.
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local cap = int_arg(2, 0, 1000000, 'max_vm_count', true)
  local cidr = ARGV[3] or ''
  if not cap and cidr == '' then fail('BAD_REQUEST give max_vm_count, ip_pool or both') end
  if cap then
    redis.call('HSET', K.pool, 'max_vm_count', cap)
    event('set_cap', actor, nil, nil, nil, nil, 'max_vm_count ' .. cap)
  end
  if cidr ~= '' then
    configure_ip_pool(cidr == 'none' and '' or cidr)
    event('set_ip_pool', actor, nil, nil, nil, nil, 'ip_pool ' .. cidr)
  end
  now_reclaimed()
  return pool_stats()
end)
