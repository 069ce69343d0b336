-- create_vms.lua: creates up to n available VMs under the pool's cap.
-- KEYS: the pool's fifteen keys, see README.md; uses: tokens, user, pool, vms, vm, ips, status, events.
-- ARGV[1]: identity (admin). ARGV[2]: n, 1..1000.
-- ARGV[3..]: candidates id, ip, id, ip, ... (at least n pairs), used in order; one whose id
--   or ip already exists is skipped.
-- Returns: {shortfall, vm record, ...}: shortfall = how many of min(n, room under the cap)
--   could not be created because candidates ran out.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, MAX_VM_COUNT.
return run(function()
  local actor, role = authenticate(ARGV[1])
  require_admin(role)
  local n = int_arg(2, 1, 1000, 'count')
  local pairs_given = (#ARGV - 2) / 2
  if pairs_given < n or pairs_given % 1 ~= 0 then
    fail('BAD_REQUEST expected at least ' .. n .. ' candidate id, ip pairs')
  end
  for i = 3, #ARGV do
    if ARGV[i] == '' then fail('BAD_REQUEST candidate ids and ips must not be empty') end
  end
  local cap = tonumber(redis.call('HGET', K.pool, 'max_vm_count')) or 0
  local room = cap - redis.call('ZCARD', K.vms)
  if room <= 0 then fail('MAX_VM_COUNT Error: Maximum VM Count reached') end
  local want = math.min(n, room)
  local t = tostring(now())
  local block = ip_block()
  local out = {0}
  for i = 3, #ARGV, 2 do
    if #out > want then break end
    local id, ip = ARGV[i], ARGV[i + 1]
    if block and redis.call('EXISTS', K.vm .. id) == 0 then
      ip = take_block_ip(block)
      if not ip then
        if #out == 1 then fail('IP_POOL_EXHAUSTED no free address is left in the IP pool ' .. block.cidr) end
        want = #out - 1 -- as many as the block had room for
        break
      end
    end
    if redis.call('HEXISTS', K.ips, ip) == 0 and redis.call('EXISTS', K.vm .. id) == 0 then
      set_status(id, nil, 'available', 'vm_id', id, 'ip', ip, 'created_at', t)
      redis.call('ZADD', K.vms, 0, id)
      redis.call('HSET', K.ips, ip, id)
      out[#out + 1] = {'status', 'available', 'vm_id', id, 'ip', ip, 'created_at', t}
      event('create', actor, {vm_id = id, ip = ip, status = 'available'})
    end
  end
  out[1] = want - (#out - 1)
  serve_waiters()
  return out
end)
