-- ips: the hash P:ips maps every address in use to its VM's id, so that no address is given
-- twice and a VM can be found (and checked in) by its address.
-- uses: (none)

-- The id of the VM that has address `ip`, nil when none has.
function ips.owner(c, ip) return redis.call('HGET', c.k.ips, ip) end

function ips.index(c, ip, id) redis.call('HSET', c.k.ips, ip, id) end

function ips.unindex(c, ip) redis.call('HDEL', c.k.ips, ip) end
