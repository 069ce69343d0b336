#!/usr/bin/env python3
"""vmreserve's benchmark suite: one command, one run, every figure of BENCHMARKS.md's table.

    python3 bench/suite.py [--seconds S] [--rounds R] [--sizes 100,10000,1000000] [--users N] [--no-write]

Builds vmreserve and bench/BareEndpoint in release mode, starts its own redis-servers (no
persistence, Redis' stock settings: one for the references,
then one per pool size, all up at once) and gateways on free loopback ports, and measures, all
in this one run (the runs of the pool sizes taken in turn, so that the machine's drift over the
run falls on every size alike):

  references  the bare Hummingbird endpoint and the gateway's /healthz (wrk, 64 connections);
              redis-benchmark at 64 clients: plain GET, and FCALL of checkout.lua and checkin.lua;
  cycles      authenticated checkout/checkin cycles (bench/checkout_checkin.lua: each wrk thread
              is one user that checks in what it holds, else checks out) at 1, 16, 64 and 256
              connections, against 1 gateway and against 3 (one wrk per gateway, the
              connections split between them), for every pool size (VMs; the pool also has
              --users users);
  admin reads GET /v1/admin/pool, the first page of 100 VMs and a page from the middle, as the
              admin, 16 connections, for every pool size;
  memory      Redis' used_memory per VM and per user (the history stream, capped at about
              100,000 events, is measured apart and trimmed first);
  CPU         each process's CPU time per request (gateways, redis-server, wrk), from /proc
              and wait4, and the gateway's RSS after the 256-connection run.
  rounds      the 64-connection rows (the targets') --rounds times, the pool sizes in turn, the
              table showing each size's median run; before each 1-gateway round, the bare
              endpoint, /healthz of that gateway and redis-benchmark GET of that Redis, for
              ratios the machine's drift over the run does not enter.

It writes bench/results/suite.json, PNG plots in bench/results/, and the Markdown table between
the `suite:begin` and `suite:end` markers of BENCHMARKS.md. Latency percentiles with 3 gateways
are the highest of the three wrk processes' (wrk cannot merge its histograms): an upper bound.
Needs wrk, redis-benchmark and, from PyPI, redis and matplotlib (installed if missing).
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from luabench import declared_keys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results")
CONNECTIONS = [1, 16, 64, 256]
ADMIN = os.urandom(16).hex()


def ensure_tools():
    missing = [tool for tool in ("wrk", "redis-benchmark") if not shutil.which(tool)]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        packages = ["wrk" if tool == "wrk" else "redis-tools" for tool in missing]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + packages, check=True, stdout=subprocess.DEVNULL)
    for module in ("redis", "matplotlib"):
        try:
            __import__(module)
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", module], check=True)


def release_build(*products):
    """Builds the products in release mode; answers the path of vmreserve's binary."""
    for product in products:
        subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, ".build", "release", "vmreserve")


