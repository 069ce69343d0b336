#!/usr/bin/env bash
# The fault matrix and the crash and failover tests, again and again: a soak for what one CI run
# cannot show. Usage: scripts/soak.sh [ROUNDS] (default 20). Stops at the first failure and
# keeps its output in .soak/round-N.log; prints each round's fault matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
bash scripts/install-deps.sh --test
swift build --build-tests
mkdir -p .soak
for round in $(seq "$rounds"); do
  log=".soak/round-$round.log"
  if ! swift test --skip-build --filter 'ChaosTests|CrashTests|SentinelTests' > "$log" 2>&1; then
    echo "round $round failed: see $log" >&2
    exit 1
  fi
  echo "round $round passed"
  grep '^| ' "$log" || true
done
