-- wrk script: authenticated checkout/checkin cycles.
-- Each wrk thread acts as one user (its token comes from the TOKENS environment variable, one per
-- thread, comma-separated). A thread checks in the IPs it holds and checks out when it holds none,
-- so about half the requests are checkouts and half checkins, each a real state change.
-- The requests are built as text from parts made once per thread (wrk.format, which builds them
-- from a table of headers, cost wrk about 1 µs a request more), so that the load generator takes
-- as little of the machine as it can.
local tokens = {}
for token in string.gmatch(os.getenv("TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = token end
local next_thread = 1

function setup(thread)
  thread:set("token", tokens[next_thread])
  next_thread = next_thread + 1
end

local checkout, checkin_head
local held = {}

function init()
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  checkout = wrk.format("POST", "/v1/checkouts", headers, nil)
  -- a checkin: the same headers, then its body's length and the body
  checkin_head = wrk.format("POST", "/v1/checkins", headers, nil):gsub("\r\n$", "") .. "Content-Length: "
end

function request()
  local n = #held
  if n > 0 then
    local body = '{"ip":"' .. held[n] .. '"}'
    held[n] = nil
    return checkin_head .. #body .. "\r\n\r\n" .. body
  end
  return checkout
end

-- wrk reports every answer other than 2xx as "Non-2xx or 3xx responses".
function response(status, headers, body)
  if status == 201 then
    held[#held + 1] = string.match(body, '"ip":"([%d%.]+)"')
  end
end
