#!/usr/bin/env bash
# `make test-under-load`: the whole suite, in parallel as always, while stress-ng keeps every
# core of the machine busy, as on a loaded CI runner. The build comes first, unloaded; the
# tests' time bounds get a 4 times wider margin (VMRESERVE_TEST_TIME_SCALE), never a narrower one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test stress-ng
swift build --build-tests
stress-ng --cpu "$(nproc)" --quiet &
load=$!
trap 'kill "$load" 2>/dev/null; wait "$load" 2>/dev/null || true' EXIT
VMRESERVE_TEST_TIME_SCALE="${VMRESERVE_TEST_TIME_SCALE:-4}" swift test --skip-build "$@"
