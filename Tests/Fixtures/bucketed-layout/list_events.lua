-- list_events.lua: one page of the history (see event() in _prelude.lua), oldest first.
-- KEYS: the pool's two, see README.md; uses: accounts, names, events.
-- ARGV[1]: identity. ARGV[2]: scope: "all" (admin only) or "mine" (events about the caller:
--   their checkouts, checkins, renewals, leases that ran out, changes to their account).
--   ARGV[3]: vm id to keep only that VM's events, or "". ARGV[4]: user name to keep only events
--   about that user, or "" (ignored for "mine"). ARGV[5]: since, Unix ms, or "" for the oldest
--   kept. ARGV[6]: cursor (an event id from a previous page: continue after it), or "".
--   ARGV[7]: limit 1..1000.
-- Returns: {next cursor ("" on the last page), event, ...}, each event a flat array of 'id' and
--   its fields. A filtered page looks at no more than SCAN_BUDGET events, so it may hold fewer
--   than `limit` (even none) while the cursor is set: keep following it.
-- Errors: UNAUTHORIZED, FORBIDDEN ("all" for a user), BAD_REQUEST.
local SCAN_BUDGET = 10000
return run(function()
  local name, role = authenticate(ARGV[1])
  local scope = ARGV[2]
  if scope == 'all' then
    require_admin(role)
  elseif scope ~= 'mine' then
    fail('BAD_REQUEST scope must be mine or all')
  end
  local vm_filter = str_arg(3, 'vm_id', true)
  local user_filter = scope == 'mine' and name or str_arg(4, 'user', true)
  local since = int_arg(5, 0, 253402300799999, 'since', true) -- up to the year 9999
  local cursor = str_arg(6, 'cursor', true)
  local limit = int_arg(7, 1, 1000, 'limit')
  local from = since and ('%d'):format(since) or '-' -- (tostring writes 1e14 and more as 1e+14)
  if cursor ~= '' then
    -- (digits a stream id can hold: found by schemathesis, a longer one made XRANGE fail)
    local ms, seq = cursor:match('^(%d+)%-(%d+)$')
    if not ms or #ms > 15 or #seq > 19 then fail('BAD_REQUEST cursor is not one this server gave') end
    from = '(' .. cursor
  end
  local filtered = vm_filter ~= '' or user_filter ~= ''
  local chunk = filtered and 256 or limit + 1
  local out, last, scanned = {''}, nil, 0
  while true do
    local entries = redis.call('XRANGE', K.events, from, '+', 'COUNT', chunk)
    for _, entry in ipairs(entries) do
      if #out > limit or scanned == SCAN_BUDGET then -- more events remain after `last`
        out[1] = last
        return out
      end
      scanned = scanned + 1
      local id, fields = entry[1], entry[2]
      local keep = true
      if filtered then
        local f = record_map(fields)
        keep = (vm_filter == '' or f.vm_id == vm_filter) and (user_filter == '' or f.user == user_filter)
      end
      if keep then
        local flat = {'id', id}
        for i = 1, #fields do flat[#flat + 1] = fields[i] end
        out[#out + 1] = flat
      end
      last = id
    end
    if #entries < chunk then return out end
    from = '(' .. last
  end
end)
