-- update_user.lua: changes a user's quota, role, maximum lease and/or quotas per size. Their
--   leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: name. ARGV[3]: quota 0..1000000 or "" (unchanged).
--   ARGV[4]: role, user or admin, or "" (unchanged). ARGV[5]: the user's own maximum lease in
--   seconds 1..31536000 (over the gateway's, e.g. for a CI fleet's long jobs), "none" to drop
--   it (the gateway's applies again), or "" (unchanged). Leases already given keep their end.
--   ARGV[6]: quotas per size, "name=n,..." (sizes of the pool's catalog, n 0..1000000; the
--   whole set, replacing the one before), "none" to drop them, or "" (unchanged).
-- Returns: the user.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND, INVALID_STATE (a quota below
--   the number of VMs the user holds now: a user never holds more than their quota).
-- uses: args, errors, events, held, identity, leases, sizes, users
return errors.run(KEYS, function(c)
  local actor, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local name = args.str(ARGV, 2, 'name')
  local quota = args.int(ARGV, 3, 0, 1000000, 'quota', true)
  local new_role = args.role(ARGV, 4, true)
  local max_lease = ARGV[5] == 'none' and 'none' or args.int(ARGV, 5, 1, leases.LIMIT, 'max_lease_seconds', true)
  local per_size = ARGV[6] or ''
  local new_quotas = {}
  if per_size ~= '' and per_size ~= 'none' then
    local catalog, order = sizes.catalog(c)
    for entry in (per_size .. ','):gmatch('([^,]*),') do
      local size, n = entry:match('^([%w_-]+)=(%d+)$')
      if not size or not catalog[size] or tonumber(n) > 1000000 then
        errors.fail('BAD_REQUEST size_quotas must map sizes (' .. table.concat(order, ', ') .. ') to whole numbers up to 1000000')
      end
      new_quotas[#new_quotas + 1], new_quotas[#new_quotas + 2] = 'quota:' .. size, n
    end
  end
  leases.reclaim_held(c, leases.now_reclaimed(c), name)
  local u = users.load(c, name) or errors.fail('USER_NOT_FOUND no user named ' .. name)
  local holds = held.count(c, name)
  if quota and holds > quota then
    errors.fail(('INVALID_STATE %s holds %d VMs, more than a quota of %d; they must check some in first')
                :format(name, holds, quota))
  end
  local key, set, changes = c.k.user .. name, {}, {}
  if quota then set[#set + 1], set[#set + 2] = 'quota', quota; changes[#changes + 1] = 'quota ' .. quota end
  if new_role then set[#set + 1], set[#set + 2] = 'role', new_role; changes[#changes + 1] = 'role ' .. new_role end
  if max_lease and max_lease ~= 'none' then
    set[#set + 1], set[#set + 2] = 'max_lease_seconds', max_lease
    changes[#changes + 1] = 'max_lease ' .. max_lease
  end
  if per_size ~= '' then -- the whole set: the quotas before go
    for field in pairs(u) do
      if field:match('^quota:') then redis.call('HDEL', key, field) end
    end
    for i = 1, #new_quotas do set[#set + 1] = new_quotas[i] end
    if per_size ~= 'none' then changes[#changes + 1] = 'size_quotas ' .. per_size end
  end
  if #set > 0 then redis.call('HSET', key, unpack(set)) end
  if max_lease == 'none' then
    redis.call('HDEL', key, 'max_lease_seconds')
    changes[#changes + 1] = 'max_lease none'
  end
  if per_size == 'none' then changes[#changes + 1] = 'size_quotas none' end
  if #changes > 0 then events.append(c, 'user_update', actor, nil, nil, name, nil, table.concat(changes, ', ')) end
  return users.reply(c, name)
end)
