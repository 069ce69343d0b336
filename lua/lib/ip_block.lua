-- ip_block: IP pools. Without one, VMs get the random public addresses the gateway proposes.
-- With one (pool field ip_pool, a CIDR block), new VMs take addresses from it: bit i of the
-- bitmap P:ipbits is set while base + i is in use (or reserved: a block's network and broadcast
-- addresses, for blocks of 4 addresses or more), so BITPOS finds the lowest free address at
-- once, a delete frees it for reuse, and a full block is known at once, not searched for.
-- uses: errors, ips

local function ip_number(ip)
  local a, b, c, d = ip:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
  if not a then return nil end
  return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
end

local function ip_text(n)
  return ('%d.%d.%d.%d'):format(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                                math.floor(n / 256) % 256, n % 256)
end

-- A CIDR block as {cidr, base, size, first, last} (first..last: the usable offsets), or nil.
local function parse(cidr)
  local ip, bits = (cidr or ''):match('^([%d.]+)/(%d+)$')
  local base, prefix = ip and ip_number(ip), tonumber(bits)
  if not base or not prefix or prefix < 12 or prefix > 32 then return nil end
  local size = 2 ^ (32 - prefix)
  if base % size ~= 0 then return nil end
  local reserved = size >= 4 and 1 or 0
  return {cidr = cidr, base = base, size = size, first = reserved, last = size - 1 - reserved}
end

-- The pool's block (see parse), nil when it has none.
function ip_block.of_pool(c) return parse(redis.call('HGET', c.k.pool, 'ip_pool')) end

-- Makes `cidr` ("" for none) the pool's block and builds its bitmap from the addresses in use.
-- Errors: BAD_REQUEST.
function ip_block.configure(c, cidr)
  redis.call('DEL', c.k.ipbits)
  if cidr == '' then
    redis.call('HDEL', c.k.pool, 'ip_pool')
    return
  end
  local block = parse(cidr)
  if not block then
    errors.fail('BAD_REQUEST ip_pool must be an IPv4 network address with a prefix from /12 to /32, e.g. 203.0.113.0/26')
  end
  redis.call('HSET', c.k.pool, 'ip_pool', cidr)
  if block.first > 0 then
    redis.call('SETBIT', c.k.ipbits, 0, 1)
    redis.call('SETBIT', c.k.ipbits, block.size - 1, 1)
  end
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', c.k.ips, cursor, 'COUNT', 1000)
    cursor = page[1]
    for i = 1, #page[2], 2 do
      local offset = (ip_number(page[2][i]) or -1) - block.base
      if offset >= 0 and offset < block.size then redis.call('SETBIT', c.k.ipbits, offset, 1) end
    end
  until cursor == '0'
end

-- The lowest free address of `block`, now taken; nil when the block is full.
function ip_block.take(c, block)
  while true do
    local offset = redis.call('BITPOS', c.k.ipbits, 0)
    if offset < 0 or offset > block.last then return nil end
    redis.call('SETBIT', c.k.ipbits, offset, 1)
    local ip = ip_text(block.base + offset)
    if not ips.owner(c, ip) then return ip end
  end
end

-- A deleted VM's address becomes free again if it is the pool block's.
function ip_block.free(c, ip)
  local block = ip_block.of_pool(c)
  local offset = block and (ip_number(ip) or -1) - block.base
  if offset and offset >= block.first and offset <= block.last then redis.call('SETBIT', c.k.ipbits, offset, 0) end
end

-- How many of the block's usable addresses are free.
function ip_block.free_count(c, block)
  return (block.last - block.first + 1) - redis.call('BITCOUNT', c.k.ipbits) + (block.first > 0 and 2 or 0)
end
