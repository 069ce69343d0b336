-- checkin.lua: returns a checked-out VM to the pool (checkouts.release), after returning
--   leases that ran out.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity. ARGV[2]: vm id or "". ARGV[3]: ip or "" (at least one given; both given
--   must name the same VM).
-- Returns: the VM (as the pool's on_return made it: available, or being reset or replaced).
-- Errors: UNAUTHORIZED, BAD_REQUEST, VM_NOT_FOUND, FORBIDDEN (a user who does not hold it),
--   INVALID_STATE (holder or admin, VM not checked out).
-- uses: args, checkouts, errors, identity, leases, vms
return errors.run(KEYS, function(c)
  local name, role = identity.authenticate(c, ARGV[1])
  local id, ip = args.str(ARGV, 2, 'vm_id', true), args.str(ARGV, 3, 'ip', true)
  if id == '' and ip == '' then errors.fail('BAD_REQUEST give vm_id, ip or both') end
  local _, vm = leases.locate(c, id, ip, leases.now_reclaimed(c))
  if role ~= 'admin' and vm.user ~= name then errors.fail('FORBIDDEN you do not hold this VM') end
  if vm.status ~= 'checked-out' then errors.fail('INVALID_STATE VM is ' .. vm.status .. ', not checked out') end
  checkouts.release(c, vm, 'checkin', name)
  return vms.reply(vm)
end)
