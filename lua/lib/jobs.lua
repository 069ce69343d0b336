-- jobs: a provider outside Redis makes, resets and destroys the machines (a script cannot wait
-- on the outside world), driven from here. A VM with work for the provider has its job in
-- field `job` (provision, reset, deprovision, or replace: deprovision, then a fresh VM in its
-- place) and its id in the zset P:jobs, scored by when a worker may take it: at once for new
-- work, the end of the claim of the worker that has it, or a later try. Every gateway runs a
-- worker (Sources/Reservations/ProvisioningWorker.swift) that takes the first due job
-- (take_job.lua, which sets `job_claim`), renews its claim while the provider works
-- (extend_job.lua) and reports the outcome (finish_job.lua), which counts only with the claim
-- that is current. The VM's id is the provider's idempotency key, so a job done twice finds
-- the machine the first try made, and a machine is destroyed before the record that knows of it.
-- Pool fields the gateways write at start (init_pool.lua): `provisioning`, 'jobs' when VMs need
-- the provider's work or 'instant'; `on_return`, what a VM that comes back becomes: 'reuse'
-- (available again), 'reset' (provisioning until the provider has reset it) or 'replace'.
-- uses: clock

-- What a VM coming back becomes, by the pool's on_return: status and job (nil: none).
jobs.RETURN_TO = {reuse = {'available'}, reset = {'provisioning', 'reset'}, replace = {'deprovisioning', 'replace'}}

function jobs.enabled(c) return redis.call('HGET', c.k.pool, 'provisioning') == 'jobs' end

-- What a VM coming back becomes in this pool (an entry of RETURN_TO).
function jobs.return_to(c)
  return jobs.RETURN_TO[redis.call('HGET', c.k.pool, 'on_return') or 'reuse'] or jobs.RETURN_TO.reuse
end

-- Gives `vm` job `job`, due at `at` (default now): indexes it, and adds its fields to `changes`.
function jobs.queue(c, vm, job, at, changes)
  changes.job, changes.job_claim, changes.error = job, false, false
  redis.call('ZADD', c.k.jobs, clock.text(c, at or clock.now(c)), vm.id)
end

-- `vm` has no more work: drops it from P:jobs, and its job fields in `changes`.
function jobs.finish(c, vm, changes)
  changes.job, changes.job_claim, changes.job_worker, changes.failures = false, false, false, false
  redis.call('ZREM', c.k.jobs, vm.id)
end
