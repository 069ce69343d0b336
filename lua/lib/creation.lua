-- creation: VMs made and removed.
-- uses: available, clock, errors, events, ip_block, ips, jobs, pool, sizes, status, vms, waiters

-- Creates up to `want` VMs from the candidate id, ip pairs argv[first], argv[first + 1], ... (in
-- order; a candidate whose id or ip exists is skipped; with an IP pool the block's address
-- replaces the candidate's; an ip "" leaves the address to the provider), of `size` (nil or "":
-- the catalog's first), recorded as created by `actor`. They are available at once (and handed
-- to waiters), or with provisioning jobs `provisioning` until the provider is done.
-- Returns {shortfall, vm, ...}: shortfall = how many of `want` could not be created because
-- candidates ran out (a full IP pool ends the creation without one).
-- Errors: IP_POOL_EXHAUSTED (the block was full before the first).
function creation.from_candidates(c, actor, want, argv, first, size)
  local t = clock.now(c)
  local block = ip_block.of_pool(c)
  local catalog, order = sizes.catalog(c)
  size = (size ~= nil and size ~= '') and size or order[1]
  local cpu, memory = (catalog[size or ''] or ''):match('^(%d+):(%d+)$')
  local with_jobs = jobs.enabled(c)
  local to = with_jobs and 'provisioning' or 'available'
  local out = {0}
  for i = first, #argv - 1, 2 do
    if #out > want then break end
    local id, ip = argv[i], argv[i + 1]
    local exists = vms.exists(c, id)
    if block and ip ~= '' and not exists then
      ip = ip_block.take(c, block)
      if not ip then
        if #out == 1 then errors.fail('IP_POOL_EXHAUSTED no free address is left in the IP pool ' .. block.cidr) end
        want = #out - 1 -- as many as the block had room for
        break
      end
    end
    if (ip == '' or not ips.owner(c, ip)) and not exists then
      -- (no size: a pool without a catalog, written by an older gateway)
      local vm = vms.new(id)
      local fields = {size = size or false, cpu = size and cpu or false, memory_mb = size and memory or false,
                      created_at = clock.text(c, t), ip = ip ~= '' and ip}
      if ip ~= '' then ips.index(c, ip, id) end
      if with_jobs then jobs.queue(c, vm, 'provision', t, fields) end
      status.change(c, vm, to, fields)
      redis.call('HINCRBY', c.k.pool, 'vm_count', '1')
      events.append(c, 'create', actor, id, ip, nil, to, size)
      out[#out + 1] = vms.reply(vm)
    end
  end
  out[1] = want - (#out - 1)
  waiters.serve(c)
  return out
end

-- Removes a VM that nobody holds and everything that points at it, recorded as event `action`
-- (default 'delete') by `actor`.
function creation.remove(c, vm, actor, detail, action)
  if vm.status == 'available' then available.remove(c, vm) end
  pool.count(c, vm.status, '-1')
  redis.call('HINCRBY', c.k.pool, 'vm_count', '-1')
  redis.call('ZREM', c.k.jobs, vm.id)
  if vm.ip then
    ips.unindex(c, vm.ip)
    ip_block.free(c, vm.ip)
  end
  vms.delete(c, vm)
  events.append(c, action or 'delete', actor, vm.id, vm.ip, nil, 'deleted', detail)
end

-- Deletes an available or failed VM, as `actor`: at once, or with provisioning jobs it is
-- `deprovisioning` until the provider has destroyed its machine (finish_job.lua removes it then).
function creation.retire(c, vm, actor, detail)
  if not jobs.enabled(c) then return creation.remove(c, vm, actor, detail) end
  local changes = {}
  jobs.queue(c, vm, 'deprovision', nil, changes)
  status.change(c, vm, 'deprovisioning', changes)
  events.append(c, 'delete', actor, vm.id, vm.ip, nil, 'deprovisioning', detail)
end
