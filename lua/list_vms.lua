-- list_vms.lua: one page of all VMs in vm_id order, optionally of one status.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's seventeen keys, see README.md; uses: tokens, user, held, vm, vms, status, leases, events, pool, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: status filter or "". ARGV[3]: cursor or "" (page holds
--   ids > cursor). ARGV[4]: limit, 1..1000.
-- Returns: {next_cursor, vm record, ...}; next_cursor is "" on the last page. At most
--   SCAN_BUDGET ids are examined per call, so a filtered page may hold fewer than limit
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
  local from = str_arg(3, 'cursor', true)
  from = from == '' and '-' or '(' .. from
  local limit = int_arg(4, 1, 1000, 'limit')
  local t = now_reclaimed()
  local chunk = filter == '' and limit + 1 or 256
  local out, last, scanned = {''}, nil, 0
  while true do
    local ids = redis.call('ZRANGE', K.vms, from, '+', 'BYLEX', 'LIMIT', 0, chunk)
    for _, id in ipairs(ids) do
      if #out > limit or scanned == SCAN_BUDGET then -- more ids remain after `last`
        out[1] = last
        return out
      end
      scanned = scanned + 1
      reclaim_vm(t, id)
      if filter == '' or redis.call('SISMEMBER', K.status .. filter, id) == 1 then
        out[#out + 1] = vm_record(id)
      end
      last = id
    end
    if #ids < chunk then return out end
    from = '(' .. last
  end
end)
