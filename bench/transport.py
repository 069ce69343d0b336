#!/usr/bin/env python3
"""What the way to Redis costs: TCP on loopback against a Unix socket.

    python3 bench/transport.py [--seconds S] [--rounds N] [--vms N]

One release build, one redis-server listening on both a loopback port and a Unix socket (no
persistence, stock settings), and two gateways on it serving one pool: one with
`--redis-url redis://127.0.0.1:PORT/0`, one with `--redis-url unix:///…/redis.sock`. Then, in
turn for --rounds rounds (so that the machine's drift falls on both alike): redis-benchmark GET
at 64 clients over each transport, and checkout/checkin cycles (bench/checkout_checkin.lua) at
64 connections against each gateway. Prints each process's CPU per request, from /proc and wait4.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import (ADMIN, ROOT, Processes, free_port, http, measure, redis_benchmark,  # noqa: E402
                   release_build, return_held, wait_for)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both transports, in turn (default 3)")
    parser.add_argument("--vms", type=int, default=1000, help="VMs in the pool (default 1000)")
    options = parser.parse_args()
    binary = release_build("vmreserve")
    work = tempfile.mkdtemp(prefix="vmreserve-transport-")
    processes = Processes(work)
    socket_path = os.path.join(work, "redis.sock")
    try:
        redis_port = free_port()
        redis = processes.start("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", work, "--unixsocket", socket_path,
                                          "--unixsocketperm", "700"])
        gateways = {}
        for transport, redis_url in (("tcp", f"redis://127.0.0.1:{redis_port}/0"), ("unix", f"unix://{socket_path}")):
            port = free_port()
            process = processes.start(f"gateway-{transport}", [
                binary, "serve", "--port", str(port), "--redis-url", redis_url, "--admin-token", ADMIN,
                "--max-vm-count", "1000000", "--pool", "transport", "--log-level", "warning"])
            gateways[transport] = (process, f"http://127.0.0.1:{port}")
            wait_for(gateways[transport][1] + "/readyz")
        admin = gateways["tcp"][1]
        for start in range(0, options.vms, 1000):
            http(admin + "/v1/admin/vms", "POST", {"count": min(1000, options.vms - start)})
        tokens = [http(admin + "/v1/admin/users", "POST", {"name": f"user{i}", "quota": 256})["data"]["token"] for i in range(2)]
        rows = []
        for round_number in range(options.rounds):
            for transport in ("tcp", "unix"):
                get = redis_benchmark(redis_port, redis.pid, ["GET", "key:__rand_int__"], requests=300000,
                                      socket_path=socket_path if transport == "unix" else None)
                process, url = gateways[transport]
                run = measure("cycle", [url + "/"], 64, options.seconds, [process.pid], redis.pid,
                              os.path.join(ROOT, "bench", "checkout_checkin.lua"), [tokens])
                row = {"round": round_number + 1, "transport": transport, "get": get, "cycle": run}
                rows.append(row)
                print(json.dumps(row), flush=True)
                return_held(admin, tokens)
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| round | Redis over | GET: requests/s | Redis µs | cycles: requests/s | p99 ms | CPU µs/request: gateway | redis "
          "| wrk | Redis vs GET |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        get, cycle = row["get"], row["cycle"]
        cpu = cycle["cpu_us"]
        print(f"| {row['round']} | {'TCP' if row['transport'] == 'tcp' else 'Unix socket'} | {get['rate']:,.0f} | "
              f"{get['redis_cpu_us']:.1f} | {cycle['rate']:,.0f} | {cycle['p99_ms']:.2f} | {cpu['server']:.1f} | "
              f"{cpu['redis']:.1f} | {cpu['wrk']:.1f} | {cpu['redis'] / get['redis_cpu_us']:.2f} |")


if __name__ == "__main__":
    main()
