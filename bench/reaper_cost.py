#!/usr/bin/env python3
"""What the lease reaper costs Redis with many active leases.

On a redis-server of its own with vmreserve's function library (bench/luabench.py), checks out N
VMs with long leases, then measures reap_leases.lua from Redis' own accounting (INFO commandstats,
usec_per_call):

  1. idle: nothing has expired, the call every gateway makes at most once a second;
  2. busy: every call returns a full batch of 100 expired leases (the reaper's batch).

Usage: python3 bench/reaper_cost.py [N]   (default 100000; needs `pip install redis`)
"""
import sys

from luabench import Pool, RedisServer, fcall_usec

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
BATCH = 100  # LeaseReaper.batch


def main():
    with RedisServer() as r:
        pool = Pool(r)
        pool.call("init_pool", N)
        admin = "p:bench"
        pool.create_vms(N, admin)
        pipe = r.pipeline(transaction=False)
        for i in range(N):
            pool.call("checkout", admin, N, 86400, "", 604800, on=pipe)
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        leases = pool.key("leases")
        print(f"{r.zcard(leases)} active leases, Redis used_memory {r.info('memory')['used_memory'] / 1e6:.1f} MB")

        r.config_resetstat()
        for _ in range(2000):
            pool.call("reap_leases", BATCH)
        idle, calls = fcall_usec(r)
        print(f"idle reap (nothing expired): {idle:.2f} us of Redis per call over {calls} calls")

        # expire everything: every call now returns a full batch
        pipe = r.pipeline(transaction=False)
        for i, vm in enumerate(r.zrange(leases, 0, -1)):
            pipe.zadd(leases, {vm: 1}, xx=True)
            if i % 10000 == 9999:
                pipe.execute()
        pipe.execute()
        r.config_resetstat()
        released = 0
        while True:
            out = pool.call("reap_leases", BATCH)
            released += out[0]
            if out[0] < BATCH:
                break
        busy, calls = fcall_usec(r)
        print(f"busy reap: {busy:.0f} us of Redis per call of {BATCH} releases ({busy / BATCH:.2f} us per lease), "
              f"{calls} calls released {released}")


if __name__ == "__main__":
    main()
