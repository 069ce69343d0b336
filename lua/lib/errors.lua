-- errors: how a script fails, and the wrapper every script's body runs in.
-- uses: pool
-- A script fails with errors.fail('CODE sentence'); errors.run turns that into an error reply
-- carrying exactly that text. (Redis 7.0 appends " script: <sha>, on @user_script:1." to errors
-- raised to the top level, and its pcall turns error tables into strings, hence run().)

-- The codes the gateway maps to HTTP (one table in Sources/Reservations/ReservationError.swift).
local CODES = {
  UNAUTHORIZED = true, FORBIDDEN = true, QUOTA_EXCEEDED = true, NO_VM_AVAILABLE = true,
  MAX_VM_COUNT = true, VM_NOT_FOUND = true, USER_NOT_FOUND = true, INVALID_STATE = true,
  BAD_REQUEST = true, IP_POOL_EXHAUSTED = true, IDEMPOTENCY_MISMATCH = true, IDEMPOTENCY_IN_PROGRESS = true,
  RESERVATION_NOT_FOUND = true,
}
-- Redis' own refusals of a command inside a script (out of memory, a replica, ...): they leave
-- the script with their code word intact, so the gateway answers "unavailable", not "bug".
-- Keep in step with RedisError.unavailablePrefixes (Sources/RedisClient/RedisError.swift).
local REFUSALS = {
  OOM = true, READONLY = true, MASTERDOWN = true, LOADING = true, BUSY = true, MISCONF = true,
  NOREPLICAS = true, TRYAGAIN = true, CLUSTERDOWN = true,
}

-- Ends the script with the error reply `msg`, whose first word is one of CODES.
function errors.fail(msg) error({err = msg}) end

-- Runs body(c) with the call's context c (pool.context of the declared keys `keys`). Our coded
-- failures and Redis' refusals become exact error replies; anything else (a wrong command, a
-- bug) is raised as is, and the gateway answers 500.
-- Redis Cluster: scripts read keys they derive (a VM's hash, a user's) that a slot migration
-- may already have moved, but no script runs while the pool's slot migrates. Of the two
-- declared keys one always exists (P:pool) and one never does (P:vm:, a prefix), and Redis runs
-- a command of several keys in a migrating or importing slot only when it has all of them: it
-- answers TRYAGAIN (or ASK, then TRYAGAIN from the target), which the gateway retries until the
-- slot has moved (tested in ClusterGatewayTests).
function errors.run(keys, body)
  local c = pool.context(keys)
  if not c then return redis.error_reply("BAD_REQUEST expected the pool's keys P:pool and P:vm:") end
  local ok, res = pcall(body, c)
  if ok then return res end
  local msg = type(res) == 'table' and res.err or res -- older Redis: pcall keeps the table
  local word = type(msg) == 'string' and msg:match('^(%u[%u_]*) ')
  if word and (CODES[word] or REFUSALS[word]) then return redis.error_reply(msg) end
  error(res, 0)
end
