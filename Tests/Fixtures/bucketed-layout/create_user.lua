-- create_user.lua: creates a user with a token (given as its SHA-256 hex).
-- KEYS: the pool's two, see README.md; uses: accounts, names, name_buckets, held, events.
-- ARGV[1]: identity (admin). ARGV[2]: name (1..64 of [A-Za-z0-9._-]). ARGV[3]: role, user or
--   admin. ARGV[4]: quota, 0..1000000. ARGV[5]: token SHA-256, 64 hex digits.
-- Returns: the user record.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, INVALID_STATE (name exists or is one the gateway
--   uses for its own admins, `admin` and `anonymous`; token hash in use).
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local name = str_arg(2, 'name')
  if #name > 64 or not name:match('^[%w._-]+$') then
    fail('BAD_REQUEST name must be 1 to 64 characters of A-Z a-z 0-9 . _ -')
  end
  if name == 'admin' or name == 'anonymous' then
    fail('INVALID_STATE the name ' .. name .. " is reserved for the gateway's own admins")
  end
  local new_role = role_arg(3)
  local quota = int_arg(4, 0, 1000000, 'quota')
  local hex = hex_arg(5)
  if load_user(name) then
    fail('INVALID_STATE user ' .. name .. ' already exists')
  end
  unused_token(hex)
  save_user({token = hex, name = name, role = new_role, quota = tostring(quota), created_at = ms_text(now())})
  event('user_create', actor, nil, nil, name, nil, 'role ' .. new_role .. ', quota ' .. quota)
  return user_record(name)
end)
