-- claim.lua: a waiting checkout takes the VM that waiters.serve handed to it: the lease the
--   request asked for (or the default, or none) replaces the claim lease, and both the checkout
--   time and the lease count from now.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: ticket. ARGV[3..5]: lease asked, default lease, maximum lease.
--   ARGV[6], ARGV[7]: the waiting request's Idempotency-Key ("" for none) and window: the answer
--   is kept for it, or, without a VM, the key is free again.
-- Returns: the VM.
-- Errors: UNAUTHORIZED, BAD_REQUEST, NO_VM_AVAILABLE (nothing handed to this ticket, or the
--   claim lease ran out first and the VM went back to the pool).
-- uses: clock, errors, idempotency, leases, vms, waiters
return errors.run(KEYS, function(c)
  local r = waiters.claim_request(c, ARGV)
  redis.call('HDEL', c.k.waiting, r.ticket)
  local id, vm = r.handed, r.handed and vms.load(c, r.handed)
  if vm then id, vm = leases.locate(c, id, '', r.t) end
  if not vm or vm.user ~= r.name or vm.claim_ticket ~= r.ticket then waiters.nothing_to_claim(r) end
  -- the client has it from now: its checkout time and lease count from the claim
  leases.stop(c, vm)
  local changes = {claim_ticket = false, checked_out_at = clock.text(c, r.t), lease_expires_at = false, lease_seconds = false}
  if r.lease then leases.start(c, vm, r.name, r.t, r.lease, changes) end
  vms.update(c, vm, changes)
  local reply = vms.reply(vm)
  idempotency.keep(r.idem, reply)
  return reply
end)
