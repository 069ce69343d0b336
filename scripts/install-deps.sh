#!/usr/bin/env bash
# Installs what vmreserve needs, only if missing: from Debian's packages redis-server (the store,
# also started by the tests) and libhiredis-dev (the C client library).
# --test also installs what the tests need besides: jq (which the example EC2 provider's scripts
# use), curl and openssl (the TLS tests make their certificates and call over HTTPS), docker-compose and haproxy (which check the deployment files), and, from PyPI, the AWS
# CLI and moto's EC2 server, which the example is tested against, and schemathesis, which tests
# the server against docs/openapi.json; and headless Chromium with its driver (Debian's chromium,
# chromium-driver) and Selenium (PyPI), which test the web console in a real browser.
# Extra arguments name more commands to install by their package name, e.g. `stress-ng`.
set -euo pipefail

missing=()
tests=false
if [ "${1:-}" = --test ]; then tests=true; shift; fi
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -f /usr/include/hiredis/hiredis.h ] || missing+=(libhiredis-dev)
for extra in "$@"; do
  command -v "$extra" >/dev/null 2>&1 || missing+=("$extra")
done
python_tools=false
if $tests; then
  command -v jq >/dev/null 2>&1 || missing+=(jq)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  if ! command -v aws >/dev/null 2>&1 || ! command -v moto_server >/dev/null 2>&1 || ! command -v schemathesis >/dev/null 2>&1 \
     || ! python3 -c 'import selenium' >/dev/null 2>&1; then
    python_tools=true
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  fi
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if $python_tools; then
  echo "Installing awscli, moto[server], schemathesis and selenium with pip" >&2
  python3 -m pip install --quiet awscli 'moto[server]' schemathesis selenium 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages awscli 'moto[server]' schemathesis selenium
  hash -r
fi
