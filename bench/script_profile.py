#!/usr/bin/env python3
"""Where Redis' time goes in a checkout and a checkin: N checkouts (each by its own user, by
token, with a lease), then their N checkins, through one pipelined connection on a redis-server of its own,
measured by Redis' own accounting (INFO commandstats): the FCALL total per call and the commands
run inside it. The rest of an FCALL's time is Lua.
Usage: python3 bench/script_profile.py [N] [LUA_FOLDER]   (default 20000 and lua/; needs
`pip install redis` and a built vmreserve, see bench/luabench.py)"""
import secrets
import sys

from luabench import Pool, RedisServer

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000


def report(r, what):
    stats = r.info("commandstats")
    fcall = stats["cmdstat_fcall"]
    inside = sum(v["usec"] for k, v in stats.items() if k not in ("cmdstat_fcall", "cmdstat_config|resetstat"))
    print(f"{what}: {fcall['usec_per_call']:.2f} us per FCALL, of which Redis commands {inside / N:.2f} us "
          f"and Lua {(fcall['usec'] - inside) / N:.2f} us")
    for name, v in sorted(stats.items(), key=lambda kv: -kv[1]["usec"]):
        if name not in ("cmdstat_fcall", "cmdstat_config|resetstat"):
            print(f"  {name[8:]:18} {v['calls'] / N:4.1f} per call  {v['usec'] / N:5.2f} us")


with RedisServer() as r:
    pool = Pool(r, lua_folder=sys.argv[2] if len(sys.argv) > 2 else None)
    pool.call("init_pool", 1000000, "", "small=1:2048,medium=2:4096,large=4:8192", "instant", "reuse")
    pool.create_vms(N)
    tokens = [secrets.token_hex(32) for _ in range(N)]
    p = r.pipeline(transaction=False)
    for i, token in enumerate(tokens):
        pool.call("create_user", "p:bench", f"u{i}", "user", "5", token, on=p)
    p.execute()
    r.config_resetstat()
    p = r.pipeline(transaction=False)
    for i in range(N):
        pool.call("checkout", f"t:{tokens[i]}", 1000000, "3600", "", "604800", "", on=p)
    ids = [vm[0].decode() for vm in p.execute()]  # a VM is answered as [vm_id, ...]
    report(r, "checkout")
    r.config_resetstat()
    p = r.pipeline(transaction=False)
    for i, vm in enumerate(ids):
        pool.call("checkin", f"t:{tokens[i]}", vm, "", on=p)
    p.execute()
    report(r, "checkin")
