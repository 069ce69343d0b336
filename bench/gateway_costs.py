#!/usr/bin/env python3
"""What a request costs the gateway, route by route: one release gateway on a redis-server of
its own (1,000 VMs, 2 users), wrk at 64 connections against /healthz, GET /v1/vms/mine (auth and
one FCALL, a small answer) and checkout/checkin cycles (bench/checkout_checkin.lua: a body, a
state change, a VM in the answer); each process's CPU per request from /proc. For reference, the
bare Hummingbird endpoint (bench/BareEndpoint) alone and after one PING through vmreserve's Redis
client: what one Redis round trip costs a Hummingbird route, with none of the gateway's own work;
run as the gateway runs its tasks (on the event loops) and as Hummingbird does by default.
The floor it prints, /healthz plus that round trip, is what any route that talks to Redis costs
the gateway at least.
Usage: python3 bench/gateway_costs.py [SECONDS] [--perf]   (--perf: `perf record -g` of the
gateway during the cycles, into /tmp/vmreserve-gateway.perf; read it with `perf report -i`;
VMRESERVE_BIN=<a vmreserve binary> measures another build, e.g. an earlier commit's, against the
bare endpoint built from this checkout)"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import ROOT, Processes, cpu_seconds, free_port, measure, release_build, wait_for  # noqa: E402

SECONDS = int(next((a for a in sys.argv[1:] if a.isdigit()), "5"))
PERF = "--perf" in sys.argv

binary = os.environ.get("VMRESERVE_BIN") or release_build("vmreserve", "bare-endpoint")
work = tempfile.mkdtemp(prefix="vmreserve-gateway-costs-")
processes = Processes(work)
try:
    redis, redis_port, gateway, url, tokens = processes.start_probed_gateway(binary)
    healthz = measure("healthz", [url + "/healthz"], 64, SECONDS, [gateway.pid], redis.pid)

    def bare_endpoint(*options):
        """The bare endpoint (with `options`), measured at GET / and at GET /redis."""
        port = free_port()
        bare = processes.start("bare", [os.path.join(ROOT, ".build", "release", "bare-endpoint"), str(port), str(redis_port), *options])
        wait_for(f"http://127.0.0.1:{port}/redis")
        alone = measure("bare", [f"http://127.0.0.1:{port}/"], 64, SECONDS, [bare.pid], redis.pid)
        with_redis = measure("bare+redis", [f"http://127.0.0.1:{port}/redis"], 64, SECONDS, [bare.pid], redis.pid)
        processes.stop(bare)
        return alone, with_redis

    # as the gateway runs its tasks (on the event loops), for the floor; and Hummingbird's default
    bare_alone, bare_redis = bare_endpoint("--event-loop-executor")
    default_alone, default_redis = bare_endpoint()

    # GET /v1/vms/mine: wrk with the token as a header
    script = os.path.join(work, "mine.lua")
    with open(script, "w") as f:
        f.write(f'wrk.headers["Authorization"] = "Bearer {tokens[0]}"\n')
    before = {pid: cpu_seconds(pid) for pid in (gateway.pid, redis.pid)}
    output = subprocess.run(["wrk", "-t2", "-c64", f"-d{SECONDS}s", "-s", script, url + "/v1/vms/mine"],
                            capture_output=True, text=True, check=True).stdout
    after = {pid: cpu_seconds(pid) for pid in (gateway.pid, redis.pid)}
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    mine = {"rate": requests / SECONDS, "gateway": (after[gateway.pid] - before[gateway.pid]) * 1e6 / requests,
            "redis": (after[redis.pid] - before[redis.pid]) * 1e6 / requests}

    perf = None
    if PERF:
        perf = subprocess.Popen(["perf", "record", "-g", "-o", "/tmp/vmreserve-gateway.perf", "-p", str(gateway.pid), "--",
                                 "sleep", str(max(1, SECONDS - 1))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cycles = measure("cycle", [url + "/"], 64, SECONDS, [gateway.pid], redis.pid,
                     os.path.join(ROOT, "bench", "checkout_checkin.lua"), [tokens])
    if perf:
        perf.wait()
    print("| route, 64 connections | requests/s | gateway CPU µs/request | vs /healthz | Redis CPU µs/request |")
    print("|---|---|---|---|---|")
    base = healthz["cpu_us"]["server"]
    round_trip = bare_redis["cpu_us"]["server"] - bare_alone["cpu_us"]["server"]
    for name, rate, cost, redis_cost in [
        ("bare endpoint GET /, Hummingbird's default executor", default_alone["rate"], default_alone["cpu_us"]["server"], 0.0),
        ("bare endpoint GET /redis (one PING), Hummingbird's default executor", default_redis["rate"],
         default_redis["cpu_us"]["server"], default_redis["cpu_us"]["redis"]),
        ("bare endpoint GET /, event-loop executor", bare_alone["rate"], bare_alone["cpu_us"]["server"], 0.0),
        ("bare endpoint GET /redis (one PING), event-loop executor", bare_redis["rate"], bare_redis["cpu_us"]["server"],
         bare_redis["cpu_us"]["redis"]),
        ("GET /healthz", healthz["rate"], base, healthz["cpu_us"]["redis"]),
        ("GET /v1/vms/mine", mine["rate"], mine["gateway"], mine["redis"]),
        ("checkout/checkin cycles", cycles["rate"], cycles["cpu_us"]["server"], cycles["cpu_us"]["redis"]),
    ]:
        print(f"| {name} | {rate:,.0f} | {cost:.1f} | {cost / base:.2f} | {redis_cost:.1f} |")
    print(f"\nOne Redis round trip costs a Hummingbird route on the event-loop executor, as the gateway runs, {round_trip:.1f} µs; /healthz plus one round trip, "
          f"the floor of any route that talks to Redis: {base + round_trip:.1f} µs, {(base + round_trip) / base:.2f}× /healthz "
          f"(on Hummingbird's default executor: {default_redis['cpu_us']['server'] - default_alone['cpu_us']['server']:.1f} µs)")
finally:
    processes.stop_all()
