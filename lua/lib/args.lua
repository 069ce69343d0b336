-- args: a script's arguments (ARGV), checked: each helper takes ARGV and a position, and fails
-- with BAD_REQUEST naming what is wrong.
-- uses: errors

-- argv[i] as a whole number in lo..hi; "" (or absent) gives nil when optional.
function args.int(argv, i, lo, hi, what, optional)
  local s = argv[i]
  if optional and (s == nil or s == '') then return nil end
  local v = type(s) == 'string' and s:match('^%d+$') and tonumber(s)
  if not v or v < lo or v > hi then
    errors.fail(('BAD_REQUEST %s must be a whole number from %d to %d'):format(what, lo, hi))
  end
  return v
end

-- argv[i] as a non-empty string (or "" when optional).
function args.str(argv, i, what, optional)
  local s = argv[i] or ''
  if s == '' and not optional then errors.fail('BAD_REQUEST ' .. what .. ' is required') end
  return s
end

-- argv[i] as a token's SHA-256: 64 hex digits.
function args.hex(argv, i)
  local s = argv[i] or ''
  if #s ~= 64 or not s:match('^%x+$') then errors.fail('BAD_REQUEST token hash must be 64 hex digits') end
  return s
end

-- argv[i] as a role, user or admin ("" gives nil when optional).
function args.role(argv, i, optional)
  local s = argv[i] or ''
  if optional and s == '' then return nil end
  if s ~= 'user' and s ~= 'admin' then errors.fail('BAD_REQUEST role must be user or admin') end
  return s
end
