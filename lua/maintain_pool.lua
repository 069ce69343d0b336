-- maintain_pool.lua: idle cleanup and the warm pool, run by every gateway that is configured for
--   them (Sources/Reservations/PoolKeeper.swift). Atomic, so any number of gateways may run it.
--   1. Deletes available VMs nobody has checked out for `idle` seconds, the longest idle first,
--      never leaving fewer than `min_ready` available (with provisioning jobs: deprovisions them).
--   2. Creates VMs (within the cap, from the candidates) until `min_ready` are available or
--      being provisioned.
-- KEYS: the pool's seventeen keys, see README.md; uses: pool, vms, vm, status, ips, ipbits, idle,
--   events, waiters, waiting, handoff, jobs.
-- ARGV[1]: idle seconds 1..31536000, or "" for no idle cleanup. ARGV[2]: min_ready 0..1000000.
--   ARGV[3..]: candidate id, ip pairs for new VMs, as for create_vms.lua (as many as may be needed).
-- Returns: {VMs deleted, VMs created}.
-- Errors: BAD_REQUEST.
return run(function()
  local idle = int_arg(1, 1, LEASE_LIMIT, 'idle', true)
  local min_ready = int_arg(2, 0, 1000000, 'min_ready')
  local t = now()
  local deleted = 0
  local spare = redis.call('SCARD', K.status .. 'available') - min_ready
  if idle and spare > 0 then
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.idle, '-inf', t - idle * 1000, 'LIMIT', 0, math.min(spare, 1000))) do
      local vm = record_map(vm_record(id))
      if vm.status == 'available' then
        retire_vm(id, vm, 'system', 'idle for ' .. idle .. ' s or more')
        deleted = deleted + 1
      else
        redis.call('ZREM', K.idle, id) -- not available: no longer idle
      end
    end
  end
  local created = 0
  local missing = min_ready - redis.call('SCARD', K.status .. 'available') - redis.call('SCARD', K.status .. 'provisioning')
  local room = (tonumber(redis.call('HGET', K.pool, 'max_vm_count')) or 0) - redis.call('ZCARD', K.vms)
  local want = math.min(missing, room, math.floor((#ARGV - 2) / 2))
  if want > 0 then
    local ok, out = pcall(create_from_candidates, 'system', want, 3)
    if ok then created = #out - 1 end -- a full IP pool: nothing to create now
  end
  return {deleted, created}
end)
