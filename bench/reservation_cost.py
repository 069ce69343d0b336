#!/usr/bin/env python3
"""What a reservation of several VMs costs Redis, next to as many single checkouts.

    python3 bench/reservation_cost.py [--vms N] [--group K] [--calls C]

One redis-server (bench/luabench.py) with the scripts of lua/ and a pool of N VMs (default
1,000) in two sizes; one user. Then, C times (default 2,000) each, in turn: reserve.lua of K VMs
(default 5) of any size and return_reservation.lua; and K checkouts (checkout.lua) and their K
checkins. Prints Redis' time (INFO commandstats, FCALL's usec) per VM taken and given back, both
ways, and per step.
"""
import argparse
import os
import secrets
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from luabench import Pool, RedisServer  # noqa: E402


def fcall_total_usec(r):
    return r.info("commandstats").get("cmdstat_fcall", {}).get("usec", 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=1000, help="VMs in the pool (default 1000)")
    parser.add_argument("--group", type=int, default=5, help="VMs per reservation (default 5)")
    parser.add_argument("--calls", type=int, default=2000, help="rounds of each (default 2000)")
    options = parser.parse_args()
    k = options.group
    with RedisServer() as r:
        pool = Pool(r)
        pool.call("init_pool", options.vms + 10, "", "small=1:2048,large=4:8192", "instant", "reuse")
        pool.create_random_vms(options.vms)
        token = secrets.token_hex(32)
        pool.call("create_user", "p:bench", "alice", "user", str(k), token)
        alice = "t:" + token
        # identity, default quota, lease, default lease, maximum lease, then the script's own
        leases = [alice, "0", "3600", "", "604800"]
        totals = {"reservation": 0, "singles": 0}
        for _ in range(options.calls):
            before = fcall_total_usec(r)
            reservation_id = str(uuid.uuid4())
            pool.call("reserve", *leases, f":{k}", "", "", reservation_id)
            pool.call("return_reservation", alice, reservation_id)
            middle = fcall_total_usec(r)
            ips = [pool.ip_of(pool.call("checkout", *leases, "", "", "")) for _ in range(k)]
            for ip in ips:
                pool.call("checkin", alice, "", ip)
            totals["reservation"] += middle - before
            totals["singles"] += fcall_total_usec(r) - middle
        r.xtrim(pool.key("events"), maxlen=0, approximate=False)
    per_vm = {name: usec / (options.calls * k) for name, usec in totals.items()}
    print(f"| {k} VMs, out and back, {options.calls:,} times | Redis µs per VM | Redis µs per round |")
    print("|---|---|---|")
    print(f"| one reserve.lua + one return_reservation.lua | {per_vm['reservation']:.1f} | "
          f"{totals['reservation'] / options.calls:.1f} |")
    print(f"| {k} checkout.lua + {k} checkin.lua | {per_vm['singles']:.1f} | {totals['singles'] / options.calls:.1f} |")


if __name__ == "__main__":
    main()