def seconds_option(description):
    """The command line of a benchmark that takes only --seconds."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run (default 5)")
    return parser.parse_args()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def http(url, method="GET", body=None, token=ADMIN):
    request = urllib.request.Request(url, method=method, data=body and json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def return_held(url, tokens):
    """Checks in what the users of `tokens` hold, so that the next run starts from a full pool.
    wrk stops with VMs out and with requests still in flight at the gateway, which may return a
    VM listed here before its checkin here does (403: no longer the user's): until none is held."""
    for _ in range(100):
        held = [(vm["vm_id"], token) for token in tokens for vm in http(url + "/v1/vms/mine", token=token)["data"]]
        if not held:
            return
        for vm_id, token in held:
            try:
                http(url + "/v1/checkins", "POST", {"vm_id": vm_id}, token=token)
            except urllib.error.HTTPError as error:
                if error.code != 403:
                    raise
        time.sleep(0.1)
    raise SystemExit("the benchmark users still hold VMs")


class Processes:
    """redis-server and gateways of this run, stopped at the end."""

    def __init__(self, work):
        self.work = work
        self.running = []

    def start(self, name, arguments, **options):
        log = open(os.path.join(self.work, name + ".log"), "w")
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT, **options)
        self.running.append(process)
        return process

    def start_redis(self):
        """A redis-server without persistence, with stock settings, once it answers: (process, port)."""
        port = free_port()
        process = self.start(f"redis-{port}", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", self.work])
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return process, port
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("redis-server did not answer")

    def start_probed_gateway(self, binary):
        """The probes' setup (bench/gateway_costs.py, bench/runtime_counts.py): a redis-server and one
        gateway on it with 1,000 VMs and 2 users. Returns (redis process, its port, gateway process,
        gateway URL, the users' tokens)."""
        redis_server, redis_port = self.start_redis()
        port = free_port()
        gateway = self.start("gateway", [binary, "serve", "--port", str(port), "--redis-url", f"redis://127.0.0.1:{redis_port}/0",
                                         "--admin-token", ADMIN, "--max-vm-count", "100000", "--log-level", "warning"])
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/readyz")
        http(url + "/v1/admin/vms", "POST", {"count": 1000})
        tokens = [http(url + "/v1/admin/users", "POST", {"name": f"u{i}", "quota": 100})["data"]["token"] for i in range(2)]
        return redis_server, redis_port, gateway, url, tokens

    def stop(self, process):
        process.terminate()
        process.wait()
        self.running.remove(process)

    def stop_all(self):
        for process in list(self.running):
            self.stop(process)


def wait_for(url):
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def wrk(url, connections, seconds, script=None, tokens=None):
    """Starts one wrk; returns the process (see wrk_result)."""
    environment = dict(os.environ, TOKENS=",".join(tokens or []))
    arguments = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                 os.path.join(ROOT, "bench", "wrk_report.lua")]
    if script:
        environment["WRK_SCRIPT"] = script
    return subprocess.Popen(arguments + [url], stdout=subprocess.PIPE, text=True, env=environment)


def wrk_result(process):
    """(report from bench/wrk_report.lua, wrk's CPU seconds)."""
    _, _, usage = os.wait4(process.pid, 0)
    output = process.stdout.read()
    process.returncode = 0
    report = json.loads(output[output.index("{"):output.rindex("}") + 1])
    return report, usage.ru_utime + usage.ru_stime


