-- finish_job.lua: records the outcome of a provider's work on a VM (see lib/jobs.lua), if the
--   worker's claim is still the current one.
--   provision or reset done: the VM is available, with the address and machine id the provider
--     gave (an address another VM has makes it an error instead), and handed to waiters.
--   provision or reset failed: the VM is `error`, with the message in field `error`; an admin
--     may retry it (retry_vm.lua) or delete it.
--   deprovision done: the VM is removed; for replace, a fresh VM of its size is created in its
--     place from the candidates (available at once, or provisioning), if the cap has room.
--   deprovision failed: it stays `deprovisioning`, with the message, and is tried again after
--     2^failures seconds (at most 300): a machine is never forgotten while it may exist.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: vm id. ARGV[2]: the claim take_job.lua gave. ARGV[3]: "done" or "failed".
--   ARGV[4]: the address the provider gave, or "" (keep the VM's). ARGV[5]: the provider's
--   machine id, or "". ARGV[6]: the failure's message (at most 500 bytes), or "".
--   ARGV[7..]: candidate id, ip pairs for a replacement, as for create_vms.lua.
-- Returns: {"done", job, VM or {} when removed}, or {"stale"} when the claim is no longer
--   current (another worker took the job over; its outcome counts, not this one).
-- Errors: BAD_REQUEST.
-- uses: args, clock, creation, errors, events, ip_block, ips, jobs, pool, status, vms, waiters
return errors.run(KEYS, function(c)
  local id, claim = args.str(ARGV, 1, 'vm_id'), args.str(ARGV, 2, 'claim')
  local outcome = ARGV[3]
  if outcome ~= 'done' and outcome ~= 'failed' then errors.fail('BAD_REQUEST outcome must be done or failed') end
  local ip, machine, message = ARGV[4] or '', ARGV[5] or '', (ARGV[6] or ''):sub(1, 500)
  local vm = vms.load(c, id)
  if not vm or not vm.job or vm.job_claim ~= claim then return {'stale'} end
  local job = vm.job
  if message == '' then message = 'the provider failed' end
  if job == 'provision' or job == 'reset' then
    local changes = {machine_id = machine ~= '' and machine or nil}
    if outcome == 'done' and ip ~= '' and ip ~= vm.ip then
      local other = ips.owner(c, ip)
      if other then
        outcome, message = 'failed', 'the provider gave address ' .. ip .. ', which VM ' .. other .. ' has'
      else
        if vm.ip then
          ips.unindex(c, vm.ip)
          ip_block.free(c, vm.ip)
        end
        ips.index(c, ip, id)
        changes.ip = ip
      end
    end
    jobs.finish(c, vm, changes)
    if outcome == 'done' then
      status.change(c, vm, 'available', changes)
      events.append(c, job == 'reset' and 'reset' or 'provisioned', 'system', id, vm.ip, nil, 'available', machine)
      waiters.serve(c)
    else
      changes.error = message
      status.change(c, vm, 'error', changes)
      events.append(c, job .. '_failed', 'system', id, vm.ip, nil, 'error', message)
    end
    return {'done', job, vms.reply(vms.load(c, id))}
  end
  -- deprovision or replace
  if outcome == 'failed' then
    local failures = (tonumber(vm.failures) or 0) + 1
    vms.update(c, vm, {failures = tostring(failures), error = message, job_claim = false})
    redis.call('ZADD', c.k.jobs, clock.text(c, clock.now(c) + math.min(2 ^ failures, 300) * 1000), id)
    events.append(c, 'deprovision_failed', 'system', id, vm.ip, nil, 'deprovisioning', message)
    return {'done', job, vms.reply(vm)}
  end
  creation.remove(c, vm, 'system', machine ~= '' and machine or vm.machine_id, 'deprovisioned')
  if job == 'replace' and pool.vm_count(c) < pool.cap(c) then -- (a cap lowered meanwhile: none)
    local ok, out = pcall(creation.from_candidates, c, 'system', 1, ARGV, 7, vm.size)
    if ok and out[2] then return {'done', job, out[2]} end -- (a full IP pool: no replacement)
  end
  return {'done', job, {}}
end)
