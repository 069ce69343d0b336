-- delete_user.lua: removes a user who holds no VMs; their token stops working.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, name_buckets, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: name.
-- Returns: the user record as it was.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND, INVALID_STATE (holds VMs).
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local name = str_arg(2, 'name')
  reclaim_held(now_reclaimed(), name)
  local rec = existing_user(name)
  local held = rec[10] -- value of the record's 'held' field
  if held > 0 then
    fail('INVALID_STATE user ' .. name .. ' holds ' .. held .. ' VMs; check them in first')
  end
  remove_user(load_user(name))
  redis.call('DEL', K.held .. name)
  event('user_delete', actor, nil, nil, name)
  return rec
end)
