-- delete_vm.lua: deletes an available or error VM: at once, or with provisioning jobs it is
--   `deprovisioning` until the provider has destroyed its machine (creation.retire). Leases
--   that ran out are returned first.
-- KEYS: the pool's two, P:pool and P:vm: (README.md).
-- ARGV[1]: identity (admin). ARGV[2]: vm id. ARGV[3]: ip or "" (if given, must be the VM's).
-- Returns: the VM as it was before deletion, or, while deprovisioning, as it is now.
-- Errors: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, VM_NOT_FOUND, INVALID_STATE.
-- uses: args, creation, errors, identity, leases, vms
return errors.run(KEYS, function(c)
  local actor, role = identity.authenticate(c, ARGV[1])
  identity.require_admin(role)
  local _, vm = leases.locate(c, args.str(ARGV, 2, 'vm_id'), args.str(ARGV, 3, 'ip', true), leases.now_reclaimed(c))
  if vm.status ~= 'available' and vm.status ~= 'error' then
    errors.fail('INVALID_STATE only available or error VMs can be deleted; this one is ' .. vm.status)
  end
  local reply = vms.reply(vm)
  creation.retire(c, vm, actor)
  return vm.status == 'deprovisioning' and vms.reply(vm) or reply
end)
