-- update_user.lua: changes a user's quota, role, maximum lease and/or quotas per size.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, name_buckets, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: name. ARGV[3]: quota 0..1000000 or "" (unchanged).
--   ARGV[4]: role, user or admin, or "" (unchanged). ARGV[5]: the user's own maximum lease in
--   seconds 1..31536000 (over the gateway's, e.g. for a CI fleet's long jobs), "none" to drop
--   it (the gateway's applies again), or "" (unchanged). Leases already given keep their end.
--   ARGV[6]: quotas per size, "name=n,..." (sizes of the pool's catalog, n 0..1000000; the
--   whole set, replacing the one before), "none" to drop them, or "" (unchanged).
-- Returns: the user record.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND, INVALID_STATE (a quota below
--   the number of VMs the user holds now: a user never holds more than their quota).
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local name = str_arg(2, 'name')
  local quota = int_arg(3, 0, 1000000, 'quota', true)
  local new_role = role_arg(4, true)
  local max_lease = ARGV[5] == 'none' and 'none' or int_arg(5, 1, LEASE_LIMIT, 'max_lease_seconds', true)
  local per_size = ARGV[6] or ''
  if per_size ~= '' and per_size ~= 'none' then
    local catalog, order = size_catalog()
    for entry in (per_size .. ','):gmatch('([^,]*),') do
      local size, n = entry:match('^([%w_-]+)=(%d+)$')
      if not size or not catalog[size] or tonumber(n) > 1000000 then
        fail('BAD_REQUEST size_quotas must map sizes (' .. table.concat(order, ', ') .. ') to whole numbers up to 1000000')
      end
    end
  end
  reclaim_held(now_reclaimed(), name)
  local rec = existing_user(name)
  if quota and rec[10] > quota then
    fail(('INVALID_STATE %s holds %d VMs, more than a quota of %d; they must check some in first')
         :format(name, rec[10], quota))
  end
  local u, set = load_user(name), {}
  if quota then u.quota = tostring(quota); set[#set + 1] = 'quota'; set[#set + 1] = quota end
  if new_role then u.role = new_role; set[#set + 1] = 'role'; set[#set + 1] = new_role end
  if max_lease == 'none' then
    u.max_lease = nil
  elseif max_lease then
    u.max_lease = tostring(max_lease); set[#set + 1] = 'max_lease'; set[#set + 1] = max_lease
  end
  if per_size == 'none' then
    u.size_quotas = nil
  elseif per_size ~= '' then
    u.size_quotas = per_size; set[#set + 1] = 'size_quotas'; set[#set + 1] = per_size
  end
  save_user(u)
  local changes = {}
  for i = 1, #set, 2 do changes[#changes + 1] = set[i] .. ' ' .. set[i + 1] end
  if max_lease == 'none' then changes[#changes + 1] = 'max_lease none' end
  if per_size == 'none' then changes[#changes + 1] = 'size_quotas none' end
  if #changes > 0 then event('user_update', actor, nil, nil, name, nil, table.concat(changes, ', ')) end
  return user_record(name)
end)
