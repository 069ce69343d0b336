#!/bin/sh
# Makes the deployment's secrets, once: deploy/secrets/redis-password and deploy/secrets/admin-token,
# 64 random hex digits each. An existing file is kept. The folder is the operator's alone (0700),
# so no other user of this machine can read them; the files themselves are 0644, so that the
# containers' unprivileged users can read the copies compose mounts at /run/secrets/.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 700 secrets
for name in redis-password admin-token; do
    if [ ! -s "secrets/$name" ]; then
        openssl rand -hex 32 > "secrets/$name"
        echo "made deploy/secrets/$name" >&2
    fi
    chmod 644 "secrets/$name"
done
