#!/usr/bin/env python3
"""What single Lua constructs cost inside a Redis function: each runs in a loop in one FCALL,
timed by INFO commandstats, on a redis-server of its own (bench/luabench.py).
Usage: python3 bench/lua_costs.py"""
from luabench import RedisServer

LOOPS = {
    "an empty loop turn": ("", 1000000),
    "a function call": ("local y = f(i)", 1000000),
    "a number turned into text ('k' .. i)": ("local y = 'k' .. i", 100000),
    "a pattern match": ("local y = ('12345'):match('^%d+$')", 100000),
    "a table of two fields": ("local y = {a = i, b = i}", 100000),
    "redis.call('EXISTS', key)": ("redis.call('EXISTS', keys[1])", 100000),
    "redis.call('HGET', key, field)": ("redis.call('HGET', keys[1], 'f')", 100000),
}

library = "#!lua name=costs\nlocal function f(a) return a end\n"
for index, (body, _) in enumerate(LOOPS.values()):
    library += f"redis.register_function('c{index}', function(keys, args) for i = 1, tonumber(args[1]) do {body} end return 1 end)\n"

with RedisServer() as r:
    r.function_load(library)
    r.hset("h", "f", "v")
    for index, (name, (_, n)) in enumerate(LOOPS.items()):
        r.config_resetstat()
        for _ in range(5):
            r.fcall(f"c{index}", 1, "h", n)
        usec = r.info("commandstats")["cmdstat_fcall"]["usec_per_call"]
        print(f"{name:40} {usec * 1000 / n:7.1f} ns")
