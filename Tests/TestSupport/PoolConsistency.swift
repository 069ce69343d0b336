import RedisClient

/// Every way a pool's keys (lua/README.md, "Keys") could disagree with each other, read in one
/// atomic step (a script that changes nothing), so that it can run while clients work: each
/// found problem as a sentence; none for a consistent pool.
///
/// - every VM's status against the available sets and the idle index (an available VM is in the
///   set of its size and, when the pool keeps a whole idle index, in `idle`, and has no holder;
///   no other VM is in either);
/// - a checked-out VM has a holder whose held set has it; every member of a held set is a VM
///   checked out to that user; a user's counts by size (`held:<size>`) are what they hold;
/// - leases: a VM has an entry in `leases` and in its holder's `held_leases` exactly when it has
///   a lease, scored by its end;
/// - the address index maps each VM's address to it and nothing else;
/// - reservations: a VM names its reservation exactly when the reservation lists it, with the
///   same holder and lease, and a reservation lives exactly while it lists a VM;
/// - waiting reservations: a VM is `set-aside` exactly when one waiting reservation (in the
///   queue, with a claim) lists it, and names that reservation's id in `set_aside_for`;
/// - the pool's counts (`vm_count`, `count:<status>`) and the token index.
public func poolInconsistencies(_ redis: RedisClient, prefix: String) async throws -> [String] {
    let script = #"""
        local p, bad = KEYS[1], {}
        local function say(text) if #bad < 50 then bad[#bad + 1] = text end end
        local counts, total, with_ip, by_holder = {}, 0, 0, {}
        local index = redis.call('HGET', p .. ':pool', 'idle_index') -- the idle index: whole ('on'), being built, or none
        if not index and redis.call('EXISTS', p .. ':idle') == 1 then say('an idle index without idle_index') end
        local aside_for = {} -- VM id → the id of the waiting reservation it is set aside for
        for _, key in ipairs(redis.call('KEYS', p .. ':set_aside:*')) do
          local ticket = key:sub(#p + 12)
          local rid = redis.call('HGET', p .. ':waiting_group:' .. ticket, 'reservation')
          if not rid then say(key .. ' sets VMs aside for no waiting reservation') end
          for _, id in ipairs(redis.call('HKEYS', key)) do
            if aside_for[id] then say(id .. ' is set aside twice') end
            aside_for[id] = rid or '?'
          end
        end
        for _, key in ipairs(redis.call('KEYS', p .. ':waiting_group:*')) do
          local ticket = key:sub(#p + 16)
          if not redis.call('ZSCORE', p .. ':waiters', ticket) then say('waiting reservation ' .. ticket .. ' is not in the queue') end
          if not (redis.call('HGET', p .. ':waiting', ticket) or ''):match(' =$') then say('waiting reservation ' .. ticket .. ' is not waiting') end
          if not redis.call('ZSCORE', p .. ':wait_claims', ticket) then say('waiting reservation ' .. ticket .. ' has no claim') end
        end
        for _, ticket in ipairs(redis.call('ZRANGE', p .. ':wait_claims', 0, -1)) do
          if redis.call('EXISTS', p .. ':waiting_group:' .. ticket) == 0 then say('a claim on ' .. ticket .. ', which is no waiting reservation') end
        end
        local ids = redis.call('ZRANGE', p .. ':vms', 0, -1)
        for _, id in ipairs(ids) do
          local flat, v = redis.call('HGETALL', p .. ':vm:' .. id), {}
          for i = 1, #flat, 2 do v[flat[i]] = flat[i + 1] end
          if not v.status then say(id .. ' is listed but has no hash with a status') end
          local status, size = v.status or '?', v.size or ''
          total = total + 1
          counts[status] = (counts[status] or 0) + 1
          local in_set = redis.call('SISMEMBER', p .. ':available:' .. size, id) == 1
          local idle = redis.call('ZSCORE', p .. ':idle', id)
          if (status == 'available') ~= in_set then say(id .. ' is ' .. status .. (in_set and ' but in' or ' but not in') .. ' the available set') end
          if index == 'on' and (status == 'available') ~= (idle ~= false) then say(id .. ' is ' .. status .. ' but ' .. (idle and '' or 'not ') .. 'in idle') end
          if index and status ~= 'available' and idle then say(id .. ' is ' .. status .. ' but in idle') end
          if status == 'available' and v.user then say(id .. ' is available and held by ' .. v.user) end
          if status == 'checked-out' then
            if not v.user or redis.call('SISMEMBER', p .. ':held:' .. v.user, id) == 0 then
              say(id .. ' is checked out with no holder that has it')
            else
              by_holder[v.user] = by_holder[v.user] or {}
              by_holder[v.user][size] = (by_holder[v.user][size] or 0) + 1
            end
          elseif v.user then
            say(id .. ' is ' .. status .. ' but names a holder')
          end
          local lease = redis.call('ZSCORE', p .. ':leases', id)
          if (lease or nil) ~= v.lease_expires_at then say(id .. ': leases has ' .. tostring(lease) .. ', the VM ' .. tostring(v.lease_expires_at)) end
          if status ~= 'checked-out' and v.lease_expires_at then say(id .. ' has a lease but is ' .. status) end
          if v.user and v.lease_expires_at and redis.call('ZSCORE', p .. ':held_leases:' .. v.user, id) ~= v.lease_expires_at then
            say(id .. ' is not in held_leases of ' .. v.user .. ' with its lease end')
          end
          if (status == 'set-aside') ~= (aside_for[id] ~= nil) or v.set_aside_for ~= aside_for[id] then
            say(id .. ' is ' .. status .. ', set aside for ' .. tostring(v.set_aside_for) .. ', listed for ' .. tostring(aside_for[id]))
          end
          if v.reservation then
            local r = redis.call('HMGET', p .. ':reservation:' .. v.reservation, 'user', 'lease_expires_at')
            if status ~= 'checked-out' then say(id .. ' is ' .. status .. ' but in reservation ' .. v.reservation) end
            if r[1] ~= v.user then say(id .. "'s reservation is " .. tostring(r[1]) .. "'s, the VM " .. tostring(v.user) .. "'s") end
            if (r[2] or nil) ~= v.lease_expires_at then say(id .. "'s lease is not its reservation's") end
            if redis.call('SISMEMBER', p .. ':reservation_vms:' .. v.reservation, id) == 0 then say(id .. ' is not listed by its reservation') end
          end
          if v.ip then
            with_ip = with_ip + 1
            if redis.call('HGET', p .. ':ips', v.ip) ~= id then say(id .. "'s address " .. v.ip .. ' is not indexed to it') end
          end
        end
        if redis.call('HLEN', p .. ':ips') ~= with_ip then say('the address index has ' .. redis.call('HLEN', p .. ':ips') .. ' entries for ' .. with_ip .. ' VMs with an address') end
        local available = 0
        for _, key in ipairs(redis.call('KEYS', p .. ':available:*')) do
          for _, id in ipairs(redis.call('SMEMBERS', key)) do
            available = available + 1
            if redis.call('HGET', p .. ':vm:' .. id, 'status') ~= 'available' then say(key .. ' has ' .. id .. ', which is not available') end
          end
        end
        if index == 'on' and redis.call('ZCARD', p .. ':idle') ~= available then say('idle has ' .. redis.call('ZCARD', p .. ':idle') .. ' VMs, the available sets ' .. available) end
        for _, key in ipairs(redis.call('KEYS', p .. ':held:*')) do
          local name = key:sub(#p + 7)
          for _, id in ipairs(redis.call('SMEMBERS', key)) do
            local v = redis.call('HMGET', p .. ':vm:' .. id, 'status', 'user')
            if v[1] ~= 'checked-out' or v[2] ~= name then say(name .. ' holds ' .. id .. ', which is ' .. tostring(v[1]) .. ' by ' .. tostring(v[2])) end
          end
        end
        for _, key in ipairs(redis.call('KEYS', p .. ':held_leases:*')) do
          local name = key:sub(#p + 14)
          for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
            if redis.call('SISMEMBER', p .. ':held:' .. name, id) == 0 then say(name .. ' has a lease on ' .. id .. ' without holding it') end
          end
        end
        for _, name in ipairs(redis.call('SMEMBERS', p .. ':users')) do
          local u, held = redis.call('HGETALL', p .. ':user:' .. name), by_holder[name] or {}
          for i = 1, #u, 2 do
            local size = u[i]:match('^held:(.*)$')
            if size and tonumber(u[i + 1]) ~= (held[size] or 0) then say(name .. ' counts ' .. u[i + 1] .. ' ' .. size .. ' VMs, holds ' .. (held[size] or 0)) end
            if size then held[size] = nil end
          end
          for size, n in pairs(held) do if size ~= '' then say(name .. ' holds ' .. n .. ' ' .. size .. ' VMs, counts none') end end
          local token = redis.call('HGET', p .. ':user:' .. name, 'token')
          if not token or redis.call('HGET', p .. ':tokens', token) ~= name then say(name .. "'s token is not indexed to them") end
        end
        for _, key in ipairs(redis.call('KEYS', p .. ':reservation:*')) do
          local rid, holder = key:sub(#p + 14), redis.call('HGET', key, 'user')
          local members = redis.call('SMEMBERS', p .. ':reservation_vms:' .. rid)
          if #members == 0 then say('reservation ' .. rid .. ' has no VM left but lives on') end
          if not holder or redis.call('SISMEMBER', p .. ':reservations:' .. holder, rid) == 0 then say('reservation ' .. rid .. ' is not listed by its holder') end
          for _, id in ipairs(members) do
            local v = redis.call('HMGET', p .. ':vm:' .. id, 'reservation', 'user')
            if v[1] ~= rid or v[2] ~= holder then say('reservation ' .. rid .. ' lists ' .. id .. ', which is not its') end
          end
        end
        for _, key in ipairs(redis.call('KEYS', p .. ':reservation_vms:*')) do
          if redis.call('EXISTS', p .. ':reservation:' .. key:sub(#p + 18)) == 0 then say(key .. ' lists VMs of no reservation') end
        end
        for _, key in ipairs(redis.call('KEYS', p .. ':reservations:*')) do
          local name = key:sub(#p + 15)
          for _, rid in ipairs(redis.call('SMEMBERS', key)) do
            if redis.call('HGET', p .. ':reservation:' .. rid, 'user') ~= name then say(name .. ' lists reservation ' .. rid .. ', not theirs') end
          end
        end
        if redis.call('HLEN', p .. ':tokens') ~= redis.call('SCARD', p .. ':users') then say('tokens and users differ in number') end
        if tonumber(redis.call('HGET', p .. ':pool', 'vm_count') or '0') ~= total then say('vm_count is not ' .. total) end
        for _, s in ipairs({'provisioning', 'available', 'error', 'deprovisioning', 'set-aside'}) do -- (checked-out: the rest)
          local counted = tonumber(redis.call('HGET', p .. ':pool', 'count:' .. s) or '0')
          if counted ~= (counts[s] or 0) then say('count:' .. s .. ' is ' .. counted .. ', not ' .. (counts[s] or 0)) end
        end
        return bad
        """#
    return try await redis.send(RedisCommand("EVAL", [script, "1", prefix])).array?.compactMap(\.string) ?? []
}

/// `poolInconsistencies` of pool `pool` (keys `vmreserve:{pool}:…`) on the Redis at `url`.
public func poolInconsistencies(at url: RedisURL, pool: String = "default", tls: RedisTLS? = nil) async throws -> [String] {
    var configuration = RedisClient.Configuration.test(url, connectionCount: 1)
    configuration.tls = tls
    return try await withRedisClient(configuration) { client in
        try await poolInconsistencies(client, prefix: "vmreserve:{\(pool)}")
    }
}
