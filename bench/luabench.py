"""Shared by the Python benchmarks of bench/: a redis-server of their own on a free loopback port,
vmreserve's function library loaded into it, and a pool whose scripts they call with FCALL.

The library comes from `vmreserve lua-library --from lua` (the binary given by $VMRESERVE_BIN,
else the newer of .build/release/vmreserve and .build/debug/vmreserve), so it is built from this tree's lua/
exactly as the gateway builds it, and lua/ edits need no rebuild to be measured. A folder of the
bucketed layout's scripts (with `_prelude.lua`, up to commit c78e0e9) is built as that version
built it, so that script_ab.py can measure the layouts against each other."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DECLARED = ["pool", "vm:"]  # every script's KEYS (Sources/Reservations/PoolKeys.swift)
BUCKETED_DECLARED = ["pool", "records:"]  # those of the bucketed layout


def declared_keys(pool, declared=DECLARED):
    """The KEYS of every script for pool `pool`."""
    return [f"vmreserve:{{{pool}}}:{k}" for k in declared]


def is_bucketed(lua_folder):
    return lua_folder is not None and os.path.exists(os.path.join(lua_folder, "_prelude.lua"))


def vmreserve_binary():
    if os.environ.get("VMRESERVE_BIN"):
        return os.environ["VMRESERVE_BIN"]
    built = [os.path.join(ROOT, ".build", mode, "vmreserve") for mode in ("release", "debug")]
    built = [path for path in built if os.path.exists(path)]
    if not built:
        raise SystemExit("build vmreserve first: swift build -c release --product vmreserve")
    return max(built, key=os.path.getmtime)  # the newer build


def helper_library(lua_folder):
    """The helpers of `lua_folder`/lib as Sources/Reservations/Scripts.swift puts them first in the
    library: one table per file, declared at once, then each file as a block of its own."""
    lib = os.path.join(lua_folder, "lib")
    names = sorted(name[:-4] for name in os.listdir(lib) if name.endswith(".lua"))
    code = f"local {', '.join(names)} = {', '.join('{}' for _ in names)}\n"
    for name in names:
        with open(os.path.join(lib, name + ".lua")) as f:
            code += f"do\n{f.read()}\nend\n"
    return code


def library_source(lua_folder=None):
    if is_bucketed(lua_folder):  # that version's Scripts.swift: the prelude, then each script after enter()
        with open(os.path.join(lua_folder, "_prelude.lua")) as f:
            code = f.read()
        scripts = sorted(name[:-4] for name in os.listdir(lua_folder) if name.endswith(".lua") and name != "_prelude.lua")
        for name in scripts:
            with open(os.path.join(lua_folder, name + ".lua")) as f:
                code += f"\nredis.register_function('bucketed_{name}', function(keys, args)\nenter(keys, args)\n{f.read()}\nend)\n"
        return "#!lua name=bucketed\n" + code
    return subprocess.run([vmreserve_binary(), "lua-library", "--from", lua_folder or os.path.join(ROOT, "lua")],
                          capture_output=True, text=True, check=True).stdout


class RedisServer:
    """A redis-server without persistence on a free loopback port; `with RedisServer() as r:`."""

    def __init__(self, *arguments):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = tempfile.mkdtemp(prefix="vmreserve-bench-")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.data, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        for _ in range(400):
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)

    def __enter__(self):
        return self.client

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.data, ignore_errors=True)


class Pool:
    """One pool of the library loaded into `r`: call(script, *argv) runs lua/<script>.lua."""

    def __init__(self, r, name="bench", lua_folder=None):
        source = library_source(lua_folder)
        self.library = source.split("\n", 1)[0].split("name=", 1)[1]
        try:
            r.function_load(source)
        except redis.ResponseError as error:
            if "already exists" not in str(error):
                raise
        self.r = r
        self.bucketed = is_bucketed(lua_folder)
        self.keys = declared_keys(name, BUCKETED_DECLARED if self.bucketed else DECLARED)
        self.prefix = f"vmreserve:{{{name}}}"

    def key(self, name):
        """A key of the pool by its name in lua/README.md: "events", "leases"…"""
        return f"{self.prefix}:{name}"

    def ip_of(self, vm):
        """The address of a VM as the scripts answer it: [id, field, value, ...], or, in the
        bucketed layout, [id, record] with the address the record's second field."""
        if self.bucketed:
            return vm[1].decode().split("|")[1]
        return vm[vm.index(b"ip") + 1].decode()

    def call(self, script, *argv, on=None):
        """FCALL of `script` on `on` (a pipeline) or the pool's connection."""
        return (on or self.r).fcall(f"{self.library}_{script}", len(self.keys), *self.keys, *argv)

    def create_random_vms(self, count, admin="p:bench"):
        """`count` VMs with UUID ids and random addresses 11.x.y.z, as the gateway would make them
        (a few spare candidates per call for the addresses drawn twice)."""
        for start in range(0, count, 1000):
            n = min(1000, count - start)
            args = [admin, n, "", "", "", ""]  # size, Idempotency-Key, window, "more"
            for _ in range(n + 20):
                args += [str(uuid.uuid4()), f"11.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}"]
            self.call("create_vms", *args)

    def create_vms(self, count, admin="p:bench", batch=1000, with_ips=True):
        """`count` VMs named vm-0000000..., with addresses 11.x.y.z (or none)."""
        for start in range(0, count, batch):
            n = min(batch, count - start)
            args = [admin, n, "", "", "", ""]  # size, Idempotency-Key, window, "more"
            for i in range(start, start + n + 4):
                args += [f"vm-{i:07d}", f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if with_ips else ""]
            self.call("create_vms", *args)


def fcall_usec(r):
    """(usec_per_call, calls) of FCALL since the last CONFIG RESETSTAT."""
    stats = r.info("commandstats").get("cmdstat_fcall", {})
    return stats.get("usec_per_call", 0.0), stats.get("calls", 0)
