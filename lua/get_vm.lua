-- get_vm.lua: one VM, for an admin or its current holder. Its lease, if it ran out, and the
--   first that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: vm id.
-- Returns: the VM.
-- Errors: UNAUTHORIZED, BAD_REQUEST, VM_NOT_FOUND (also when the caller may not see it).
-- uses: args, errors, identity, leases, vms
return errors.run(KEYS, function(c)
  local name, role = identity.authenticate(c, ARGV[1])
  local _, vm = leases.locate(c, args.str(ARGV, 2, 'vm_id'), '', leases.now_reclaimed(c))
  if role ~= 'admin' and vm.user ~= name then errors.fail('VM_NOT_FOUND Could not find a vm with given details') end
  return vms.reply(vm)
end)
