-- whoami.lua: the name and role a token belongs to; changes nothing. The gateway asks only when
--   a request failed its own input checks, so that the caller still comes first, as in every
--   other script: an unknown token is answered 401, a user on an admin route 403, and only then
--   bad input 400.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity.
-- Returns: {name, role}.
-- Errors: UNAUTHORIZED.
-- uses: errors, identity
return errors.run(KEYS, function(c)
  local name, role = identity.authenticate(c, ARGV[1])
  return {name, role}
end)
