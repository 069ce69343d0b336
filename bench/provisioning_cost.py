#!/usr/bin/env python3
"""Redis time the provisioning machinery costs, by Redis' own accounting (INFO commandstats,
usec_per_call), on a redis-server of its own with vmreserve's function library (bench/luabench.py):
  1. take_job.lua with no job due: what every gateway's worker costs when idle (once a second);
  2. a full job cycle (take_job, finish_job) for 10,000 VMs.
Usage: python3 bench/provisioning_cost.py   (needs `pip install redis`)"""
from luabench import Pool, RedisServer, fcall_usec


def main():
    with RedisServer() as r:
        pool = Pool(r, "jobs")
        pool.call("init_pool", 1000000, "", "small=1:2048", "jobs", "reuse")
        r.config_resetstat()
        for _ in range(10000):
            pool.call("take_job", 30000, "worker")
        print(f"take_job.lua, nothing due (an idle worker, once a second): {fcall_usec(r)[0]:.2f} us per call")

        pool.create_vms(10000, with_ips=False)
        r.config_resetstat()
        claims = []
        for _ in range(10000):
            reply = pool.call("take_job", 30000, "worker")
            claims.append((reply[1].decode(), reply[3].decode()))
        take = fcall_usec(r)[0]
        r.config_resetstat()
        p = r.pipeline(transaction=False)
        for n, (vm, claim) in enumerate(claims):
            pool.call("finish_job", vm, claim, "done", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", f"m-{n}", "", on=p)
        p.execute()
        print(f"a provision's two calls at 10,000 VMs: take_job.lua {take:.2f} us + finish_job.lua {fcall_usec(r)[0]:.2f} us")


if __name__ == "__main__":
    main()
