-- list_vms.lua: one page of all VMs in id order (P:vms), optionally of one status. Leases that
--   ran out are returned first, those of the page's VMs included.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: status filter or "". ARGV[3]: cursor or "" (page holds
--   ids > cursor). ARGV[4]: limit, 1..1000.
-- Returns: {next_cursor, VM, ...}; next_cursor is "" on the last page. At most SCAN_BUDGET VMs
--   are examined per call, so a filtered page may hold fewer than limit VMs (even none) with a
--   non-empty next_cursor: the last id examined.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST.
-- uses: args, errors, identity, leases, vms
local SCAN_BUDGET = 10000
local STATUSES = {'provisioning', 'available', 'checked-out', 'error', 'deprovisioning', 'set-aside'}
local IS_STATUS = {}
for _, status in ipairs(STATUSES) do IS_STATUS[status] = true end
return errors.run(KEYS, function(c)
  local _, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local filter = args.str(ARGV, 2, 'status', true)
  if filter ~= '' and not IS_STATUS[filter] then
    errors.fail('BAD_REQUEST status must be one of ' .. table.concat(STATUSES, ', '))
  end
  local after = args.str(ARGV, 3, 'cursor', true)
  local limit = args.int(ARGV, 4, 1, 1000, 'limit')
  local t = leases.now_reclaimed(c)
  local from = after == '' and '-' or '(' .. after
  local out, last, scanned = {''}, nil, 0
  while true do
    local ids = redis.call('ZRANGE', c.k.vms, from, '+', 'BYLEX', 'LIMIT', 0, 256)
    for _, id in ipairs(ids) do
      if #out > limit or scanned == SCAN_BUDGET then -- more VMs remain after `last`
        out[1] = last
        return out
      end
      scanned = scanned + 1
      local vm = vms.load(c, id)
      local ends = vm and tonumber(vm.lease_expires_at)
      if ends and ends <= t then leases.expire(c, id, vm) end
      if vm and (filter == '' or vm.status == filter) then out[#out + 1] = vms.reply(vm) end
      last = id
    end
    if #ids < 256 then return out end
    from = '(' .. ids[#ids]
  end
end)
