-- clock: Redis' time, read once per call, in whole milliseconds since the Unix epoch: every
-- stored time and lease score. Turning a Lua number into text is among the dearest things a
-- script does (a printf), and most numbers a script sends Redis are times, so the text read is
-- kept too (clock.text).
-- uses: (none)

-- The call's time in ms (Redis' TIME, read at the first use in the call).
function clock.now(c)
  if not c.t then
    local t = redis.call('TIME')
    c.tt = t[1] .. ('00000' .. t[2]):sub(-6, -4)
    c.t = tonumber(c.tt)
  end
  return c.t
end

-- A time in ms as text.
function clock.text(c, ms)
  if ms == c.t then return c.tt end
  return ('%d'):format(ms)
end
