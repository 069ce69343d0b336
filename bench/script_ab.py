#!/usr/bin/env python3
"""Two or more versions of the scripts against each other, in turn: what a change to lua/ buys.

    python3 bench/script_ab.py [--vms N] [--rounds R] VERSION VERSION ...

A VERSION is a folder of scripts (e.g. lua) or a git revision whose lua/ is taken (e.g. HEAD~3).
Each version gets a redis-server of its own (no persistence, stock settings) with a pool of
--vms VMs (UUID ids, random addresses) and 16 users; then, --rounds times, each version in turn
runs 16,000 checkouts and their checkins by address (16 users, pipelined as a gateway would),
and Redis' own accounting gives the mean FCALL time of that round (INFO commandstats). Paired
rounds, because this machine's speed drifts by 15-25% over minutes. Also prints each pool's
Redis memory per VM after the creation (the history stream trimmed).
"""
import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from luabench import ROOT, Pool, RedisServer  # noqa: E402

CYCLES = 16000
USERS = 16


def lua_folder(version, work):
    """`version` as a folder of scripts (from here or from the checkout's root), or a git revision's
    lua/ extracted into `work`."""
    for folder in (version, os.path.join(ROOT, version)):
        if os.path.isdir(folder):
            return folder
    target = os.path.join(work, version.replace("/", "_"))
    os.makedirs(target)
    archive = subprocess.run(["git", "archive", version, "lua"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return os.path.join(target, "lua")


def fill(r, pool, vms):
    """A pool of `vms` VMs and USERS users; answers the users' identities and the memory per VM."""
    pool.call("init_pool", 1000000, "", "", "instant", "reuse")
    base = r.info("memory")["used_memory"]
    pool.create_random_vms(vms)
    r.xtrim(pool.key("events"), maxlen=0, approximate=False)
    per_vm = (r.info("memory")["used_memory"] - base) / vms
    tokens = [secrets.token_hex(32) for _ in range(USERS)]
    for index, token in enumerate(tokens):
        pool.call("create_user", "p:bench", f"u{index}", "user", "5", token)
    return [f"t:{token}" for token in tokens], per_vm


def round_of_cycles(r, pool, identities):
    """CYCLES checkouts, each user's checked in by address right after; the mean µs per FCALL."""
    r.config_resetstat()
    for _ in range(CYCLES // USERS):
        p = r.pipeline(transaction=False)
        for identity in identities:
            pool.call("checkout", identity, 1000000, "", "", "604800", "", on=p)
        vms = p.execute()
        p = r.pipeline(transaction=False)
        for identity, vm in zip(identities, vms):
            pool.call("checkin", identity, "", pool.ip_of(vm), on=p)
        p.execute()
    return r.info("commandstats")["cmdstat_fcall"]["usec_per_call"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=1000000, help="VMs in each pool (default 1000000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every version, in turn (default 5)")
    parser.add_argument("versions", nargs="+", help="folders of scripts or git revisions")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmreserve-script-ab-") as work, contextlib.ExitStack() as servers:
        pools = []
        for version in options.versions:
            r = servers.enter_context(RedisServer())
            pool = Pool(r, lua_folder=lua_folder(version, work))
            identities, per_vm = fill(r, pool, options.vms)
            print(f"{version}: {per_vm:.0f} bytes per VM", flush=True)
            pools.append((version, r, pool, identities, []))
        for _ in range(options.rounds):
            for version, r, pool, identities, times in pools:
                times.append(round_of_cycles(r, pool, identities))
                print(f"{version}: {times[-1]:.2f} µs per FCALL", flush=True)
    print("\n| version | µs per FCALL, each round | median |\n|---|---|---|")
    for version, _, _, _, times in pools:
        print(f"| {version} | {' / '.join(f'{t:.2f}' for t in times)} | {sorted(times)[len(times) // 2]:.2f} |")


if __name__ == "__main__":
    main()
