-- idempotency: a checkout or create that carries an Idempotency-Key gets, for the window the
-- gateway gives, the answer the first request with that key from the same caller got, instead
-- of being done again: a client that timed out and retries holds one VM, not two. Only success
-- is kept, so a refused request may be retried with its key. The answer lives in the string
-- P:user:<name>:idem:<key> (user names have no ':') as JSON {"f": fingerprint, "a": answer},
-- or {"f": fingerprint, "p": ticket} while a waiting checkout waits. The fingerprint is what
-- was asked: the same key for a different request is IDEMPOTENCY_MISMATCH.
-- uses: args, errors

-- The key of argv[i] ("" for none: nil) for caller `name` and its window argv[i + 1] (ms), with
-- the fingerprint: the words `...` joined by spaces.
function idempotency.of(c, argv, i, name, ...)
  local key = argv[i] or ''
  if key == '' then return nil end
  if #key > 255 or not key:match('^[\33-\126]+$') then
    errors.fail('BAD_REQUEST Idempotency-Key must be 1 to 255 visible ASCII characters')
  end
  return {key = c.k.user .. name .. ':idem:' .. key, f = table.concat({...}, ' '),
          window = args.int(argv, i + 1, 1, 604800000, 'idempotency window')}
end

-- The stored entry of `idem` (nil: none, or no key given).
function idempotency.entry(idem)
  local text = idem and redis.call('GET', idem.key)
  return text and cjson.decode(text) or nil
end

-- The answer kept for `idem`, nil when there is none yet.
-- Errors: IDEMPOTENCY_MISMATCH, IDEMPOTENCY_IN_PROGRESS.
function idempotency.kept(idem)
  local entry = idempotency.entry(idem)
  if not entry then return nil end
  if entry.f ~= idem.f then
    errors.fail('IDEMPOTENCY_MISMATCH this Idempotency-Key was already used for a different request')
  end
  if entry.p then errors.fail('IDEMPOTENCY_IN_PROGRESS a request with this Idempotency-Key is still waiting for a VM') end
  return entry.a
end

-- Keeps `answer` for `idem` (nothing without a key).
function idempotency.keep(idem, answer)
  if idem then redis.call('SET', idem.key, cjson.encode({f = idem.f, a = answer}), 'PX', idem.window) end
end

-- Marks `idem` as taken by waiting ticket `ticket` for `ms`, until the wait ends with an answer or without.
function idempotency.pend(idem, ticket, ms)
  if idem then redis.call('SET', idem.key, cjson.encode({f = idem.f, p = ticket}), 'PX', ms) end
end
