#!/usr/bin/env bash
# Installs what vmreserve needs from Debian's packages, only if missing:
# redis-server (the store, also started by the tests) and libhiredis-dev (the C client library).
# Extra arguments name more commands to install by their package name, e.g. `stress-ng`.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -f /usr/include/hiredis/hiredis.h ] || missing+=(libhiredis-dev)
for extra in "$@"; do
  command -v "$extra" >/dev/null 2>&1 || missing+=("$extra")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing ${missing[*]} with apt-get" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
