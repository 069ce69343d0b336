-- list_mine.lua: the VMs the caller holds. Their leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity.
-- Returns: an array of VMs sorted by id.
-- Errors: UNAUTHORIZED.
-- uses: errors, held, identity, leases, vms
return errors.run(KEYS, function(c)
  local name = identity.authenticate(c, ARGV[1])
  leases.reclaim_held(c, leases.now_reclaimed(c), name)
  local out = {}
  for _, id in ipairs(held.ids(c, name)) do
    local vm = vms.load(c, id)
    if vm then out[#out + 1] = vms.reply(vm) end
  end
  return out
end)
