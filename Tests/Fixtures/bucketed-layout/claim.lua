-- claim.lua: a waiting checkout takes the VM that serve_waiters handed to it (see _prelude.lua):
--   the lease the request asked for (or the default, or none) replaces the claim lease, and
--   both the checkout time and the lease count from now.
-- KEYS: the pool's two, see README.md; uses: accounts, names, held, records, free, leases,
--   events, waiting, pool, jobs.
-- ARGV[1]: identity. ARGV[2]: ticket. ARGV[3..5]: lease asked, default lease, maximum lease.
--   ARGV[6], ARGV[7]: the waiting request's Idempotency-Key ("" for none) and window: the answer
--   is kept for it, or, without a VM, the key is free again.
-- Returns: the VM record.
-- Errors: UNAUTHORIZED, BAD_REQUEST, NO_VM_AVAILABLE (nothing handed to this ticket, or the
--   claim lease ran out first and the VM went back to the pool).
return run(function()
  local name = authenticate(ARGV[1])
  local ticket = str_arg(2, 'ticket')
  local lease = lease_arg(3, name)
  local idem = idempotency(name, 6)
  local pending = idempotency_entry(idem)
  if not pending or pending.p ~= ticket then idem = nil end -- (not this request's: leave it)
  local t = now_reclaimed()
  local state = redis.call('HGET', K.waiting, ticket)
  local id = state and state:match('^handed (%S+)$')
  redis.call('HDEL', K.waiting, ticket)
  local vm = id and load_vm(id)
  if vm then id, vm = locate_vm(id, '', t) end
  if not vm or vm.user ~= name or vm.claim_ticket ~= ticket then
    if idem then redis.call('DEL', idem.key) end
    fail('NO_VM_AVAILABLE No VMs currently available, please try after some time')
  end
  -- the client has it from now: its checkout time and lease count from the claim
  vm.claim_ticket, vm.checked_out_at = nil, t
  if lease then
    set_lease(vm, t, lease)
  else
    redis.call('ZREM', K.leases, id)
    vm.lease_expires_at, vm.lease_seconds = nil, nil
  end
  save_vm(vm)
  local record = vm_reply(vm)
  if idem then
    idem.f = pending.f
    keep_answer(idem, record)
  end
  return record
end)
