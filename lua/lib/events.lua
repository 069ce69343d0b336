-- events: the history. Every state change appends one event to the capped stream P:events in
-- the script that makes the change, after its checks, so history and state never disagree: a
-- refused request (an error reply) appends nothing. An entry's id is Redis' time in ms.
-- uses: (none)

-- About how many events the stream keeps.
local EVENTS_KEPT = '100000'

local function append(c, ...)
  redis.call('XADD', c.k.events, 'MAXLEN', '~', EVENTS_KEPT, '*', ...)
end

-- Appends event `action` by `actor` (a user's or principal's name, "system" for what no one
-- asked for, such as a lease that ran out); then, each only when it applies (nil or "" leave
-- the field out), the VM (vm_id, ip), the user it concerns, the VM's status after it, a detail
-- (a lease length, a new quota...) and the reservation the VM belongs to (reservation_id). The
-- common case, a VM with its address, user and status and no reservation, is sent without
-- building a table.
function events.append(c, action, actor, vm_id, ip, user, status, detail, reservation)
  if not reservation and vm_id and vm_id ~= '' and ip and ip ~= '' and user and user ~= '' and status and status ~= '' then
    if detail and detail ~= '' then
      return append(c, 'action', action, 'actor', actor, 'vm_id', vm_id, 'ip', ip, 'user', user, 'status', status,
                    'detail', detail)
    end
    return append(c, 'action', action, 'actor', actor, 'vm_id', vm_id, 'ip', ip, 'user', user, 'status', status)
  end
  local fields = {'action', action, 'actor', actor}
  local optional = {'vm_id', vm_id, 'ip', ip, 'user', user, 'status', status, 'detail', detail, 'reservation_id', reservation}
  for i = 1, 11, 2 do -- (not #optional: its nils make its length any of several)
    local value = optional[i + 1]
    if value and value ~= '' then fields[#fields + 1], fields[#fields + 2] = optional[i], value end
  end
  append(c, unpack(fields))
end
