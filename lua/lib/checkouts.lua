-- checkouts: a VM taken by a user (with SPOP from an available set) and given back.
-- uses: args, available, clock, errors, events, held, identity, idempotency, jobs, leases, reservations, sizes, status,
--   users, vms, waiters

-- What checkout.lua and wait_checkout.lua are asked, checked in the same order: {name, user
-- (their map, nil for a principal), default_quota (argv[2]), size (argv[size_at], "" for any),
-- idem (the Idempotency-Key argv[key_at] and its window), kept (the answer kept for that key, if
-- any), lease (argv[3..5], see leases.arg; only when nothing is kept)}.
function checkouts.request(c, argv, size_at, key_at)
  local name, _, u = identity.authenticate(c, argv[1])
  local r = {name = name, user = u, default_quota = args.int(argv, 2, 0, 1000000, 'default quota'),
             size = sizes.arg(c, argv, size_at)}
  r.idem = idempotency.of(c, argv, key_at, name, 'checkout', argv[3] or '', r.size)
  r.kept = idempotency.kept(r.idem)
  if not r.kept then r.lease = leases.arg(argv, 3, nil, users.limits(u)) end
  return r
end

-- Checks a VM out to `name` (user map u, nil for a principal) at time t if they have room in
-- their quota (user field quota, else `default_quota`; their own leases that ran out do not
-- count) and, for a size they have a quota for (quota:<size>), in that one, with a lease of
-- `lease` seconds (nil: none). `size` "" takes a VM of any size they have room for: the first
-- of the catalog's sizes that has one available, then one without a size. Of those, SPOP picks
-- one at random. Neither check reads what the user holds: counts do (see held).
-- Returns the VM's map (saved), or nil when none is available. detail: the event's, else the
-- lease. reservation: the id of the reservation the VM joins (nil: none).
-- Errors: QUOTA_EXCEEDED (checked first).
function checkouts.take(c, name, u, default_quota, lease, t, detail, size, reservation)
  local limits = users.limits(u)
  local quota = limits.quota or default_quota
  local per_size = limits.size_quotas
  if held.count(c, name) >= quota or per_size then
    leases.reclaim_held(c, t, name) -- the caller's own leases that ran out do not count
    if held.count(c, name) >= quota then
      errors.fail('QUOTA_EXCEEDED quota of ' .. quota .. (quota == 1 and ' VM' or ' VMs') .. ' reached')
    end
  end
  local function room(s) return not per_size or not per_size[s] or held.count_of_size(c, name, s) < per_size[s] end
  if size ~= '' and not room(size) then
    local n = per_size[size]
    errors.fail(('QUOTA_EXCEEDED quota of %d %s %s reached'):format(n, size, n == 1 and 'VM' or 'VMs'))
  end
  local id
  if size ~= '' then
    id = available.pop(c, size)
  else
    for _, s in ipairs(sizes.names(c)) do
      id = room(s) and available.pop(c, s)
      if id then break end
    end
    id = id or available.pop(c, '')
  end
  if not id then return nil end
  local vm = vms.load(c, id)
  checkouts.hand(c, vm, name, u, lease, t, detail, reservation)
  return vm
end

-- Checks out `vm`, already out of its available set (available.pop, or set aside), to `name`
-- (user map u) at time t with a lease of `lease` seconds (nil: none); detail and reservation
-- as for checkouts.take. No quota is checked here.
function checkouts.hand(c, vm, name, u, lease, t, detail, reservation)
  local changes = {user = name, checked_out_at = clock.text(c, t), reservation = reservation, set_aside_for = false}
  if lease then leases.start(c, vm, name, t, lease, changes) end
  status.change(c, vm, 'checked-out', changes, true)
  held.add(c, name, vm, u)
  events.append(c, 'checkout', name, vm.id, vm.ip, name, 'checked-out',
                detail or (lease and ('lease ' .. vm.lease_seconds .. ' s') or 'no lease'), reservation)
end

-- Returns a checked-out VM to the pool (checkin, a lease that ran out, an abandoned claim), as
-- the pool's on_return says, recorded as event `action` by `actor`; for a VM that is not checked
-- out it only drops a stale lease entry. A VM of a reservation leaves it. VMs that become
-- available go to waiters at once.
function checkouts.release(c, vm, action, actor)
  leases.stop(c, vm)
  if vm.status ~= 'checked-out' then return end
  local to = jobs.return_to(c)
  local holder, reservation = vm.user, vm.reservation
  if holder then held.remove(c, holder, vm) end
  if reservation then reservations.drop(c, reservation, vm) end
  local changes = {user = false, checked_out_at = false, lease_expires_at = false, lease_seconds = false,
                   claim_ticket = false, reservation = false}
  if to[2] then jobs.queue(c, vm, to[2], nil, changes) end
  status.change(c, vm, to[1], changes)
  events.append(c, action, actor, vm.id, vm.ip, holder, to[1], nil, reservation)
  if not to[2] then waiters.serve(c) end
end
