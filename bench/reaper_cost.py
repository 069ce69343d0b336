#!/usr/bin/env python3
"""What the lease reaper costs Redis with many active leases.

Starts its own redis-server (no persistence) on a free loopback port, loads the scripts of lua/
the way the gateway does (prelude + script, EVALSHA), checks out N VMs with long leases, then
measures reap_leases.lua from Redis' own accounting (INFO commandstats, usec_per_call):

  1. idle: nothing has expired, the call every gateway makes at most once a second;
  2. busy: every call returns a full batch of 100 expired leases (the reaper's batch).

Usage: python3 bench/reaper_cost.py [N]   (default 100000; needs `pip install redis`)
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
BATCH = 100  # LeaseReaper.batch
PREFIX = "vmreserve:{reaperbench}"
KEYS = [f"{PREFIX}:{k}" for k in "tokens user: users held: vm: vms status: ips pool leases events waiters waiting handoff: ipbits idle jobs".split()]


def script(name):
    with open(os.path.join(ROOT, "lua", "_prelude.lua")) as prelude, open(os.path.join(ROOT, "lua", name + ".lua")) as body:
        return prelude.read() + "\n" + body.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def evalsha_usec(r):
    stats = r.info("commandstats").get("cmdstat_evalsha", {})
    return stats.get("usec_per_call", 0.0), stats.get("calls", 0)


def main():
    port = free_port()
    data = tempfile.mkdtemp(prefix="vmreserve-reaperbench-")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(200):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        sha = {name: r.script_load(script(name)) for name in ["init_pool", "create_vms", "checkout", "reap_leases"]}
        r.evalsha(sha["init_pool"], len(KEYS), *KEYS, N)
        admin = "p:bench"
        for start in range(0, N, 1000):
            count = min(1000, N - start)
            args = [admin, count, "", "", "", ""]  # size, Idempotency-Key, window, "more"
            for i in range(start, start + count + 4):
                args += [f"vm-{i:07d}", f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"]
            r.evalsha(sha["create_vms"], len(KEYS), *KEYS, *args)
        pipe = r.pipeline(transaction=False)
        for i in range(N):
            pipe.evalsha(sha["checkout"], len(KEYS), *KEYS, admin, N, 86400, "", 604800)
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        leases = r.zcard(KEYS[9])
        memory = r.info("memory")["used_memory"]
        print(f"{leases} active leases, Redis used_memory {memory / 1e6:.1f} MB")

        r.config_resetstat()
        for _ in range(2000):
            r.evalsha(sha["reap_leases"], len(KEYS), *KEYS, BATCH)
        idle, calls = evalsha_usec(r)
        print(f"idle reap (nothing expired): {idle:.2f} us of Redis per call over {calls} calls")

        # expire everything: every call now returns a full batch
        ids = r.zrange(KEYS[9], 0, -1)
        pipe = r.pipeline(transaction=False)
        for i, vm in enumerate(ids):
            pipe.zadd(KEYS[9], {vm: 1}, xx=True)
            if i % 10000 == 9999:
                pipe.execute()
        pipe.execute()
        r.config_resetstat()
        released = 0
        while True:
            out = r.evalsha(sha["reap_leases"], len(KEYS), *KEYS, BATCH)
            released += out[0]
            if out[0] < BATCH:
                break
        busy, calls = evalsha_usec(r)
        print(f"busy reap: {busy:.0f} us of Redis per call of {BATCH} releases ({busy / BATCH:.2f} us per lease), "
              f"{calls} calls released {released}")
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
