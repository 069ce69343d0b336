-- stats: the pool's figures as pool_stats.lua and set_pool.lua answer them.
-- uses: ip_block

-- {max_vm_count, total, then one count per status (provisioning, available, checked-out,
-- error, deprovisioning, set-aside), then the IP pool's CIDR ("" for none) and its free
-- addresses (-1 for none)}.
function stats.of_pool(c)
  local counts = redis.call('HMGET', c.k.pool, 'max_vm_count', 'vm_count', 'count:provisioning', 'count:available',
                            'count:error', 'count:deprovisioning', 'count:set-aside')
  local out = {}
  for i = 1, 7 do out[i] = tonumber(counts[i]) or 0 end
  -- checked-out (the rest) after available
  out[7], out[6], out[5] = out[6], out[5], out[2] - out[3] - out[4] - out[5] - out[6] - out[7]
  out[8] = tonumber(counts[7]) or 0
  local block = ip_block.of_pool(c)
  out[9] = block and block.cidr or ''
  out[10] = block and ip_block.free_count(c, block) or -1
  return out
end
