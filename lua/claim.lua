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
-- uses: args, clock, errors, identity, idempotency, leases, users, vms
return errors.run(KEYS, function(c)
  local name, _, u = identity.authenticate(c, ARGV[1])
  local ticket = args.str(ARGV, 2, 'ticket')
  local lease = leases.arg(ARGV, 3, nil, users.limits(u))
  local idem = idempotency.of(c, ARGV, 6, name)
  local pending = idempotency.entry(idem)
  if not pending or pending.p ~= ticket then idem = nil end -- (not this request's: leave it)
  local t = leases.now_reclaimed(c)
  local state = redis.call('HGET', c.k.waiting, ticket)
  local id = state and state:match('^handed (%S+)$')
  redis.call('HDEL', c.k.waiting, ticket)
  local vm = id and vms.load(c, id)
  if vm then id, vm = leases.locate(c, id, '', t) end
  if not vm or vm.user ~= name or vm.claim_ticket ~= ticket then
    if idem then redis.call('DEL', idem.key) end
    errors.fail('NO_VM_AVAILABLE No VMs currently available, please try after some time')
  end
  -- the client has it from now: its checkout time and lease count from the claim
  leases.stop(c, vm)
  local changes = {claim_ticket = false, checked_out_at = clock.text(c, t), lease_expires_at = false, lease_seconds = false}
  if lease then leases.start(c, vm, name, t, lease, changes) end
  vms.update(c, vm, changes)
  local reply = vms.reply(vm)
  if idem then
    idem.f = pending.f
    idempotency.keep(idem, reply)
  end
  return reply
end)
