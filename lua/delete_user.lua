-- delete_user.lua: removes a user who holds no VMs; their token stops working. Their leases
--   that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: name.
-- Returns: the user as they were.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND, INVALID_STATE (holds VMs).
-- uses: args, errors, events, held, identity, leases, users
return errors.run(KEYS, function(c)
  local actor, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local name = args.str(ARGV, 2, 'name')
  leases.reclaim_held(c, leases.now_reclaimed(c), name)
  local reply = users.existing_reply(c, name)
  local holds = held.count(c, name)
  if holds > 0 then errors.fail('INVALID_STATE user ' .. name .. ' holds ' .. holds .. ' VMs; check them in first') end
  users.remove(c, users.load(c, name))
  events.append(c, 'user_delete', actor, nil, nil, name)
  return reply
end)
