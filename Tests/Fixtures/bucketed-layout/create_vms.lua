-- create_vms.lua: creates up to n VMs under the pool's cap (every VM counts, whatever its status):
--   available at once, or provisioning when the provider has work to do (_prelude.lua).
-- KEYS: the pool's two, see README.md; uses: accounts, names, pool, buckets, records, ips, free, events, ipbits, jobs.
-- ARGV[1]: identity (admin). ARGV[2]: n, 1..1000. ARGV[3]: size, one of the pool's catalog, or
--   "" for its first.
-- ARGV[4], ARGV[5]: the request's Idempotency-Key ("" for none) and window, as for checkout.lua.
--   ARGV[6]: "more" when this call creates the rest of a request with that key whose first call
--   fell short (its VMs are added to the kept answer), else "".
-- ARGV[7..]: candidates id, ip, id, ip, ... (at least n pairs), used in order; one whose id
--   or ip already exists is skipped; an ip "" leaves the address to the provider.
-- Returns: {shortfall, vm record, ...}: shortfall = how many of min(n, room under the cap)
--   could not be created because candidates ran out; with a key used before, the first
--   request's whole answer, shortfall 0.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, MAX_VM_COUNT, IDEMPOTENCY_MISMATCH.
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local n = int_arg(2, 1, 1000, 'count')
  local size = size_arg(3)
  local idem = idempotency(actor, 4, 'create', n, size)
  local more = ARGV[6] == 'more'
  if not more then
    local kept = kept_answer(idem)
    if kept then
      kept[1] = 0
      return kept
    end
  end
  local pairs_given = (#ARGV - 6) / 2
  if pairs_given < n or pairs_given % 1 ~= 0 then
    fail('BAD_REQUEST expected at least ' .. n .. ' candidate id, ip pairs')
  end
  for i = 7, #ARGV, 2 do
    if ARGV[i] == '' then fail('BAD_REQUEST candidate ids must not be empty') end
  end
  local cap = tonumber(redis.call('HGET', K.pool, 'max_vm_count')) or 0
  local room = cap - vm_count()
  if room <= 0 then fail('MAX_VM_COUNT Error: Maximum VM Count reached') end
  local out = create_from_candidates(actor, math.min(n, room), 7, size)
  local first = more and idempotency_entry(idem)
  if first and first.a then -- (what the first call was asked: this one asks only for the rest)
    first.a[1] = out[1]
    for i = 2, #out do first.a[#first.a + 1] = out[i] end
    idem.f = first.f
    keep_answer(idem, first.a)
  else
    keep_answer(idem, out)
  end
  return out
end)
