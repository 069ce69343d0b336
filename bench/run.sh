#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md. Builds vmreserve and bare-endpoint in release mode, starts a
# redis-server and one gateway on free loopback ports, then measures with wrk (64 connections,
# 2 threads), each run's CPU per request for every process (from /proc and the shell's `time`):
#   1. the issue's reference: a bare Hummingbird JSON endpoint (bench/BareEndpoint), no middleware;
#   2. GET /healthz of the gateway: same server and middleware as every route, no Redis;
#   3. authenticated checkout/checkin cycles (bench/checkout_checkin.lua): one script call each;
# and with redis-benchmark (64 clients) the FCALL rate of the same checkout and checkin scripts.
# Usage: bash bench/run.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
bash scripts/install-deps.sh
if ! command -v wrk >/dev/null; then
  echo "Installing wrk with apt-get" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
fi

swift build -c release --product vmreserve >/dev/null
swift build -c release --product bare-endpoint >/dev/null
BIN=.build/release/vmreserve
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
HTTP_PORT=$(free_port)
BARE_PORT=$(free_port)
ADMIN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cleanup() {
  kill "$GATEWAY_PID" "$BARE_PID" 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir "$WORK" \
  --logfile "$WORK/redis.log" --pidfile "$WORK/redis.pid"
"$BIN" serve --port "$HTTP_PORT" --redis-url "redis://127.0.0.1:$REDIS_PORT/0" --admin-token "$ADMIN" \
  --max-vm-count 1000000 --log-level "${LOG_LEVEL:-info}" > "$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
.build/release/bare-endpoint "$BARE_PORT" > "$WORK/bare.log" 2>&1 &
BARE_PID=$!
B="http://127.0.0.1:$HTTP_PORT"
for _ in $(seq 100); do curl -fs "$B/readyz" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$BARE_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
REDIS_PID=$(cat "$WORK/redis.pid")
auth=(-H "Authorization: Bearer $ADMIN")
curl -fs "${auth[@]}" -X POST "$B/v1/admin/vms" -d '{"count": 256}' >/dev/null
TOKENS=""
for i in 1 2; do
  token=$(curl -fs "${auth[@]}" -X POST "$B/v1/admin/users" -d "{\"name\": \"bench$i\", \"quota\": 128}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')
  TOKENS="$TOKENS$token,"
done
export TOKENS

# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# measure NAME SERVER_PID WRK_ARGS...: one wrk run; prints its rate, latency and the CPU time per
# request of the server, redis-server and wrk; appends "NAME rate server redis wrk" to $WORK/runs.
measure() {
  local name=$1 server=$2; shift 2
  local s0 r0 s1 r1 wrk_cpu
  s0=$(cpu_seconds "$server"); r0=$(cpu_seconds "$REDIS_PID")
  wrk_cpu=$( { TIMEFORMAT='%U %S'; time wrk -t2 -c64 -d"${DURATION}s" --latency "$@" > "$WORK/wrk.out"; } 2>&1 )
  s1=$(cpu_seconds "$server"); r1=$(cpu_seconds "$REDIS_PID")
  grep -E "Requests/sec|^ +(50|99)%|requests in|Non-2xx" "$WORK/wrk.out"
  python3 - "$name" "$WORK/wrk.out" "$s0" "$s1" "$r0" "$r1" $wrk_cpu >> "$WORK/runs" <<'PY'
import re, sys
name, out, s0, s1, r0, r1, wu, ws = sys.argv[1:]
text = open(out).read()
n = int(re.search(r"(\d+) requests in", text).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
us = lambda seconds: seconds * 1e6 / n
print(name, rate, us(float(s1) - float(s0)), us(float(r1) - float(r0)), us(float(wu) + float(ws)))
PY
  tail -1 "$WORK/runs" | awk '{printf "CPU per request: server %.1f us, redis-server %.1f us, wrk %.1f us (total %.1f us)\n", $3, $4, $5, $3 + $4 + $5}'
}

echo "## machine"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(redis-server --version | cut -d' ' -f3), $(swift --version 2>&1 | head -1)"
echo
echo "## 1. the reference: a bare Hummingbird JSON endpoint, GET / of bench/BareEndpoint (wrk -t2 -c64 -d${DURATION}s)"
measure bare "$BARE_PID" "http://127.0.0.1:$BARE_PORT/"
echo
echo "## 2. the gateway's GET /healthz: all middleware, no Redis (wrk -t2 -c64 -d${DURATION}s)"
measure healthz "$GATEWAY_PID" "$B/healthz"
echo
echo "## 3. authenticated checkout/checkin cycles (wrk -t2 -c64 -d${DURATION}s)"
measure cycle "$GATEWAY_PID" -s bench/checkout_checkin.lua "$B"
curl -fs "${auth[@]}" "$B/v1/admin/pool"; echo
echo
echo "## ratios"
python3 - "$WORK/runs" <<'PY'
import sys
runs = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in open(sys.argv[1])}
bare, healthz, cycle = runs["bare"], runs["healthz"], runs["cycle"]
print("checkout/checkin vs the bare Hummingbird endpoint: %.2f" % (cycle[0] / bare[0]))
print("checkout/checkin vs the gateway's /healthz:        %.2f" % (cycle[0] / healthz[0]))
# With all processes sharing the cores, a rate is the inverse of the CPU time a request costs
# all of them together. If the gateway's Redis path (decode, the round trip, encode) cost no more
# than /healthz, a cycle request would still cost redis-server and wrk what they cost here:
ceiling = sum(healthz[1:]) / (healthz[1] + cycle[2] + cycle[3])
print("ceiling vs /healthz if the gateway's Redis path cost nothing: %.2f" % ceiling)
PY
echo
echo "## 4. the same scripts through redis-benchmark FCALL (-c 64, no HTTP)"
# the pool's keys, in the order of Sources/Reservations/PoolKeys.swift
KEYS=""
for key in tokens user: users held: records: buckets free: ips: pool leases events waiters waiting handoff: ipbits jobs; do
  KEYS="$KEYS vmreserve:{default}:$key"
done
KEY_COUNT=$(wc -w <<< "$KEYS")
# the functions of the library the gateway loaded
LIBRARY=$("$BIN" lua-library | head -1 | sed 's/.*name=//')
CHECKOUT=${LIBRARY}_checkout
CHECKIN=${LIBRARY}_checkin
N=100000
# Enough VMs that every checkout succeeds; each caller is a trusted principal p:<random> with a
# quota that is never reached, so every call takes the full success path.
for _ in $(seq $((N / 1000))); do curl -fs "${auth[@]}" -X POST "$B/v1/admin/vms" -d '{"count": 1000}' >/dev/null; done
echo "checkout.lua:"
# shellcheck disable=SC2086
# arguments: identity, default quota, no lease asked, no default lease, the maximum lease, any size
redis-benchmark -p "$REDIS_PORT" -c 64 -n "$N" -r 1000000 -q FCALL "$CHECKOUT" "$KEY_COUNT" $KEYS "p:__rand_int__" 1000000 "" "" 604800 "" \
  | tr '\r' '\n' | tail -1
# Check every held VM in again, by id, as the admin (the full success path of checkin.lua),
# streamed through one connection with redis-cli --pipe.
# shellcheck disable=SC2016
redis-cli -p "$REDIS_PORT" EVAL 'local out = {}
  for _, b in ipairs(redis.call("ZRANGE", KEYS[1] .. ":buckets", 0, -1)) do
    local f = redis.call("HGETALL", KEYS[1] .. ":records:" .. b)
    for i = 1, #f, 2 do if f[i + 1]:sub(1, 12) == "checked-out|" then out[#out + 1] = f[i] end end
  end
  return out' 1 "vmreserve:{default}" > "$WORK/held.txt"
python3 - "$CHECKIN" "$KEYS" "$WORK/held.txt" > "$WORK/checkins.resp" <<'PY'
import sys
function, keys, held = sys.argv[1], sys.argv[2].split(), open(sys.argv[3]).read().split()
out = sys.stdout
for vm in held:
    args = ["FCALL", function, str(len(keys)), *keys, "p:admin", vm, ""]
    out.write("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args))
PY
COUNT=$(wc -l < "$WORK/held.txt")
start=$(date +%s.%N)
redis-cli -p "$REDIS_PORT" --pipe < "$WORK/checkins.resp" > "$WORK/checkins.out"
end=$(date +%s.%N)
echo "checkin.lua: $COUNT calls, $(python3 -c "print(int($COUNT / ($end - $start)))") requests per second (one pipelined connection); $(tail -1 "$WORK/checkins.out")"
echo "checked out after the checkins: $(redis-cli -p "$REDIS_PORT" HGET "vmreserve:{default}:pool" count:checked-out)"
