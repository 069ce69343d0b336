-- checkout.lua: reclaims expired leases, then checks out any available VM to the caller.
-- KEYS: the pool's eleven keys, see README.md; uses: tokens, user, held, vm, status, leases, events.
-- ARGV[1]: identity. ARGV[2]: default quota 0..1000000 (for callers whose user hash has none,
--   e.g. p: principals). ARGV[3]: lease seconds 1..31536000, or "" for the default.
--   ARGV[4]: the gateway's default lease in seconds, or "" for none (no lease).
--   ARGV[5]: the gateway's maximum lease in seconds (a user's own max_lease wins), see lease_arg.
-- Returns: the VM record (checked-out).
-- Errors: UNAUTHORIZED, BAD_REQUEST (also a lease over the caller's maximum), QUOTA_EXCEEDED
--   (checked first), NO_VM_AVAILABLE.
return run(function()
  local name = authenticate(ARGV[1])
  local default_quota = int_arg(2, 0, 1000000, 'default quota')
  local lease = lease_arg(3, name)
  local t = now_reclaimed()
  local quota = tonumber(redis.call('HGET', K.user .. name, 'quota')) or default_quota
  local function at_quota() return redis.call('SCARD', K.held .. name) >= quota end
  if at_quota() then
    reclaim_held(t, name) -- the caller's own leases that ran out do not count
    if at_quota() then
      fail('QUOTA_EXCEEDED quota of ' .. quota .. (quota == 1 and ' VM' or ' VMs') .. ' reached')
    end
  end
  local id = redis.call('SPOP', K.status .. 'available')
  if not id then fail('NO_VM_AVAILABLE No VMs currently available, please try after some time') end
  set_status(id, nil, 'checked-out', 'user', name, 'checked_out_at', t)
  if lease then set_lease(id, t, lease) end
  redis.call('SADD', K.held .. name, id)
  local rec = vm_record(id)
  event('checkout', name, {vm_id = id, ip = redis.call('HGET', K.vm .. id, 'ip'), user = name,
        status = 'checked-out', detail = lease and ('lease ' .. lease .. ' s') or 'no lease'})
  return rec
end)