def measure(name, urls, connections, seconds, servers, redis_pid, script=None, tokens_per_wrk=None):
    """One load run against `urls` (connections split between them); CPU per request of each process
    (`redis_pid`: one redis-server, or a list of them whose CPU is added up)."""
    redis_pids = redis_pid if isinstance(redis_pid, list) else [redis_pid]
    share = [max(1, connections // len(urls))] * len(urls)
    before = {pid: cpu_seconds(pid) for pid in servers + redis_pids}
    runs = [wrk(url, share[i], seconds, script, tokens_per_wrk[i] if tokens_per_wrk else None) for i, url in enumerate(urls)]
    results = [wrk_result(run) for run in runs]
    after = {pid: cpu_seconds(pid) for pid in servers + redis_pids}
    requests = sum(r["requests"] for r, _ in results)
    per_request = lambda seconds_used: seconds_used * 1e6 / max(1, requests)
    return {
        "name": name, "connections": sum(share), "gateways": len(urls), "requests": requests,
        "rate": sum(r["requests"] / r["duration_s"] for r, _ in results),
        "non_2xx": sum(r["non_2xx"] for r, _ in results), "errors": sum(r["errors"] for r, _ in results),
        "p50_ms": max(r["p50_us"] for r, _ in results) / 1000, "p99_ms": max(r["p99_us"] for r, _ in results) / 1000,
        "p999_ms": max(r["p999_us"] for r, _ in results) / 1000,
        "cpu_us": {"server": per_request(sum(after[p] - before[p] for p in servers)),
                   "redis": per_request(sum(after[p] - before[p] for p in redis_pids)),
                   "wrk": per_request(sum(cpu for _, cpu in results))},
    }


def redis_benchmark(port, redis_pid, arguments, requests=200000, socket_path=None):
    """redis-benchmark at 64 clients, at `port` or at the Unix socket `socket_path`: requests/s and
    Redis' CPU per request."""
    before = cpu_seconds(redis_pid)
    endpoint = ["-s", socket_path] if socket_path else ["-p", str(port)]
    output = subprocess.run(["redis-benchmark"] + endpoint + ["-c", "64", "-n", str(requests), "-r", "1000000", "-q"]
                            + arguments, capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(redis_pid) - before
    rate = float(re.findall(r"([\d.]+) requests per second", output.replace("\r", "\n"))[-1])
    return {"rate": rate, "redis_cpu_us": used * 1e6 / requests}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run (default 5)")
    parser.add_argument("--sizes", default="100,10000,1000000", help="pool sizes in VMs (default 100,10000,1000000)")
    parser.add_argument("--users", type=int, default=10000, help="users in the pool (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each 64-connection row, the pool sizes in turn (default 3)")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md as it is")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    ensure_tools()
    import redis

    binary = release_build("vmreserve", "bare-endpoint")
    work = tempfile.mkdtemp(prefix="vmreserve-suite-")
    processes = Processes(work)
    try:
        redis_server, redis_port = processes.start_redis()
        r = redis.Redis(port=redis_port)

        def start_gateways(count, pool, port_of_redis):
            gateways = []
            for index in range(count):
                port = free_port()
                process = processes.start(f"gateway-{pool}-{index}", [
                    binary, "serve", "--port", str(port), "--redis-url", f"redis://127.0.0.1:{port_of_redis}/0",
                    "--admin-token", ADMIN, "--max-vm-count", "1000000", "--pool", pool, "--log-level", "warning"])
                gateways.append((process, f"http://127.0.0.1:{port}"))
            for _, url in gateways:
                wait_for(url + "/readyz")
            return gateways

        machine = {
            "cores": os.cpu_count(),
            "cpu": re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1),
            "redis": r.info("server")["redis_version"],
            "swift": subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
        }
        results = {"machine": machine, "seconds": options.seconds, "references": {}, "cycles": [], "memory": [], "admin_reads": []}
        print(f"# {machine['cores']} cores, {machine['cpu']}, Redis {machine['redis']}", flush=True)

        # references
        bare_port = free_port()
        bare = processes.start("bare", [os.path.join(ROOT, ".build", "release", "bare-endpoint"), str(bare_port)])
        bare_url = f"http://127.0.0.1:{bare_port}/"  # kept running: the 64-connection rows measure it again
        wait_for(bare_url)
        results["references"]["bare"] = measure("bare", [bare_url], 64, options.seconds,
                                                [bare.pid], redis_server.pid)
        gateways = start_gateways(1, "reference", redis_port)
        results["references"]["healthz"] = measure("healthz", [gateways[0][1] + "/healthz"], 64, options.seconds,
                                                   [gateways[0][0].pid], redis_server.pid)
        results["references"]["redis_get"] = redis_benchmark(redis_port, redis_server.pid, ["GET", "key:__rand_int__"])
        library = subprocess.run([binary, "lua-library"], capture_output=True, text=True).stdout.split("\n", 1)[0]
        library = library.split("name=", 1)[1]
        keys = declared_keys("reference")
        for _ in range(200):
            http(gateways[0][1] + "/v1/admin/vms", "POST", {"count": 1000})
        results["references"]["redis_checkout"] = redis_benchmark(
            redis_port, redis_server.pid,
            ["FCALL", f"{library}_checkout", str(len(keys))] + keys + ["p:__rand_int__", "1000000", "", "", "604800", ""])
        processes.stop(gateways[0][0])
        for name, value in results["references"].items():
            print(name, json.dumps(value), flush=True)

        processes.stop(redis_server)

        # pools of each size, each on a Redis of its own with its 3 gateways, all set up first;
        # the runs then take the sizes in turn, so that the machine's drift over the run (it
        # changes its speed by 15-25% from minute to minute) falls on every size alike
        pools = []
        for size in sizes:
            server, port = processes.start_redis()
            own = redis.Redis(port=port)
            pool = f"size{size}"
            gateways = start_gateways(3, pool, port)
            admin_url = gateways[0][1]
            start_memory = own.info("memory")["used_memory"]
            for start in range(0, size, 1000):
                http(admin_url + "/v1/admin/vms", "POST", {"count": min(1000, size - start)})
            events = f"vmreserve:{{{pool}}}:events"
            history = own.memory_usage(events, samples=0) or 0
            own.xtrim(events, maxlen=0, approximate=False)
            vm_memory = own.info("memory")["used_memory"]
            tokens = []
            for index in range(options.users):
                quota = 256 if index < 16 else 5
                user = http(admin_url + "/v1/admin/users", "POST", {"name": f"user{index:06d}", "quota": quota})
                if index < 16:
                    tokens.append(user["data"]["token"])
            own.xtrim(events, maxlen=0, approximate=False)
            user_memory = own.info("memory")["used_memory"]
            results["memory"].append({
                "vms": size, "users": options.users, "per_vm": (vm_memory - start_memory) / size,
                "per_user": (user_memory - vm_memory) / max(1, options.users), "history_per_event": history / size})
            print("memory", json.dumps(results["memory"][-1]), flush=True)
            pools.append({"size": size, "redis": server, "port": port, "gateways": gateways, "admin_url": admin_url,
                          "tokens": tokens})
        def cycles(pool, count, connections, paired):
            """One run of checkout/checkin cycles; with `paired`, the references just before it: the
            bare endpoint, /healthz of the same gateway, and a GET of the same Redis."""
            gateways = pool["gateways"][:count]
            urls = [url + "/" for _, url in gateways]
            references = {}
            if paired:
                references["bare_rate"] = measure("bare", [bare_url], 64, options.seconds, [bare.pid], pool["redis"].pid)["rate"]
                references["healthz_cpu_us"] = measure("healthz", [urls[0] + "healthz"], 64, options.seconds,
                                                       [gateways[0][0].pid], pool["redis"].pid)["cpu_us"]["server"]
                references["redis_get_cpu_us"] = redis_benchmark(pool["port"], pool["redis"].pid,
                                                                 ["GET", "key:__rand_int__"])["redis_cpu_us"]
            # each wrk thread is one user with a quota above its connections
            per_wrk = [pool["tokens"][2 * i:2 * i + 2] for i in range(count)]
            run = measure("cycle", urls, connections, options.seconds, [p.pid for p, _ in gateways],
                          pool["redis"].pid, os.path.join(ROOT, "bench", "checkout_checkin.lua"), per_wrk)
            run.update(references, vms=pool["size"])
            if connections == 256:
                run["gateway_rss_mb"] = max(rss_mb(p.pid) for p, _ in gateways)
            print(json.dumps(run), flush=True)
            return_held(pool["admin_url"], pool["tokens"])
            return run

        for count in (1, 3):
            for connections in CONNECTIONS:
                # the targets' rows (64 connections) in several rounds, each pool size in turn;
                # the table shows each size's median run by rate, and every round's figures
                rounds = options.rounds if connections == 64 else 1
                runs = {pool["size"]: [] for pool in pools}
                for _ in range(rounds):
                    for pool in pools:
                        runs[pool["size"]].append(cycles(pool, count, connections, paired=count == 1 and connections == 64))
                for size, taken in runs.items():
                    median = sorted(taken, key=lambda run: run["rate"])[len(taken) // 2]
                    if rounds > 1:
                        median["rounds"] = [{key: run.get(key) for key in ("rate", "cpu_us", "p99_ms", "bare_rate",
                                                                           "healthz_cpu_us", "redis_get_cpu_us")}
                                            for run in taken]
                    results["cycles"].append(median)
        # admin reads, 16 connections: pool stats, the first page of 100 VMs, and a page from
        # the middle of the id space (a cursor, as a client following pages would send)
        for name, path in (("pool stats", "/v1/admin/pool"), ("first page of VMs", "/v1/admin/vms?limit=100"),
                           ("a middle page of VMs", "/v1/admin/vms?limit=100&cursor=80000000-0000-0000-0000-000000000000")):
            for pool in pools:
                run = measure(name, [pool["admin_url"] + path], 16, options.seconds, [pool["gateways"][0][0].pid],
                              pool["redis"].pid, os.path.join(ROOT, "bench", "admin_get.lua"), [[ADMIN]])
                run["vms"] = pool["size"]
                results["admin_reads"].append(run)
                print(json.dumps(run), flush=True)
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    for kind in ("cycles", "admin_reads"):  # by pool size, each size's runs in the order taken
        results[kind].sort(key=lambda run: run["vms"])
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "suite.json"), "w") as f:
        json.dump(results, f, indent=1)
    plot(results)
    table = markdown(results)
    print(table)
    if not options.no_write:
        path = os.path.join(ROOT, "BENCHMARKS.md")
        text = open(path).read()
        begin, end = "<!-- suite:begin -->", "<!-- suite:end -->"
        text = text[:text.index(begin) + len(begin)] + "\n" + table + "\n" + text[text.index(end):]
        open(path, "w").write(text)


def markdown(results):
    ref, m = results["references"], results["machine"]
    out = [f"Machine: {m['cores']} cores, {m['cpu']}, Redis {m['redis']}, {m['swift']}; "
           f"{results['seconds']} s per run; `python3 bench/suite.py`.", ""]
    bare, healthz = ref["bare"], ref["healthz"]
    out += ["| reference | requests/s | p50 ms | p99 ms | CPU µs/request: server | redis | wrk |", "|---|---|---|---|---|---|---|"]
    for name in ("bare", "healthz"):
        run = ref[name]
        out.append(f"| {'bare Hummingbird endpoint' if name == 'bare' else 'gateway /healthz'}, 64 conn | {run['rate']:,.0f} | "
                   f"{run['p50_ms']:.2f} | {run['p99_ms']:.2f} | {run['cpu_us']['server']:.1f} | {run['cpu_us']['redis']:.1f} | "
                   f"{run['cpu_us']['wrk']:.1f} |")
    for name, label in (("redis_get", "redis-benchmark GET"), ("redis_checkout", "redis-benchmark FCALL checkout")):
        out.append(f"| {label}, 64 clients | {ref[name]['rate']:,.0f} | | | | {ref[name]['redis_cpu_us']:.1f} | |")
    out += ["", "| VMs | gateways | connections | requests/s | vs bare | non-2xx | p50 ms | p99 ms | p99.9 ms | "
            "CPU µs/request: gateways | redis | wrk | gateway vs /healthz |", "|" + "---|" * 13]
    for run in results["cycles"]:
        cpu = run["cpu_us"]
        out.append(f"| {run['vms']:,} | {run['gateways']} | {run['connections']} | {run['rate']:,.0f} | "
                   f"{run['rate'] / bare['rate']:.2f} | {run['non_2xx'] / max(1, run['requests']):.0%} | {run['p50_ms']:.2f} | "
                   f"{run['p99_ms']:.2f} | {run['p999_ms']:.2f} | {cpu['server']:.1f} | {cpu['redis']:.1f} | {cpu['wrk']:.1f} | "
                   f"{cpu['server'] / healthz['cpu_us']['server']:.2f} |")
    paired = [run for run in results["cycles"] if "healthz_cpu_us" in run]
    if paired:
        out += ["", "1 gateway, 64 connections, against references measured just before each run: the bare endpoint, "
                "/healthz of the same gateway (64 connections) and a GET of the same Redis (redis-benchmark, 64 clients), "
                "so that the machine's drift between the references above and a row does not enter the ratios. The "
                "64-connection rows above are each the median of the rounds (by requests/s); every round's figures:", "",
                "| VMs | round | requests/s | vs bare | p99 ms | gateway CPU µs/request: /healthz | checkout/checkin | ratio | "
                "Redis CPU µs/request: GET | checkout/checkin | ratio |", "|" + "---|" * 11]
        for median in paired:
            for index, run in enumerate(median.get("rounds", [median])):
                gateway, redis_cpu = run["cpu_us"]["server"], run["cpu_us"]["redis"]
                out.append(f"| {median['vms']:,} | {index + 1} | {run['rate']:,.0f} | {run['rate'] / run['bare_rate']:.2f} | "
                           f"{run['p99_ms']:.2f} | {run['healthz_cpu_us']:.1f} | {gateway:.1f} | "
                           f"{gateway / run['healthz_cpu_us']:.2f} | {run['redis_get_cpu_us']:.1f} | {redis_cpu:.1f} | "
                           f"{redis_cpu / run['redis_get_cpu_us']:.2f} |")
        out.append("")
        for gateways in (1, 3):
            rates = {run["vms"]: run["rate"] for run in results["cycles"]
                     if run["gateways"] == gateways and 48 <= run["connections"] <= 64}
            if len(rates) > 1:
                smallest, largest = min(rates), max(rates)
                out.append(f"{largest:,} VMs against {smallest:,}, {gateways} gateway{'s' if gateways > 1 else ''}, "
                           f"64 connections (medians): {rates[largest] / rates[smallest] - 1:+.1%}.")
    out += ["", "| VMs | users | Redis bytes per VM | per user | history bytes per event |", "|---|---|---|---|---|"]
    for mem in results["memory"]:
        out.append(f"| {mem['vms']:,} | {mem['users']:,} | {mem['per_vm']:.0f} | {mem['per_user']:.0f} | {mem['history_per_event']:.0f} |")
    rss = [run["gateway_rss_mb"] for run in results["cycles"] if "gateway_rss_mb" in run]
    if rss:
        span = f"{min(rss):.0f}" if round(min(rss)) == round(max(rss)) else f"{min(rss):.0f}–{max(rss):.0f}"
        out += ["", f"Gateway RSS after the 256-connection runs: {span} MB."]
    out += ["", "| VMs | admin read, 16 connections | requests/s | non-2xx | p50 ms | p99 ms | CPU µs/request: gateway | redis |",
            "|---|---|---|---|---|---|---|---|"]
    for run in results.get("admin_reads", []):
        out.append(f"| {run['vms']:,} | {run['name']} | {run['rate']:,.0f} | {run['non_2xx'] / max(1, run['requests']):.0%} | "
                   f"{run['p50_ms']:.2f} | {run['p99_ms']:.2f} | {run['cpu_us']['server']:.1f} | {run['cpu_us']['redis']:.1f} |")
    out += ["", "Plots: `bench/results/throughput.png`, `bench/results/latency.png`, `bench/results/pool_size.png`."]
    return "\n".join(out)


def plot(results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = sorted({run["vms"] for run in results["cycles"]})
    for kind, ylabel, fields in (("throughput", "checkout/checkin requests/s", ["rate"]),
                                 ("latency", "latency (ms)", ["p50_ms", "p99_ms"])):
        figure, axes = plt.subplots(figsize=(7, 4.5))
        for size in sizes:
            for gateways in (1, 3):
                runs = [r for r in results["cycles"] if r["vms"] == size and r["gateways"] == gateways]
                for field in fields:
                    axes.plot([r["connections"] for r in runs], [r[field] for r in runs], marker="o",
                              label=f"{size:,} VMs, {gateways} gateway{'s' if gateways > 1 else ''}" +
                              ("" if len(fields) == 1 else f" {field[:-3]}"))
        axes.set_xscale("log", base=2)
        axes.set_xlabel("connections")
        axes.set_ylabel(ylabel)
        if kind == "latency":
            axes.set_yscale("log")
        axes.legend(fontsize=7)
        axes.grid(True, alpha=0.3)
        figure.tight_layout()
        figure.savefig(os.path.join(RESULTS, kind + ".png"), dpi=110)
        plt.close(figure)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for gateways in (1, 3):
        runs = [r for r in results["cycles"] if r["gateways"] == gateways and r["connections"] >= 64 and r["connections"] < 128]
        axes.plot([r["vms"] for r in runs], [r["rate"] for r in runs], marker="o", label=f"{gateways} gateway(s), 64 connections")
    axes.set_xscale("log")
    axes.set_xlabel("VMs in the pool")
    axes.set_ylabel("checkout/checkin requests/s")
    axes.set_ylim(bottom=0)
    axes.legend()
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(os.path.join(RESULTS, "pool_size.png"), dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
