-- get_user.lua: one user and the VMs they hold. Their leases that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: name.
-- Returns: {user, {VM, ...}} (VMs sorted by id).
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND.
-- uses: args, errors, held, identity, leases, users, vms
return errors.run(KEYS, function(c)
  local _, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local name = args.str(ARGV, 2, 'name')
  leases.reclaim_held(c, leases.now_reclaimed(c), name)
  local reply = users.existing_reply(c, name)
  local out = {}
  for _, id in ipairs(held.ids(c, name)) do
    local vm = vms.load(c, id)
    if vm then out[#out + 1] = vms.reply(vm) end
  end
  return {reply, out}
end)
