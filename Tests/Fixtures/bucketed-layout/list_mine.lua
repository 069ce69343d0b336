-- list_mine.lua: the VMs the caller holds.
--   Leases that ran out are reclaimed first (reclaim_* in _prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, leases, events, pool, jobs.
-- ARGV[1]: identity.
-- Returns: an array of VM records sorted by vm_id.
-- Errors: UNAUTHORIZED.
return run(function()
  local name = authenticate(ARGV[1])
  reclaim_held(now_reclaimed(), name)
  return held_records(name)
end)
