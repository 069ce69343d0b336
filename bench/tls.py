#!/usr/bin/env python3
"""What encryption costs: HTTPS against HTTP, and rediss:// (mutual TLS) against redis://.

    python3 bench/tls.py [--seconds S] [--rounds N] [--vms N]

One release build; certificates made by Tests/Fixtures/make-test-certificates.sh; one
redis-server listening on a plain port and on a TLS port that asks clients for a certificate (no
persistence); three gateways on it serving one pool: `http` (HTTP, redis://), `https` (HTTPS with
--tls-cert/--tls-key and --http2, redis://; wrk asks for no HTTP/2, so its rows are HTTP/1.1) and `rediss` (HTTP, rediss:// with --redis-tls-ca/cert/key).
Then, in turn for --rounds rounds (so that the machine's drift falls on all alike):
checkout/checkin cycles (bench/checkout_checkin.lua) at 64 keep-alive connections against each;
and, when h2load is installed (Debian's nghttp2-client), `GET /v1/vms/mine` at 64 connections
(one request in flight on each) against the HTTPS gateway over HTTP/2 and over HTTP/1.1 (h2load
--h1), so that one tool measures both. Prints requests/s and each process's CPU per request,
from /proc and wait4.
"""
import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import (ADMIN, ROOT, Processes, cpu_seconds, free_port, http, measure, release_build,  # noqa: E402
                   return_held, wait_for)


def h2load(url, token, seconds, gateway_pid, redis_pid, http1):
    """h2load GETs of `url` at 64 connections, one request in flight on each: requests/s and CPU
    per request of the gateway and Redis."""
    before = {pid: cpu_seconds(pid) for pid in (gateway_pid, redis_pid)}
    output = subprocess.run(["h2load", "-c", "64", "-m", "1", "-t", "2", "-D", str(seconds), "-H", f"Authorization: Bearer {token}"]
                            + (["--h1"] if http1 else []) + [url], capture_output=True, text=True, check=True).stdout
    used = {pid: cpu_seconds(pid) - before[pid] for pid in before}
    done = int(re.search(r"requests: \d+ total, \d+ started, (\d+) done", output).group(1))
    rate = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output).group(1))
    ok = int(re.search(r"status codes: (\d+) 2xx", output).group(1))
    return {"rate": rate, "done": done, "non_2xx": done - ok,
            "cpu_us": {"server": used[gateway_pid] * 1e6 / max(1, done), "redis": used[redis_pid] * 1e6 / max(1, done)}}


def wait_for_https(url, cafile):
    context = ssl.create_default_context(cafile=cafile)
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1, context=context)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three gateways, in turn (default 3)")
    parser.add_argument("--vms", type=int, default=1000, help="VMs in the pool (default 1000)")
    options = parser.parse_args()
    binary = release_build("vmreserve")
    work = tempfile.mkdtemp(prefix="vmreserve-tls-")
    processes = Processes(work)
    certificates = os.path.join(work, "certificates")
    os.makedirs(certificates)
    subprocess.run(["sh", os.path.join(ROOT, "Tests", "Fixtures", "make-test-certificates.sh"), certificates], check=True)
    cert = lambda name, kind: os.path.join(certificates, f"{name}.{kind}")
    try:
        redis_port, tls_port = free_port(), free_port()
        redis = processes.start("redis", [
            "redis-server", "--port", str(redis_port), "--tls-port", str(tls_port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", work, "--tls-cert-file", cert("server", "crt"), "--tls-key-file", cert("server", "key"),
            "--tls-ca-cert-file", cert("ca", "crt"), "--tls-auth-clients", "yes"])
        variants = {
            "http": ["--redis-url", f"redis://127.0.0.1:{redis_port}/0"],
            "https": ["--redis-url", f"redis://127.0.0.1:{redis_port}/0", "--tls-cert", cert("server", "crt"),
                      "--tls-key", cert("server", "key"), "--http2"],
            "rediss": ["--redis-url", f"rediss://127.0.0.1:{tls_port}/0", "--redis-tls-ca", cert("ca", "crt"),
                       "--redis-tls-cert", cert("client", "crt"), "--redis-tls-key", cert("client", "key")],
        }
        gateways = {}
        for name, flags in variants.items():
            port = free_port()
            process = processes.start(f"gateway-{name}", [
                binary, "serve", "--port", str(port), "--admin-token", ADMIN, "--max-vm-count", "1000000", "--pool", "tls",
                "--log-level", "warning"] + flags)
            scheme = "https" if name == "https" else "http"
            gateways[name] = (process, f"{scheme}://localhost:{port}" if name == "https" else f"http://127.0.0.1:{port}")
            if name == "https":
                wait_for_https(gateways[name][1] + "/readyz", cert("ca", "crt"))
            else:
                wait_for(gateways[name][1] + "/readyz")
        admin = gateways["http"][1]
        for start in range(0, options.vms, 1000):
            http(admin + "/v1/admin/vms", "POST", {"count": min(1000, options.vms - start)})
        tokens = [http(admin + "/v1/admin/users", "POST", {"name": f"user{i}", "quota": 256})["data"]["token"] for i in range(2)]
        rows, protocol_rows = [], []
        with_h2load = shutil.which("h2load") is not None
        for round_number in range(options.rounds):
            for name in variants:
                process, url = gateways[name]
                run = measure("cycle", [url + "/"], 64, options.seconds, [process.pid], redis.pid,
                              os.path.join(ROOT, "bench", "checkout_checkin.lua"), [tokens])
                row = {"round": round_number + 1, "variant": name, "cycle": run}
                rows.append(row)
                print(json.dumps(row), flush=True)
                return_held(admin, tokens)
            for http1 in ([False, True] if with_h2load else []):
                process, url = gateways["https"]
                run = h2load(url + "/v1/vms/mine", tokens[0], options.seconds, process.pid, redis.pid, http1)
                row = {"round": round_number + 1, "protocol": "HTTP/1.1" if http1 else "HTTP/2", "mine": run}
                protocol_rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| round | gateway | requests/s | p99 ms | non-2xx | CPU µs/request: gateway | redis | wrk |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        cycle = row["cycle"]
        cpu = cycle["cpu_us"]
        print(f"| {row['round']} | {row['variant']} | {cycle['rate']:,.0f} | {cycle['p99_ms']:.2f} | {cycle['non_2xx']} | "
              f"{cpu['server']:.1f} | {cpu['redis']:.1f} | {cpu['wrk']:.1f} |")
    if not protocol_rows:
        print("\n(h2load is not installed: no HTTP/2 rows; apt-get install nghttp2-client)")
        return
    print("\n| round | HTTPS gateway, GET /v1/vms/mine over | requests/s | non-2xx | CPU µs/request: gateway | redis |")
    print("|---|---|---|---|---|---|")
    for row in protocol_rows:
        mine = row["mine"]
        print(f"| {row['round']} | {row['protocol']} | {mine['rate']:,.0f} | {mine['non_2xx']} | {mine['cpu_us']['server']:.1f} | "
              f"{mine['cpu_us']['redis']:.1f} |")


if __name__ == "__main__":
    main()
