-- plans: what a reservation asks for (reserve.lua's groups), whether the caller may have it,
-- and which VMs to take for it now (reserve.lua, lib/group_waiters.lua).
-- uses: args, available, errors, held, leases, pool, sizes, users

-- The most VMs one reservation may hold.
plans.MOST = 100

-- The groups asked for in argv[i]: "size:count,size:count" ("" size: any), each count 1..MOST,
-- a size at most once, as a list of {size, count}, and their total. Errors: BAD_REQUEST.
function plans.groups(c, argv, i)
  local list, seen, total = {}, {}, 0
  for size, count in (argv[i] or ''):gmatch('([^:,]*):([^,]*)') do
    sizes.arg(c, {size}, 1)
    local n = args.int({count}, 1, 1, plans.MOST, 'count')
    if seen[size] then errors.fail('BAD_REQUEST a size may be asked for once: ' .. (size == '' and 'any' or size)) end
    seen[size], total = true, total + n
    list[#list + 1] = {size = size, count = n}
  end
  if total == 0 then errors.fail('BAD_REQUEST ask for at least one VM') end
  if total > plans.MOST then errors.fail(('BAD_REQUEST a reservation holds at most %d VMs'):format(plans.MOST)) end
  return list, total
end

-- Fails unless the pool's cap could ever hold `total` VMs (INVALID_STATE) and `name` (user map
-- u) has room for `total` more VMs in their quota (user field quota, else `default_quota`; their
-- own leases that ran out by t do not count) and, for each size of `counts` (size → n), in that
-- size's quota (QUOTA_EXCEEDED). Nothing is changed but leases that ran out.
function plans.check(c, name, u, default_quota, total, counts, t)
  local cap = pool.cap(c)
  if total > cap then errors.fail(('INVALID_STATE %d VMs are more than the pool can ever hold (%d)'):format(total, cap)) end
  local limits = users.limits(u)
  local quota, per_size = limits.quota or default_quota, limits.size_quotas or {}
  leases.reclaim_held(c, t, name)
  if held.count(c, name) + total > quota then
    errors.fail(('QUOTA_EXCEEDED %d more VMs would pass your quota of %d'):format(total, quota))
  end
  for _, size in ipairs(sizes.names(c)) do
    local n = counts[size]
    if n and per_size[size] and held.count_of_size(c, name, size) + n > per_size[size] then
      errors.fail(('QUOTA_EXCEEDED %d more %s VMs would pass your quota of %d'):format(n, size, per_size[size]))
    end
  end
end

-- The named groups of `groups` as counts by size.
function plans.named(groups)
  local counts = {}
  for _, group in ipairs(groups) do
    if group.size ~= '' then counts[group.size] = group.count end
  end
  return counts
end

-- What to take from the available sets now for `groups` (total `total`) of `name` (user map
-- u), of which `aside` (size → n) are already set aside for it (group_waiters): the size of
-- each VM to take, as many as are available up to what it still lacks (the sizes asked for by
-- name first, then, for a group of any size, the sizes the caller has room for, in the
-- catalog's order, then VMs without a size), and whether it is then complete. Changes nothing.
function plans.plan(c, name, u, groups, total, aside)
  local per_size, named, any = users.limits(u).size_quotas or {}, plans.named(groups), total
  local left, got, picks, have = {}, {}, {}, 0
  for s, n in pairs(aside) do got[s], have = n, have + n end
  local function left_of(s)
    if left[s] == nil then left[s] = redis.call('SCARD', available.key(c, s)) end
    return left[s]
  end
  local function take(s, n)
    for _ = 1, n do picks[#picks + 1] = s end
    left[s], got[s] = left[s] - n, (got[s] or 0) + n
  end
  for s, n in pairs(named) do
    any = any - n
    take(s, math.max(0, math.min(n - (got[s] or 0), left_of(s))))
  end
  local order = sizes.names(c)
  order[#order + 1] = ''
  for _, s in ipairs(order) do any = any - math.max(0, (got[s] or 0) - (named[s] or 0)) end
  for _, s in ipairs(order) do
    local room = per_size[s] and per_size[s] - held.count_of_size(c, name, s) - math.max(got[s] or 0, named[s] or 0)
    local n = math.max(0, math.min(any, left_of(s), room or math.huge))
    take(s, n)
    any = any - n
  end
  return picks, have + #picks == total
end

