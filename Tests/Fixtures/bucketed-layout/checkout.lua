-- checkout.lua: reclaims expired leases, then checks out any available VM to the caller.
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, leases, events, pool, jobs
--   (and user .. name .. ':idem:' .. key).
-- ARGV[1]: identity. ARGV[2]: default quota 0..1000000 (for callers whose user hash has none,
--   e.g. p: principals). ARGV[3]: lease seconds 1..31536000, or "" for the default.
--   ARGV[4]: the gateway's default lease in seconds, or "" for none (no lease).
--   ARGV[5]: the gateway's maximum lease in seconds (a user's own max_lease wins), see lease_arg.
--   ARGV[6]: a size from the pool's catalog, or "" for any (see take_vm).
--   ARGV[7]: the request's Idempotency-Key, or "" for none. ARGV[8]: how long its answer is kept,
--   1..604800000 ms (see idempotency in _prelude.lua).
-- Returns: the VM record (checked-out): with a key used before, the first request's answer.
-- Errors: UNAUTHORIZED, BAD_REQUEST (also a lease over the caller's maximum), QUOTA_EXCEEDED
--   (checked first), NO_VM_AVAILABLE, IDEMPOTENCY_MISMATCH, IDEMPOTENCY_IN_PROGRESS.
return run(function()
  local name, _, limits = authenticate(ARGV[1])
  limits = limits or user_limits(name)
  local default_quota = int_arg(2, 0, 1000000, 'default quota')
  local size = size_arg(6)
  local idem = idempotency(name, 7, 'checkout', ARGV[3] or '', size)
  local kept = kept_answer(idem)
  if kept then return kept end
  local lease = lease_arg(3, name, nil, limits)
  local vm = take_vm(name, default_quota, lease, now_reclaimed(), nil, size, limits)
  if not vm then fail('NO_VM_AVAILABLE No VMs currently available, please try after some time') end
  local record = vm_reply(vm)
  keep_answer(idem, record)
  return record
end)
