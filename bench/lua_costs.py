#!/usr/bin/env python3
"""What single Lua constructs, and the hot-path helpers of lua/lib/, cost inside a Redis function:
each runs in a loop in one FCALL, timed by INFO commandstats, on a redis-server of its own
(bench/luabench.py). The helpers run inside the library built from lua/ (with a pool and a token
user set up), each beside the plain Redis command it wraps, so the difference is its Lua.
Usage: python3 bench/lua_costs.py [LUA_FOLDER]"""
import os
import secrets
import sys

from luabench import ROOT, Pool, RedisServer, declared_keys, helper_library

LOOPS = {
    "an empty loop turn": ("", 1000000),
    "a function call": ("local y = f(i)", 1000000),
    "a number turned into text ('k' .. i)": ("local y = 'k' .. i", 100000),
    "a pattern match": ("local y = ('12345'):match('^%d+$')", 100000),
    "a table of two fields": ("local y = {a = i, b = i}", 100000),
    "redis.call('EXISTS', key)": ("redis.call('EXISTS', keys[1])", 100000),
    "redis.call('HGET', key, field)": ("redis.call('HGET', keys[1], 'f')", 100000),
}

# A VM as a checkout finds it, a token user (args[1]: the token's SHA-256 hex).
HELPERS = {
    "vms.load (a VM's hash into a map)": "local v = vms.load(C, ID)",
    "   the plain HGETALL": "local x = redis.call('HGETALL', C.k.vm .. ID)",
    "vms.update (a checkout's three fields)": "vms.update(C, VM, {status = 'available', user = 'u1', checked_out_at = '1700000000000'})",
    "   the plain HSET": "redis.call('HSET', C.k.vm .. ID, 'status', 'available', 'user', 'u1', 'checked_out_at', '1700000000000')",
    "identity.authenticate (a token user)": "local n, r, u = identity.authenticate(C, IDENT)",
    "   the plain HGET and HGETALL": "local x = redis.call('HGETALL', C.k.user .. redis.call('HGET', C.k.tokens, TOKEN))",
    "clock.now (TIME, as ms and as text)": "C.t = nil; local t = clock.now(C)",
    "   the plain TIME": "local t = redis.call('TIME')",
    "events.append of a checkout (XADD)": "events.append(C, 'checkout', 'u1', ID, '11.0.0.7', 'u1', 'checked-out', 'lease 3600 s')",
    "   the plain XADD": "redis.call('XADD', C.k.events, 'MAXLEN', '~', '100000', '*', 'action', 'checkout', 'actor', 'u1', "
                         "'vm_id', ID, 'ip', '11.0.0.7', 'user', 'u1', 'status', 'checked-out', 'detail', 'lease 3600 s')",
    "leases.arg (three whole-number arguments)": "local l = leases.arg(ARGV, 3, nil, LIMITS)",
    "leases.reclaim_expired (none expired)": "leases.reclaim_expired(C, 1700000000000)",
}
ROUNDS = 20000


def constructs(r):
    library = "#!lua name=costs\nlocal function f(a) return a end\n"
    for index, (body, _) in enumerate(LOOPS.values()):
        library += f"redis.register_function('c{index}', function(keys, args) for i = 1, tonumber(args[1]) do {body} end return 1 end)\n"
    r.function_load(library)
    r.hset("h", "f", "v")
    for index, (name, (_, n)) in enumerate(LOOPS.items()):
        r.config_resetstat()
        for _ in range(5):
            r.fcall(f"c{index}", 1, "h", n)
        usec = r.info("commandstats")["cmdstat_fcall"]["usec_per_call"]
        print(f"{name:45} {usec * 1000 / n:7.1f} ns")


def helpers(r, lua_folder):
    pool = Pool(r, lua_folder=lua_folder)
    pool.call("init_pool", 1000000, "", "small=1:2048", "instant", "reuse")
    token = secrets.token_hex(32)
    pool.call("create_user", "p:bench", "u1", "user", "5", token)
    vm_id = "abcdef12-3456-7890-abcd-ef1234567890"
    pool.call("create_vms", "p:bench", 1, "", "", "", "", vm_id, "11.0.0.7")
    library = "#!lua name=helpers\n" + helper_library(lua_folder)
    library += f"\nlocal ID = '{vm_id}'\nlocal C, TOKEN, IDENT, VM, LIMITS\n"
    for index, body in enumerate(HELPERS.values()):
        library += (f"redis.register_function('h{index}', function(keys, ARGV)\n"
                    " C = pool.context(keys); TOKEN = ARGV[1]; IDENT = 't:' .. TOKEN; VM = VM or vms.load(C, ID); LIMITS = {quota = 5}\n"
                    f" for i = 1, {ROUNDS} do {body} end\n return 1\nend)\n")
    r.function_load(library)
    for index, name in enumerate(HELPERS):
        r.config_resetstat()
        for _ in range(3):  # ARGV as a checkout's: identity, default quota, lease, default lease, maximum
            r.fcall(f"h{index}", 2, *declared_keys("bench"), token, "0", "3600", "", "604800")
        usec = r.info("commandstats")["cmdstat_fcall"]["usec_per_call"]
        print(f"{name:45} {usec * 1000 / ROUNDS:7.0f} ns")


with RedisServer() as r:
    constructs(r)
    print()
    helpers(r, sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "lua"))
