-- create_user.lua: creates a user with a token (given as its SHA-256 hex).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: name (1..64 of [A-Za-z0-9._-]). ARGV[3]: role, user or
--   admin. ARGV[4]: quota, 0..1000000. ARGV[5]: token SHA-256, 64 hex digits.
-- Returns: the user.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, INVALID_STATE (name exists or is one the gateway
--   uses for its own admins, `admin` and `anonymous`; token hash in use).
-- uses: args, clock, errors, events, identity, users
return errors.run(KEYS, function(c)
  local actor, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local name = args.str(ARGV, 2, 'name')
  if #name > 64 or not name:match('^[%w._-]+$') then
    errors.fail('BAD_REQUEST name must be 1 to 64 characters of A-Z a-z 0-9 . _ -')
  end
  if name == 'admin' or name == 'anonymous' then
    errors.fail('INVALID_STATE the name ' .. name .. " is reserved for the gateway's own admins")
  end
  local new_role = args.role(ARGV, 3)
  local quota = args.int(ARGV, 4, 0, 1000000, 'quota')
  local hex = args.hex(ARGV, 5)
  if users.load(c, name) then errors.fail('INVALID_STATE user ' .. name .. ' already exists') end
  users.token_unused(c, hex)
  users.create(c, name, {role = new_role, quota = tostring(quota), created_at = clock.text(c, clock.now(c)), token = hex})
  events.append(c, 'user_create', actor, nil, nil, name, nil, 'role ' .. new_role .. ', quota ' .. quota)
  return users.reply(c, name)
end)
