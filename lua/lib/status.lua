-- status: a VM moves from one status to another (provisioning, available, checked-out, error,
-- deprovisioning, set-aside), keeping the pool's counts and the available sets true.
-- uses: available, pool, vms

-- Gives `vm` status `to` with the other field changes `changes` (see vms.update), all in one
-- write. taken: the VM was already taken out of its available set (available.pop).
function status.change(c, vm, to, changes, taken)
  local from = vm.status
  if from then pool.count(c, from, '-1') end
  pool.count(c, to, '1')
  if from == 'available' and not taken then available.remove(c, vm) end
  changes.status = to
  vms.update(c, vm, changes)
  if to == 'available' then available.add(c, vm) end
end
