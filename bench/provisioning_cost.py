#!/usr/bin/env python3
"""Redis time the provisioning machinery costs, by Redis' own accounting (INFO commandstats,
usec_per_call), on a redis-server of its own (port 6398):
  1. take_job.lua with no job due: what every gateway's worker costs when idle (once a second);
  2. checkin.lua, the same 20,000 checkins with the lua/ of this tree and, for comparison, of the
     commit given as the first argument (default 4e33638, the last one before providers), to
     show what the pool's on_return costs every return;
  3. a full job cycle (take_job, finish_job) for 10,000 VMs.
Usage: python3 bench/provisioning_cost.py [COMMIT] (needs `pip install redis`)."""
import os, subprocess, sys, tempfile, time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEFORE = sys.argv[1] if len(sys.argv) > 1 else "4e33638"
PORT = 6398
N = 20000


def sources(commit):
    """name -> prelude + script text, from the working tree (commit None) or a commit."""
    def read(name):
        if commit is None:
            with open(os.path.join(ROOT, "lua", name + ".lua")) as f:
                return f.read()
        return subprocess.run(["git", "-C", ROOT, "show", f"{commit}:lua/{name}.lua"], capture_output=True, text=True,
                              check=True).stdout
    return lambda name: read("_prelude") + "\n" + read(name)


def keys(prefix, commit):
    text = sources(commit)("_prelude")
    names = "tokens user: users held: vm: vms status: ips pool leases events waiters waiting handoff: ipbits idle jobs".split()
    count = 17 if "KEYS[17]" in text else 16
    return [f"{prefix}:{k}" for k in names[:count]]


def usec(r, script_sha):
    stats = r.info("commandstats").get("cmdstat_evalsha", {})
    return stats.get("usec_per_call", 0.0), stats.get("calls", 0)


def checkin_cost(r, commit, label):
    source = sources(commit)
    prefix = "vmreserve:{" + label + "}"
    k = keys(prefix, commit)
    sha = {n: r.script_load(source(n)) for n in ["init_pool", "create_vms", "checkout", "checkin"]}
    r.evalsha(sha["init_pool"], len(k), *k, 1000000, "", "small=1:2048,medium=2:4096,large=4:8192")
    # (since Idempotency-Key, create_vms.lua takes three more arguments before its candidates)
    extra = ["", "", ""] if "'more'" in source("create_vms") else []
    for start in range(0, N, 1000):
        args = ["p:admin", 1000, ""] + extra
        for i in range(start, start + 1004):
            args += [f"vm-{i}", f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"]
        r.evalsha(sha["create_vms"], len(k), *k, *args)
    p = r.pipeline(transaction=False)
    for i in range(N):
        p.evalsha(sha["checkout"], len(k), *k, f"p:u{i}", 1000000, "", "", "604800", "")
    ids = [dict(zip(v[::2], v[1::2]))[b"vm_id"].decode() for v in p.execute()]
    r.config_resetstat()
    p = r.pipeline(transaction=False)
    for i, vm in enumerate(ids):
        p.evalsha(sha["checkin"], len(k), *k, f"p:u{i}", vm, "")
    p.execute()
    return usec(r, sha["checkin"])[0]


def main():
    data = tempfile.mkdtemp()
    subprocess.run(["redis-server", "--port", str(PORT), "--daemonize", "yes", "--save", "", "--dir", data],
                   stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.3)
    r = redis.Redis(port=PORT)
    try:
        source = sources(None)
        k = keys("vmreserve:{jobs}", None)
        sha = {n: r.script_load(source(n)) for n in ["init_pool", "create_vms", "take_job", "finish_job"]}
        r.evalsha(sha["init_pool"], len(k), *k, 1000000, "", "small=1:2048", "jobs", "reuse")
        r.config_resetstat()
        for _ in range(10000):
            r.evalsha(sha["take_job"], len(k), *k, 30000, "worker")
        print(f"take_job.lua, nothing due (an idle worker, once a second): {usec(r, None)[0]:.2f} us per call")

        for start in range(0, 10000, 1000):
            args = ["p:admin", 1000, "", "", "", ""]
            for i in range(start, start + 1000):
                args += [f"vm-{i}", ""]
            r.evalsha(sha["create_vms"], len(k), *k, *args)
        r.config_resetstat()
        claims = []
        for _ in range(10000):
            reply = r.evalsha(sha["take_job"], len(k), *k, 30000, "worker")
            claims.append((reply[1].decode(), reply[3].decode()))
        take = usec(r, None)[0]
        r.config_resetstat()
        p = r.pipeline(transaction=False)
        for n, (vm, claim) in enumerate(claims):
            p.evalsha(sha["finish_job"], len(k), *k, vm, claim, "done", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", f"m-{n}", "")
        p.execute()
        print(f"a provision's two calls at 10,000 VMs: take_job.lua {take:.2f} us + finish_job.lua {usec(r, None)[0]:.2f} us")

        now, before = checkin_cost(r, None, "now"), checkin_cost(r, BEFORE, "before")
        print(f"checkin.lua: {now:.2f} us per call now, {before:.2f} us at {BEFORE}")
    finally:
        subprocess.run(["redis-cli", "-p", str(PORT), "shutdown", "nosave"], stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
