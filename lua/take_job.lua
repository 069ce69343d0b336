-- take_job.lua: gives a provisioning worker the first due job (see lib/jobs.lua) and claims it
--   for `claim` ms: no other worker takes it until the claim runs out, which the worker pushes
--   back (extend_job.lua) as long as the provider works. Atomic, so any number of workers may
--   ask at once: a job is claimed by one.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: the claim, 1..3600000 ms (no identity: the gateway's own worker). ARGV[2]: the
--   worker's name (its gateway's id), recorded in the VM's `job_worker`.
-- Returns: {"job", vm id, job, claim (a number as text), VM} for a job, else {"none",
--   when the next job is due in ms or -1 when there is none, Redis' time now in ms}.
-- Errors: BAD_REQUEST.
-- uses: args, clock, errors, vms
return errors.run(KEYS, function(c)
  local claim_ms = args.int(ARGV, 1, 1, 3600000, 'claim')
  local worker = args.str(ARGV, 2, 'worker')
  local t = clock.now(c)
  while true do
    local due = redis.call('ZRANGEBYSCORE', c.k.jobs, '-inf', clock.text(c, t), 'LIMIT', 0, 1)
    if #due == 0 then
      local first = redis.call('ZRANGE', c.k.jobs, 0, 0, 'WITHSCORES')
      return {'none', first[2] and tonumber(first[2]) or -1, t}
    end
    local id = due[1]
    local vm = vms.load(c, id)
    if vm and vm.job then
      local claim = tostring(redis.call('HINCRBY', c.k.pool, 'job_seq', 1))
      vms.update(c, vm, {job_claim = claim, job_worker = worker})
      redis.call('ZADD', c.k.jobs, clock.text(c, t + claim_ms), id)
      return {'job', id, vm.job, claim, vms.reply(vm)}
    end
    redis.call('ZREM', c.k.jobs, id) -- a VM with no job left (or none at all): not work
  end
end)
