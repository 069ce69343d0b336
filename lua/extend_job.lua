-- extend_job.lua: a worker that still works on a job pushes the end of its claim to `claim` ms
--   from now; 0 gives the job up (a worker that stops), so that another takes it at once.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: vm id. ARGV[2]: the claim take_job.lua gave. ARGV[3]: 0..3600000 ms.
-- Returns: 1, or 0 when the claim is no longer the worker's (it ran out and another worker
--   took the job, or the job is over): the worker's outcome will not count.
-- Errors: BAD_REQUEST.
-- uses: args, clock, errors
return errors.run(KEYS, function(c)
  local id, claim = args.str(ARGV, 1, 'vm_id'), args.str(ARGV, 2, 'claim')
  local claim_ms = args.int(ARGV, 3, 0, 3600000, 'claim')
  if redis.call('HGET', c.k.vm .. id, 'job_claim') ~= claim then return 0 end
  redis.call('ZADD', c.k.jobs, clock.text(c, clock.now(c) + claim_ms), id)
  return 1
end)
