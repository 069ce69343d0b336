-- init_pool.lua: seeds the VM cap when the pool has none yet (gateway start-up).
-- KEYS: the pool's ten keys, see README.md; uses: pool.
-- ARGV[1]: max_vm_count seed, whole number 0..1000000 (no identity).
-- Returns: the pool's current max_vm_count (integer).
-- Errors: BAD_REQUEST.
return run(function()
  local seed = int_arg(1, 0, 1000000, 'max_vm_count')
  redis.call('HSETNX', K.pool, 'max_vm_count', seed)
  return tonumber(redis.call('HGET', K.pool, 'max_vm_count'))
end)
