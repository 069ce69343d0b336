-- checkout.lua: returns leases that ran out, then checks out an available VM to the caller
--   (checkouts.take: SPOP from the available set of a size the caller has room for).
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: default quota 0..1000000 (for callers whose user hash has none,
--   e.g. p: principals). ARGV[3]: lease seconds 1..31536000, or "" for the default.
--   ARGV[4]: the gateway's default lease in seconds, or "" for none (no lease).
--   ARGV[5]: the gateway's maximum lease in seconds (a user's own max_lease_seconds wins).
--   ARGV[6]: a size from the pool's catalog, or "" for any.
--   ARGV[7]: the request's Idempotency-Key, or "" for none. ARGV[8]: how long its answer is kept,
--   1..604800000 ms (see lib/idempotency.lua).
-- Returns: the VM (checked-out); with a key used before, the first request's answer.
-- Errors: UNAUTHORIZED, BAD_REQUEST (also a lease over the caller's maximum), QUOTA_EXCEEDED
--   (checked first), NO_VM_AVAILABLE, IDEMPOTENCY_MISMATCH, IDEMPOTENCY_IN_PROGRESS.
-- uses: checkouts, errors, idempotency, leases, vms
return errors.run(KEYS, function(c)
  local r = checkouts.request(c, ARGV, 6, 7)
  if r.kept then return r.kept end
  local vm = checkouts.take(c, r.name, r.user, r.default_quota, r.lease, leases.now_reclaimed(c), nil, r.size)
  if not vm then errors.fail('NO_VM_AVAILABLE No VMs currently available, please try after some time') end
  local reply = vms.reply(vm)
  idempotency.keep(r.idem, reply)
  return reply
end)
