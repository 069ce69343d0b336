#!/bin/sh
# Makes the certificates of the TLS tests (P-256 keys, PEM) in directory $1:
#   ca, other-ca          two CAs (other-ca: one the servers do not trust)
#   server                localhost and 127.0.0.1, signed by ca
#   expired               the same names, expired a day ago
#   elsewhere             redis.test only (a name mismatch when reached as 127.0.0.1)
#   untrusted             localhost and 127.0.0.1, signed by other-ca
#   client                a client's certificate (mutual TLS), signed by ca
# With a second argument NAME, makes only NAME.crt and NAME.key: localhost and 127.0.0.1, signed
# by the ca already there (a server certificate that replaces another).
set -eu
cd "$1"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

ca() {
    key "$1"
    openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 30 -subj "/CN=vmreserve test $1" 2>/dev/null
}

# leaf NAME DAYS SUBJECT_ALT_NAMES [CA]
leaf() {
    key "$1"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    printf 'subjectAltName=%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "${4:-ca}.crt" -CAkey "${4:-ca}.key" -CAcreateserial -out "$1.crt" \
        -days "$2" -extfile "$1.ext" 2>/dev/null
    rm "$1.csr" "$1.ext"
}

local_names=DNS:localhost,IP:127.0.0.1
if [ $# -ge 2 ]; then
    leaf "$2" 30 "$local_names"
    exit 0
fi
ca ca
ca other-ca
leaf server 30 "$local_names"
leaf expired -1 "$local_names"
leaf elsewhere 30 DNS:redis.test
leaf untrusted 30 "$local_names" other-ca
leaf client 30 DNS:vmreserve-gateway
