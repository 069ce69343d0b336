-- extend_job.lua: a worker that still works on a job pushes the end of its claim to `claim` ms
--   from now; 0 gives the job up (a worker that stops), so that another takes it at once.
-- KEYS: the pool's two, see README.md; uses: records, jobs.
-- ARGV[1]: vm id. ARGV[2]: the claim take_job.lua gave. ARGV[3]: 0..3600000 ms.
-- Returns: 1, or 0 when the claim is no longer the worker's (it ran out and another worker
--   took the job, or the job is over): the worker's outcome will not count.
-- Errors: BAD_REQUEST.
return run(function()
  local id, claim = str_arg(1, 'vm_id'), str_arg(2, 'claim')
  local claim_ms = int_arg(3, 0, 3600000, 'claim')
  if (load_vm(id) or {}).job_claim ~= claim then return 0 end
  redis.call('ZADD', K.jobs, now() + claim_ms, id)
  return 1
end)
