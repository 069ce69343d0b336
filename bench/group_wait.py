#!/usr/bin/env python3
"""How long a waiting group of 5 takes to be served while single checkouts churn behind it.

    python3 bench/group_wait.py [--vms 20] [--churners 24] [--hold-ms 500] [--groups 40]

One release build, one redis-server (no persistence) and three gateways on it serving one pool
of --vms VMs (--max-wait 3600). --churners users (quota 1) each loop, on the gateways in turn:
a waiting checkout (`POST /v1/checkouts?wait=600`), a hold of a random time (exponential, mean
--hold-ms), a checkin; more churners than VMs, so that the queue is never empty. Meanwhile one
more user asks --groups times, one after another, for a group of 5 with
`POST /v1/reservations?wait=600`, holds it as long as a churner would and returns it. Prints
how long each group waited (to its 201) and how long the single checkouts waited, those that
arrived while a group waited and the others, against what strict order predicts: the waiters
ahead of the group served first, then 5 VMs freed. Then, for comparison, the same group asked
for without a wait, again every 50 ms until it gets one (what a client without group waiting
would do), for at most 60 s each, --groups / 8 times.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import ADMIN, Processes, free_port, http, release_build, wait_for  # noqa: E402


def call(url, method, body, token):
    """(status, data) of one request; errors answered in the envelope are returned, not raised."""
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, json.load(response)["data"]
    except urllib.error.HTTPError as error:
        return error.code, None


def percentiles(values):
    if not values:
        return "none"
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return (f"n={len(ordered)}, median {statistics.median(ordered) * 1000:.0f} ms, p90 {pick(0.9) * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=20)
    parser.add_argument("--churners", type=int, default=24)
    parser.add_argument("--hold-ms", type=int, default=500)
    parser.add_argument("--groups", type=int, default=40)
    options = parser.parse_args()
    binary = release_build("vmreserve")
    work = tempfile.mkdtemp(prefix="vmreserve-group-wait-")
    processes = Processes(work)
    try:
        _, redis_port = processes.start_redis()
        urls = []
        for index in range(3):
            port = free_port()
            processes.start(f"gateway{index}", [binary, "serve", "--port", str(port), "--redis-url", f"redis://127.0.0.1:{redis_port}/0",
                                                "--admin-token", ADMIN, "--max-vm-count", str(options.vms), "--max-wait", "3600",
                                                "--pool", "group-wait", "--log-level", "warning"])
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for(url + "/readyz")
        http(urls[0] + "/v1/admin/vms", "POST", {"count": options.vms})
        tokens = [http(urls[0] + "/v1/admin/users", "POST", {"name": f"churner{i}", "quota": 1})["data"]["token"]
                  for i in range(options.churners)]
        group_token = http(urls[0] + "/v1/admin/users", "POST", {"name": "group", "quota": 5})["data"]["token"]
        hold = lambda: random.expovariate(1000 / options.hold_ms)
        stop = threading.Event()
        group_waiting = threading.Event()
        single_waits = {"during": [], "outside": []}
        lock = threading.Lock()

        def churn(index, token):
            try:
                churn_until_stopped(index, token)
            except OSError:
                if not stop.is_set():  # (the gateways stop under requests in flight at the end)
                    raise

        def churn_until_stopped(index, token):
            turn = index
            while not stop.is_set():
                url = urls[turn % 3]
                turn += 1
                during = group_waiting.is_set()
                asked = time.monotonic()
                status, vm = call(url + "/v1/checkouts?wait=600", "POST", {}, token)
                waited = time.monotonic() - asked
                if status != 201:
                    continue
                with lock:
                    single_waits["during" if during or group_waiting.is_set() else "outside"].append(waited)
                time.sleep(hold())
                call(url + "/v1/checkins", "POST", {"vm_id": vm["vm_id"]}, token)

        threads = [threading.Thread(target=churn, args=(i, t), daemon=True) for i, t in enumerate(tokens)]
        for thread in threads:
            thread.start()
        time.sleep(3)  # the churn settles: every VM out, waiters queued
        group_waits = []
        for round_number in range(options.groups):
            url = urls[round_number % 3]
            group_waiting.set()
            asked = time.monotonic()
            status, reservation = call(url + "/v1/reservations?wait=600", "POST", {"count": 5}, group_token)
            group_waits.append(time.monotonic() - asked)
            group_waiting.clear()
            if status != 201:
                raise SystemExit(f"a waiting group was answered {status}")
            time.sleep(hold())
            call(url + f"/v1/reservations/{reservation['id']}", "DELETE", None, group_token)
            time.sleep(0.2)
        retries = []
        for round_number in range(max(1, options.groups // 8)):
            url, asked, got = urls[round_number % 3], time.monotonic(), None
            while time.monotonic() - asked < 60:
                status, reservation = call(url + "/v1/reservations", "POST", {"count": 5}, group_token)
                if status == 201:
                    got = time.monotonic() - asked
                    call(url + f"/v1/reservations/{reservation['id']}", "DELETE", None, group_token)
                    break
                time.sleep(0.05)
            retries.append(got)
        stop.set()
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    served = [w for w in retries if w is not None]
    print(f"{options.vms} VMs, {options.churners} single checkouts churning (hold: mean {options.hold_ms} ms), 3 gateways")
    print(f"| what | waited |")
    print("|---|---|")
    print(f"| a group of 5 with ?wait= ({options.groups} times) | {percentiles(group_waits)} |")
    print(f"| single checkouts that arrived while a group waited | {percentiles(single_waits['during'])} |")
    print(f"| single checkouts at other times | {percentiles(single_waits['outside'])} |")
    print(f"| a group of 5 without a wait, asked again every 50 ms ({len(retries)} times, at most 60 s) | "
          f"{percentiles(served)}; {len(retries) - len(served)} never got one in 60 s |")
    expected = (options.churners - options.vms + 5) * options.hold_ms / options.vms
    print(f"\nStrict order predicts about {expected:.0f} ms for the group: the {options.churners - options.vms} single "
          f"waiters ahead of it served, then 5 VMs freed, {options.vms} VMs held a mean {options.hold_ms} ms each.")


if __name__ == "__main__":
    main()
