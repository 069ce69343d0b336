-- rotate_token.lua: gives a user a new token; the old one stops working.
-- KEYS: the pool's two, see README.md; uses: accounts, names, name_buckets, held, events.
-- ARGV[1]: identity (admin). ARGV[2]: name. ARGV[3]: new token SHA-256, 64 hex digits.
-- Returns: the user record.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND, INVALID_STATE (hash in use).
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local name = str_arg(2, 'name')
  local hex = hex_arg(3)
  local rec = existing_user(name)
  unused_token(hex)
  local u = load_user(name)
  redis.call('HDEL', account_bucket(u.token), u.token)
  u.token = hex
  save_user(u)
  event('token_rotate', actor, nil, nil, name)
  return rec
end)
