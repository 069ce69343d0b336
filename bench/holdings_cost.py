#!/usr/bin/env python3
"""What a checkout, its checkin and a refusal cost Redis for a user who holds many VMs, next to a
user who holds few: no rule should read what the caller holds.

    python3 bench/holdings_cost.py [--held N] [--calls C] [VERSION ...]

A VERSION is a folder of scripts or a git revision, as for script_ab.py (default: lua). Each gets
a redis-server of its own (bench/luabench.py) with a pool of N + 100 VMs in two sizes and two
users with quotas per size (the rule that once made a checkout read every held VM): `heavy`,
who checks out N VMs (default 10,000) with leases, and `light`, who checks out 10. Then, for each
user, C times (default 2,000): a checkout and the checkin of that VM (the mean µs per FCALL of
the pair, Redis' INFO commandstats), and, with their quota lowered to what they hold, a refused
checkout (QUOTA_EXCEEDED; the mean µs per FCALL).
"""
import argparse
import contextlib
import os
import secrets
import sys
import tempfile

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from luabench import Pool, RedisServer, fcall_usec  # noqa: E402
from script_ab import lua_folder  # noqa: E402

SIZES = "small=1:2048,large=4:8192"


def user(pool, name, quota, size_quotas):
    token = secrets.token_hex(32)
    pool.call("create_user", "p:bench", name, "user", str(quota), token)
    pool.call("update_user", "p:bench", name, "", "", "", size_quotas)
    return "t:" + token


def checkout(pool, identity, on=None):
    # identity, default quota, lease asked, default lease, maximum lease, size, Idempotency-Key, window
    return pool.call("checkout", identity, "0", "3600", "", "604800", "small", "", "", on=on)


def hold(r, pool, identity, n):
    for start in range(0, n, 1000):
        p = r.pipeline(transaction=False)
        for _ in range(min(1000, n - start)):
            checkout(pool, identity, on=p)
        p.execute()


def cycles(r, pool, identity, calls):
    """µs per FCALL of `calls` checkouts, each followed by the checkin of its VM."""
    r.config_resetstat()
    for _ in range(calls):
        pool.call("checkin", identity, "", pool.ip_of(checkout(pool, identity)))
    return fcall_usec(r)[0]


def refusals(r, pool, identity, calls):
    """µs per FCALL of `calls` checkouts refused at the quota."""
    r.config_resetstat()
    for _ in range(calls):
        try:
            checkout(pool, identity)
            raise SystemExit("a checkout at the quota was not refused")
        except redis.ResponseError as error:
            assert str(error).startswith("QUOTA_EXCEEDED"), error
    return fcall_usec(r)[0]


def measure(folder, held, calls):
    with RedisServer() as r:
        pool = Pool(r, lua_folder=folder)
        pool.call("init_pool", held + 200, "", SIZES, "instant", "reuse")
        pool.create_random_vms(held + 100)
        r.xtrim(pool.key("events"), maxlen=0, approximate=False)
        rows = []
        for name, count in (("light", 10), ("heavy", held)):
            size_quotas = f"small={count + 1},large=1"
            identity = user(pool, name, count + 1, size_quotas)
            hold(r, pool, identity, count)
            cycle = cycles(r, pool, identity, calls)
            pool.call("update_user", "p:bench", name, str(count), "", "", f"small={count},large=1")
            refusal = refusals(r, pool, identity, calls)
            rows.append((name, count, cycle, refusal))
        return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--held", type=int, default=10000, help="VMs the heavy user holds (default 10000)")
    parser.add_argument("--calls", type=int, default=2000, help="calls measured per figure (default 2000)")
    parser.add_argument("versions", nargs="*", default=["lua"], help="folders of scripts or git revisions")
    options = parser.parse_args()
    print("| version | user | VMs held | checkout + checkin, µs per FCALL | refused checkout, µs |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="vmreserve-holdings-") as work:
        for version in options.versions:
            for name, count, cycle, refusal in measure(lua_folder(version, work), options.held, options.calls):
                print(f"| {version} | {name} | {count:,} | {cycle:.1f} | {refusal:.1f} |", flush=True)


if __name__ == "__main__":
    main()
