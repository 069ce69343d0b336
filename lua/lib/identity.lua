-- identity: who calls. ARGV[1] of every script but those a gateway runs on its own behalf is
-- the caller: `t:<sha256 hex>` for a bearer token (looked up in P:tokens), `p:<name>` for a
-- principal the gateway vouches for itself (the configured admin token, compared in constant
-- time by the gateway, or `anonymous` in dev mode; such principals are admins with no user
-- record), or `u:<name>` for a user the gateway identified by an identity token (OIDC) it
-- verified, who must exist and acts with the role vmreserve gave them.
-- uses: errors, users

-- The caller of identity `ident`: their name, role and user map (users.load; nil for a
-- principal). Errors: UNAUTHORIZED.
function identity.authenticate(c, ident)
  ident = ident or ''
  local kind, rest = ident:sub(1, 2), ident:sub(3)
  if rest ~= '' then
    if kind == 'p:' then return rest, 'admin', nil end
    local u = (kind == 't:' and users.by_token(c, rest)) or (kind == 'u:' and users.load(c, rest)) or nil
    if u then return u.name, u.role, u end
  end
  errors.fail('UNAUTHORIZED missing, unknown or revoked token')
end

-- Errors: FORBIDDEN unless `role` is admin.
function identity.require_admin(role)
  if role ~= 'admin' then errors.fail('FORBIDDEN this operation needs the admin role') end
end
