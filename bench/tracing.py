#!/usr/bin/env python3
"""What tracing costs: checkout/checkin cycles (wrk, 64 connections, bench/checkout_checkin.lua)
against one gateway without tracing and one with `--otlp-endpoint` (spans exported over OTLP/HTTP
to a collector on loopback that accepts and drops them), alternately, three runs each; the rate
and each process' CPU per request.

    python3 bench/tracing.py [--seconds S]
"""
import http.server
import os
import tempfile
import threading

from suite import ADMIN, ROOT, Processes, release_build, return_held, seconds_option, free_port, http as call, measure, wait_for


class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


def main():
    options = seconds_option(__doc__)
    binary = release_build("vmreserve")
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp(prefix="vmreserve-tracing-")
    processes = Processes(work)
    try:
        redis, redis_port = processes.start_redis()
        gateways = {}
        for name, extra in (("off", []), ("on", ["--otlp-endpoint", f"http://127.0.0.1:{collector.server_port}"])):
            port = free_port()
            process = processes.start(f"gateway-{name}", [binary, "serve", "--port", str(port), "--redis-url",
                                                          f"redis://127.0.0.1:{redis_port}/0", "--admin-token", ADMIN,
                                                          "--pool", name, "--log-level", "warning"] + extra)
            url = f"http://127.0.0.1:{port}"
            wait_for(url + "/readyz")
            call(url + "/v1/admin/vms", "POST", {"count": 200})
            tokens = [call(url + "/v1/admin/users", "POST", {"name": f"u{i}", "quota": 256})["data"]["token"] for i in range(2)]
            gateways[name] = (process, url, tokens)
        print("| tracing | requests/s | p99 ms | CPU µs/request: gateway | redis | wrk |\n|---|---|---|---|---|---|")
        for _ in range(3):
            for name, (process, url, tokens) in gateways.items():
                run = measure(name, [url + "/"], 64, options.seconds, [process.pid], redis.pid,
                              os.path.join(ROOT, "bench", "checkout_checkin.lua"), [tokens])
                cpu = run["cpu_us"]
                print(f"| {name} | {run['rate']:,.0f} | {run['p99_ms']:.2f} | {cpu['server']:.1f} | {cpu['redis']:.1f} | {cpu['wrk']:.1f} |",
                      flush=True)
                return_held(url, tokens)  # for the next run
    finally:
        processes.stop_all()
        collector.shutdown()


if __name__ == "__main__":
    main()
