-- rotate_token.lua: gives a user a new token; the old one stops working.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: name. ARGV[3]: new token SHA-256, 64 hex digits.
-- Returns: the user.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, USER_NOT_FOUND, INVALID_STATE (hash in use).
-- uses: args, errors, events, identity, users
return errors.run(KEYS, function(c)
  local actor, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local name = args.str(ARGV, 2, 'name')
  local hex = args.hex(ARGV, 3)
  local reply = users.existing_reply(c, name)
  users.token_unused(c, hex)
  redis.call('HDEL', c.k.tokens, redis.call('HGET', c.k.user .. name, 'token'))
  redis.call('HSET', c.k.tokens, hex, name)
  redis.call('HSET', c.k.user .. name, 'token', hex)
  events.append(c, 'token_rotate', actor, nil, nil, name)
  return reply
end)
