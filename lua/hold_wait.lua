-- hold_wait.lua: the gateway of a waiting reservation renews its claim on the wait (every third
--   of the claim, while the request waits): a gateway that dies stops renewing, and the reaper
--   then ends the wait and gives its set-aside VMs back (lib/group_waiters.lua).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (the waiting caller). ARGV[2]: ticket. ARGV[3]: the claim, 1000..3600000 ms
--   from now.
-- Returns: 'waiting' (renewed), 'handed' (its reservation waits to be claimed) or 'gone' (the
--   wait is over: its claim ran out, or nothing is known of it).
-- Errors: UNAUTHORIZED, BAD_REQUEST.
-- uses: args, clock, errors, group_waiters, identity
return errors.run(KEYS, function(c)
  local name = identity.authenticate(c, ARGV[1])
  local ticket = args.str(ARGV, 2, 'ticket')
  local claim = args.int(ARGV, 3, 1000, 3600000, 'claim')
  local t = clock.now(c)
  group_waiters.reap(c, t)
  return group_waiters.hold(c, ticket, name, t, claim)
end)
