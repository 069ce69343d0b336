#!/usr/bin/env python3
"""Redis memory per idle VM, by key kind: N VMs (UUID ids, random addresses) created through
create_vms.lua on a redis-server of its own (bench/luabench.py), used_memory before and after;
the history stream is measured apart and trimmed first (it is capped near 100,000 events).
Usage: python3 bench/memory_per_vm.py [N] [redis-server options...]
  e.g. python3 bench/memory_per_vm.py 1000000 (Redis' stock settings unless options are given)"""
import sys

from luabench import Pool, RedisServer

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000

with RedisServer(*sys.argv[2:]) as r:
    pool = Pool(r)
    pool.call("init_pool", 1000000, "", "small=1:2048,medium=2:4096,large=4:8192", "instant", "reuse")
    base = r.info("memory")["used_memory"]
    pool.create_random_vms(N)
    history = r.memory_usage(pool.key("events"), samples=0)
    r.xtrim(pool.key("events"), maxlen=0, approximate=False)
    used = r.info("memory")["used_memory"]
    print(f"{N} VMs: {(used - base) / N:.0f} bytes per idle VM; history {history / N:.0f} bytes per event")
    kinds = {}
    for key in r.scan_iter(count=1000):
        kind = key.decode().split(":")[2]
        kinds[kind] = kinds.get(kind, 0) + r.memory_usage(key, samples=0)
    print("by key kind (MEMORY USAGE, bytes per VM):", {k: round(v / N, 1) for k, v in sorted(kinds.items())})
