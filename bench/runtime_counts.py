#!/usr/bin/env python3
"""How many times the gateway calls the Swift runtime's costly entry points per request: exact
counts, not samples, so that two builds can be compared on a machine whose speed drifts by 15-25%
(the CPU columns of the other benchmarks cannot show a 3% change through that). One release
gateway on a redis-server of its own (1,000 VMs, 2 users); wrk at 16 connections against /healthz,
then checkout/checkin cycles (bench/checkout_checkin.lua); `perf stat` counts uprobes on (less
what the gateway does idle for as long, counted first):

  malloc                     every heap allocation (libc)
  swift_allocObject          class instances, closure contexts, array and string storage
  swift_retain               reference-count increments (each atomic; releases are as many). Its
                             variants (swift_retain_n, bridged objects') are not counted: a floor
  swift_task_switch          a task moving to another executor, or checking that it need not
  swift_task_enqueueGlobal   a task woken to run on the global executor (after a Redis reply)

Usage: python3 bench/runtime_counts.py [SECONDS]   (VMRESERVE_BIN=<a vmreserve binary> measures
another build, e.g. an earlier commit's; as root: it adds the uprobes with
`perf probe` and leaves them, a no-op when they exist; uprobes slow the gateway, not its counts)"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import ROOT, Processes, release_build, wrk, wrk_result  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SWIFT_LIB = "/opt/swift/usr/lib/swift/linux"
PROBES = [  # (library, function, event group)
    ("/lib/x86_64-linux-gnu/libc.so.6", "malloc", "probe_libc"),
    (f"{SWIFT_LIB}/libswiftCore.so", "swift_allocObject", "probe_libswiftCore"),
    (f"{SWIFT_LIB}/libswiftCore.so", "swift_retain", "probe_libswiftCore"),
    (f"{SWIFT_LIB}/libswift_Concurrency.so", "swift_task_switch", "probe_libswift_Concurrency"),
    (f"{SWIFT_LIB}/libswift_Concurrency.so", "swift_task_enqueueGlobal", "probe_libswift_Concurrency"),
]

for library, function, _ in PROBES:
    subprocess.run(["perf", "probe", "-q", "-x", library, function], capture_output=True)  # exists already: fine
events = [f"{group}:{function}" for _, function, group in PROBES]

binary = os.environ.get("VMRESERVE_BIN") or release_build("vmreserve")
work = tempfile.mkdtemp(prefix="vmreserve-runtime-counts-")
processes = Processes(work)
try:
    redis, redis_port, gateway, url, tokens = processes.start_probed_gateway(binary)

    def count(load):
        """Each event's count in the gateway while `load()` runs (after a second to attach), and
        the seconds counted."""
        output = os.path.join(work, "stat.csv")
        stat = subprocess.Popen(["perf", "stat", "-x,", "-o", output, "-p", str(gateway.pid)] + [a for e in events for a in ("-e", e)])
        started = time.monotonic()
        time.sleep(1)  # attached before the first request
        load()
        stat.send_signal(2)  # SIGINT: perf stat writes its counts and ends
        stat.wait()
        counted = {}
        with open(output) as f:
            for line in f:
                fields = line.strip().split(",")
                if len(fields) > 2 and fields[2] in events and fields[0].isdigit():  # not "<not counted>"
                    counted[fields[2].split(":")[1]] = int(fields[0])
        return counted, time.monotonic() - started

    # what the gateway does idle (its lease reaper, provisioning worker, timers), per second, is
    # taken off each run's counts, so that they are the requests' own
    idle, idle_seconds = count(lambda: time.sleep(SECONDS))
    rows = []
    for name, target, script, users in [("GET /healthz", url + "/healthz", None, None),
                                        ("checkout/checkin cycles", url + "/", os.path.join(ROOT, "bench", "checkout_checkin.lua"), tokens)]:
        results = []
        counted, seconds = count(lambda: results.append(wrk_result(wrk(target, 16, SECONDS, script, users))[0]))
        requests = max(1, results[0]["requests"])
        rows.append((name, requests, {event: (n - idle.get(event, 0) * seconds / idle_seconds) / requests
                                      for event, n in counted.items()}))
    functions = [function for _, function, _ in PROBES]
    print("| per request, 16 connections | requests | " + " | ".join(functions) + " |")
    print("|---|---|" + "---|" * len(functions))
    for name, requests, counts in rows:
        print(f"| {name} | {requests:,} | " + " | ".join(f"{counts.get(f, 0):.1f}" for f in functions) + " |")
finally:
    processes.stop_all()
