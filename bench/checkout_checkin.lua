-- wrk script: authenticated checkout/checkin cycles.
-- Each wrk thread acts as one user (its token comes from the TOKENS environment variable, one per
-- thread, comma-separated). A thread checks in the IPs it holds and checks out when it holds none,
-- so about half the requests are checkouts and half checkins, each a real state change.
local tokens = {}
for token in string.gmatch(os.getenv("TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = token end
local next_thread = 1

function setup(thread)
  thread:set("token", tokens[next_thread])
  next_thread = next_thread + 1
end

local held = {}

function request()
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if #held > 0 then
    local ip = table.remove(held)
    return wrk.format("POST", "/v1/checkins", headers, '{"ip":"' .. ip .. '"}')
  end
  return wrk.format("POST", "/v1/checkouts", headers, nil)
end

-- wrk reports every answer other than 2xx as "Non-2xx or 3xx responses".
function response(status, headers, body)
  if status == 201 then
    held[#held + 1] = string.match(body, '"ip":"([%d%.]+)"')
  end
end
