-- sizes: the pool's catalog (pool field `sizes`, "name=cpu:memory_mb,...", seeded by the
-- gateway) lists the sizes a VM may have, in the order a checkout of any size tries them.
-- uses: errors

-- The catalog as a map size → "cpu:memory_mb", and the sizes in their order.
function sizes.catalog(c)
  local catalog, order = {}, {}
  for name, spec in (redis.call('HGET', c.k.pool, 'sizes') or ''):gmatch('([%w_-]+)=(%d+:%d+)') do
    catalog[name] = spec
    order[#order + 1] = name
  end
  return catalog, order
end

-- The catalog's sizes, in its order.
function sizes.names(c)
  local _, order = sizes.catalog(c)
  return order
end

-- argv[i] as a size of the catalog, or "" for any. Errors: BAD_REQUEST.
function sizes.arg(c, argv, i)
  local size = argv[i] or ''
  if size == '' then return '' end
  local catalog, order = sizes.catalog(c)
  if not catalog[size] then errors.fail('BAD_REQUEST size must be one of ' .. table.concat(order, ', ')) end
  return size
end
