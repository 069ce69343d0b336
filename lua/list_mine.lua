-- list_mine.lua: the VMs the caller holds.
-- KEYS: the pool's ten keys, see README.md; uses: tokens, user, held, vm.
-- ARGV[1]: identity.
-- Returns: an array of VM records sorted by vm_id.
-- Errors: UNAUTHORIZED.
return run(function()
  return held_records((authenticate(ARGV[1])))
end)
