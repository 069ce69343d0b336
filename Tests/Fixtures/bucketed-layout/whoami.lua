-- whoami.lua: the name and role a token belongs to; changes nothing. The gateway asks only when
--   a request failed its own input checks, so that the caller still comes first, as in every
--   other script: an unknown token is answered 401, a user on an admin route 403, and only then
--   bad input 400.
-- KEYS: the pool's two, see README.md; uses: accounts, names.
-- ARGV[1]: identity.
-- Returns: {name, role}.
-- Errors: UNAUTHORIZED.
return run(function()
  local name, role = authenticate(ARGV[1])
  return {name, role}
end)
