-- take_job.lua: gives a provisioning worker the first due job (see "Provisioning" in
--   _prelude.lua) and claims it for `claim` ms: no other worker takes it until the claim runs
--   out, which the worker pushes back (extend_job.lua) as long as the provider works. Atomic, so
--   any number of workers may ask at once: a job is claimed by one.
-- KEYS: the pool's two, see README.md; uses: records, pool, jobs.
-- ARGV[1]: the claim, 1..3600000 ms (no identity: the gateway's own worker). ARGV[2]: the
--   worker's name (its gateway's id), recorded in the VM's `job_worker`.
-- Returns: {"job", vm id, job, claim (a number as text), VM record} for a job, else {"none",
--   when the next job is due in ms or -1 when there is none, Redis' time now in ms}.
-- Errors: BAD_REQUEST.
return run(function()
  local claim_ms = int_arg(1, 1, 3600000, 'claim')
  local worker = str_arg(2, 'worker')
  local t = now()
  while true do
    local due = redis.call('ZRANGEBYSCORE', K.jobs, '-inf', t, 'LIMIT', 0, 1)
    if #due == 0 then
      local first = redis.call('ZRANGE', K.jobs, 0, 0, 'WITHSCORES')
      return {'none', first[2] and tonumber(first[2]) or -1, t}
    end
    local id = due[1]
    local vm = load_vm(id)
    if vm and vm.job then
      local claim = tostring(redis.call('HINCRBY', K.pool, 'job_seq', 1))
      vm.job_claim, vm.job_worker = claim, worker
      save_vm(vm)
      redis.call('ZADD', K.jobs, t + claim_ms, id)
      return {'job', id, vm.job, claim, vm_reply(vm)}
    end
    redis.call('ZREM', K.jobs, id) -- a VM with no job left (or none at all): not work
  end
end)
