#!/usr/bin/env python3
"""Scale-out past one Redis: the total checkout/checkin rate with three pools spread over 1, 2
and 3 masters of a Redis Cluster, one gateway per pool, each gateway pinned to a core (taskset,
round robin over the machine's cores), 64 connections per gateway (wrk, bench/checkout_checkin.lua).

    python3 bench/cluster.py [--seconds S]

Starts its own three-master cluster (redis-cli --cluster create) on loopback, with Redis' stock
settings. Prints, per placement, the total rate, each
process' CPU per request (gateways, all masters, wrk) and each master's share of Redis' CPU.
"""
import os
import shutil
import subprocess
import tempfile
import time

import redis

from suite import ADMIN, ROOT, Processes, release_build, seconds_option, cpu_seconds, free_port, http, measure, wait_for


def cluster_port():
    port = free_port()
    while port > 55535:  # the cluster bus listens on port + 10000
        port = free_port()
    return port


def main():
    options = seconds_option(__doc__)
    binary = release_build("vmreserve")
    work = tempfile.mkdtemp(prefix="vmreserve-cluster-")
    processes = Processes(work)
    cores = os.cpu_count()
    try:
        ports, masters = [], []
        for index in range(3):
            port = cluster_port()
            directory = os.path.join(work, f"node{index}")
            os.makedirs(directory)
            masters.append(processes.start(f"redis{index}", [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory,
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]))
            ports.append(port)
        time.sleep(0.5)
        subprocess.run(["redis-cli", "--cluster", "create"] + [f"127.0.0.1:{p}" for p in ports]
                       + ["--cluster-replicas", "0", "--cluster-yes"], check=True, stdout=subprocess.DEVNULL)
        clients = [redis.Redis(port=p) for p in ports]
        while not all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for c in clients):
            time.sleep(0.1)
        owner = {}
        for start, end, master, *_ in clients[0].execute_command("CLUSTER", "SLOTS"):
            for slot in range(start, end + 1):
                owner[slot] = ports.index(master[1])

        def pools_on(masters_used):
            """Three pool names whose slots are on the first `masters_used` masters, spread evenly."""
            names, index = [], 0
            while len(names) < 3:
                name = f"bench{index}"
                index += 1
                slot = clients[0].execute_command("CLUSTER", "KEYSLOT", f"vmreserve:{{{name}}}:pool")
                if owner[slot] == len(names) % masters_used:
                    names.append(name)
            return names

        seed = f"127.0.0.1:{ports[0]}"
        print(f"# {cores} cores; three pools, one gateway each, pinned round robin; 64 connections per gateway")
        for masters_used in (1, 2, 3):
            gateways, urls, tokens = [], [], []
            for index, pool in enumerate(pools_on(masters_used)):
                port = free_port()
                gateway = processes.start(f"gateway-{masters_used}-{pool}", [
                    "taskset", "-c", str(index % cores), binary, "serve", "--port", str(port), "--redis-cluster", seed,
                    "--pool", pool, "--admin-token", ADMIN, "--max-vm-count", "1000000", "--log-level", "warning"])
                url = f"http://127.0.0.1:{port}"
                wait_for(url + "/readyz")
                http(url + "/v1/admin/vms", "POST", {"count": 1000})
                tokens.append([http(url + "/v1/admin/users", "POST", {"name": f"u{i}", "quota": 256})["data"]["token"]
                               for i in range(2)])
                gateways.append(gateway)
                urls.append(url + "/")
            before = [cpu_seconds(m.pid) for m in masters]
            run = measure("cluster", urls, 64 * len(urls), options.seconds, [g.pid for g in gateways],
                          [m.pid for m in masters], os.path.join(ROOT, "bench", "checkout_checkin.lua"), tokens)
            shares = [cpu_seconds(m.pid) - b for m, b in zip(masters, before)]
            total = sum(shares) or 1
            cpu = run["cpu_us"]
            print(f"| {masters_used} | {run['rate']:,.0f} | {run['non_2xx'] / max(1, run['requests']):.0%} | {run['p99_ms']:.2f} | "
                  f"{cpu['server']:.1f} | {cpu['redis']:.1f} | {cpu['wrk']:.1f} | "
                  f"{' / '.join(f'{s / total:.0%}' for s in shares)} |", flush=True)
            for gateway in gateways:
                processes.stop(gateway)
            for client in clients:
                try:
                    client.flushall()
                except redis.ResponseError:
                    pass
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
