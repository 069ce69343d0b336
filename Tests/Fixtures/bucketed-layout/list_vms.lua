-- list_vms.lua: one page of all VMs in vm_id order, optionally of one status.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, buckets, free,
--   leases, events, pool, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: status filter or "". ARGV[3]: cursor or "" (page holds
--   ids > cursor). ARGV[4]: limit, 1..1000.
-- Returns: {next_cursor, vm record, ...}; next_cursor is "" on the last page. At most
--   SCAN_BUDGET VMs are examined per call, so a filtered page may hold fewer than limit
--   records (even none) with a non-empty next_cursor: the last id examined.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST.
local SCAN_BUDGET = 10000
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  local filter = str_arg(2, 'status', true)
  if filter ~= '' and not IS_STATUS[filter] then
    fail('BAD_REQUEST status must be one of ' .. table.concat(STATUSES, ', '))
  end
  local after = str_arg(3, 'cursor', true)
  local limit = int_arg(4, 1, 1000, 'limit')
  local t = now_reclaimed()
  -- the buckets from the cursor's on, in order; in each, its VMs sorted by id
  local from = after == '' and '-' or '[' .. after:sub(1, 3)
  -- (after a lease returned here, records read before may be out of date: read them again)
  local out, last, scanned, returned = {''}, nil, 0, false
  while true do
    local buckets = redis.call('ZRANGE', K.buckets, from, '+', 'BYLEX', 'LIMIT', 0, 16)
    for _, bucket in ipairs(buckets) do
      local flat = redis.call('HGETALL', K.records .. bucket)
      local records = {}
      for i = 1, #flat, 2 do
        if flat[i] > after then records[#records + 1] = {flat[i], flat[i + 1]} end
      end
      table.sort(records, function(a, b) return a[1] < b[1] end)
      for _, entry in ipairs(records) do
        if #out > limit or scanned == SCAN_BUDGET then -- more VMs remain after `last`
          out[1] = last
          return out
        end
        scanned = scanned + 1
        local id = entry[1]
        local vm
        if returned then vm = load_vm(id) else vm = decode_vm(id, entry[2], K.records .. bucket) end
        local expiry = vm and tonumber(vm.lease_expires_at)
        if expiry and expiry <= t then
          expire(id, vm)
          returned = true
        end
        if vm and (filter == '' or vm.status == filter) then out[#out + 1] = vm_reply(vm) end
        last = id
      end
    end
    if #buckets < 16 then return out end
    from = '(' .. buckets[#buckets]
  end
end)
