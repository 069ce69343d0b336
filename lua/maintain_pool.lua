-- maintain_pool.lua: idle cleanup and the warm pool, run by every gateway that is configured for
--   them (Sources/Reservations/PoolKeeper.swift). Atomic, so any number of gateways may run it.
--   1. Deletes available VMs nobody has checked out for `idle` seconds, the longest idle first
--      (P:idle, see lib/available.lua), never leaving fewer than `min_ready` available (with
--      provisioning jobs: deprovisions them).
--   2. Creates VMs (within the cap, from the candidates) until `min_ready` are available or
--      being provisioned.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: idle seconds 1..31536000, or "" for no idle cleanup. ARGV[2]: min_ready 0..1000000.
--   ARGV[3..]: candidate id, ip pairs for new VMs, as for create_vms.lua (as many as may be needed).
-- Returns: {VMs deleted, VMs created}.
-- Errors: BAD_REQUEST.
-- uses: args, available, clock, creation, errors, leases, pool, vms
return errors.run(KEYS, function(c)
  local idle = args.int(ARGV, 1, 1, leases.LIMIT, 'idle', true)
  local min_ready = args.int(ARGV, 2, 0, 1000000, 'min_ready')
  local t = clock.now(c)
  local deleted = 0
  if idle then
    local spare = math.min(pool.available_count(c) - min_ready, 1000)
    if spare > 0 then
      for _, id in ipairs(available.idle_since(c, t - idle * 1000, spare)) do
        creation.retire(c, vms.load(c, id), 'system', 'idle for ' .. idle .. ' s or more')
        deleted = deleted + 1
      end
    end
  end
  local created = 0
  local counts = redis.call('HMGET', c.k.pool, 'count:available', 'count:provisioning')
  local missing = min_ready - (tonumber(counts[1]) or 0) - (tonumber(counts[2]) or 0)
  local want = math.min(missing, pool.cap(c) - pool.vm_count(c), math.floor((#ARGV - 2) / 2))
  if want > 0 then
    local ok, out = pcall(creation.from_candidates, c, 'system', want, ARGV, 3)
    if ok then created = #out - 1 end -- a full IP pool: nothing to create now
  end
  return {deleted, created}
end)
