-- maintain_pool.lua: idle cleanup and the warm pool, run by every gateway that is configured for
--   them (Sources/Reservations/PoolKeeper.swift). Atomic, so any number of gateways may run it.
--   1. Deletes available VMs nobody has checked out for `idle` seconds, the longest idle first,
--      never leaving fewer than `min_ready` available (with provisioning jobs: deprovisions them).
--      The longest idle are at the front of the free lists (see set_status in _prelude.lua).
--   2. Creates VMs (within the cap, from the candidates) until `min_ready` are available or
--      being provisioned.
-- KEYS: the pool's two, see README.md; uses: pool, records, buckets, free, ips, ipbits,
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
  if idle then
    local spare = math.min(available_count() - min_ready, 1000)
    local sizes = size_names()
    sizes[#sizes + 1] = ''
    for _, size in ipairs(sizes) do
      local list = K.free .. size
      while deleted < spare do
        local id = redis.call('LINDEX', list, 0)
        local vm = id and load_vm(id)
        if id and (not vm or vm.status ~= 'available') then
          redis.call('LPOP', list) -- an entry that no longer counts
        elseif vm and tonumber(vm.available_since) <= t - idle * 1000 then
          redis.call('LPOP', list)
          retire_vm(vm, 'system', 'idle for ' .. idle .. ' s or more')
          deleted = deleted + 1
        else
          break -- the rest of this list has been idle for less
        end
      end
    end
  end
  local created = 0
  local counts = redis.call('HMGET', K.pool, 'count:available', 'count:provisioning', 'max_vm_count')
  local missing = min_ready - (tonumber(counts[1]) or 0) - (tonumber(counts[2]) or 0)
  local room = (tonumber(counts[3]) or 0) - vm_count()
  local want = math.min(missing, room, math.floor((#ARGV - 2) / 2))
  if want > 0 then
    local ok, out = pcall(create_from_candidates, 'system', want, 3)
    if ok then created = #out - 1 end -- a full IP pool: nothing to create now
  end
  return {deleted, created}
end)
