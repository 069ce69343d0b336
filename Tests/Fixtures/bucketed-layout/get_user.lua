-- get_user.lua: one user and the VMs they hold.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: name.
-- Returns: {user record, {vm record, ...}} (VMs sorted by vm_id).
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND.
return run(function()
  local _, role = authenticate(ARGV[1])
  require_admin(role)
  local name = str_arg(2, 'name')
  reclaim_held(now_reclaimed(), name)
  return {existing_user(name), held_records(name)}
end)
