-- finish_job.lua: records the outcome of a provider's work on a VM (see "Provisioning" in
--   _prelude.lua), if the worker's claim is still the current one.
--   provision or reset done: the VM is available, with the address and machine id the provider
--     gave (an address another VM has makes it an error instead), and handed to waiters.
--   provision or reset failed: the VM is `error`, with the message in field `error`; an admin
--     may retry it (retry_vm.lua) or delete it.
--   deprovision done: the VM is removed; for replace, a fresh VM of its size is created in its
--     place from the candidates (available at once, or provisioning), if the cap has room.
--   deprovision failed: it stays `deprovisioning`, with the message, and is tried again after
--     2^failures seconds (at most 300): a machine is never forgotten while it may exist.
-- KEYS: the pool's two, see README.md; uses: records, buckets, free, ips, ipbits, pool,
--   events, jobs, waiters, waiting, handoff.
-- ARGV[1]: vm id. ARGV[2]: the claim take_job.lua gave. ARGV[3]: "done" or "failed".
--   ARGV[4]: the address the provider gave, or "" (keep the VM's). ARGV[5]: the provider's
--   machine id, or "". ARGV[6]: the failure's message (at most 500 bytes), or "".
--   ARGV[7..]: candidate id, ip pairs for a replacement, as for create_vms.lua.
-- Returns: {"done", job, VM record or {} when removed}, or {"stale"} when the claim is no longer
--   current (another worker took the job over; its outcome counts, not this one).
-- Errors: BAD_REQUEST.
return run(function()
  local id, claim = str_arg(1, 'vm_id'), str_arg(2, 'claim')
  local outcome = ARGV[3]
  if outcome ~= 'done' and outcome ~= 'failed' then fail('BAD_REQUEST outcome must be done or failed') end
  local ip, machine, message = ARGV[4] or '', ARGV[5] or '', (ARGV[6] or ''):sub(1, 500)
  local vm = load_vm(id)
  if not vm or not vm.job or vm.job_claim ~= claim then return {'stale'} end
  local job = vm.job
  if job == 'provision' or job == 'reset' then
    if outcome == 'done' and ip ~= '' and ip ~= vm.ip then
      local other = ip_owner(ip)
      if other then
        outcome, message = 'failed', 'the provider gave address ' .. ip .. ', which VM ' .. other .. ' has'
      else
        if vm.ip then
          unindex_ip(vm.ip)
          free_block_ip(vm.ip)
        end
        index_ip(ip, id)
        vm.ip = ip
      end
    end
    if machine ~= '' then vm.machine_id = machine end
    end_job(vm)
    if outcome == 'done' then
      set_status(vm, 'available')
      save_vm(vm)
      event(job == 'reset' and 'reset' or 'provisioned', 'system', id, vm.ip, nil, 'available', machine)
      serve_waiters()
    else
      if message == '' then message = 'the provider failed' end
      set_status(vm, 'error')
      vm.error = message
      save_vm(vm)
      event(job .. '_failed', 'system', id, vm.ip, nil, 'error', message)
    end
    return {'done', job, vm_reply(load_vm(id))}
  end
  -- deprovision or replace
  if outcome == 'failed' then
    if message == '' then message = 'the provider failed' end
    local failures = (tonumber(vm.failures) or 0) + 1
    vm.failures, vm.error, vm.job_claim = failures, message, nil
    save_vm(vm)
    redis.call('ZADD', K.jobs, now() + math.min(2 ^ failures, 300) * 1000, id)
    event('deprovision_failed', 'system', id, vm.ip, nil, 'deprovisioning', message)
    return {'done', job, vm_reply(vm)}
  end
  remove_vm(vm, 'system', machine ~= '' and machine or vm.machine_id, 'deprovisioned')
  local cap = tonumber(redis.call('HGET', K.pool, 'max_vm_count')) or 0
  if job == 'replace' and vm_count() < cap then -- (a cap lowered meanwhile: none)
    local ok, out = pcall(create_from_candidates, 'system', 1, 7, vm.size)
    if ok and out[2] then return {'done', job, out[2]} end -- (a full IP pool: no replacement)
  end
  return {'done', job, {}}
end)
