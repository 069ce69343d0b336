-- set_pool.lua: sets the VM cap (below the current count it only refuses new creates) and/or
--   the IP pool new VMs take their addresses from (VMs that exist keep theirs). Leases that ran
--   out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: max_vm_count, 0..1000000, or "" (unchanged).
--   ARGV[3]: ip_pool: a CIDR block /12 to /32 (network address), "none" for random public
--   addresses, or "" (unchanged).
-- Returns: stats.of_pool (lib/stats.lua).
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST.
-- uses: args, errors, events, identity, ip_block, leases, stats
return errors.run(KEYS, function(c)
  local actor, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local cap = args.int(ARGV, 2, 0, 1000000, 'max_vm_count', true)
  local cidr = ARGV[3] or ''
  if not cap and cidr == '' then errors.fail('BAD_REQUEST give max_vm_count, ip_pool or both') end
  if cap then
    redis.call('HSET', c.k.pool, 'max_vm_count', cap)
    events.append(c, 'set_cap', actor, nil, nil, nil, nil, 'max_vm_count ' .. cap)
  end
  if cidr ~= '' then
    ip_block.configure(c, cidr == 'none' and '' or cidr)
    events.append(c, 'set_ip_pool', actor, nil, nil, nil, nil, 'ip_pool ' .. cidr)
  end
  leases.now_reclaimed(c)
  return stats.of_pool(c)
end)
