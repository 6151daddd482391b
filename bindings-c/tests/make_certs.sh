#!/usr/bin/env bash
# Makes the certificates of test_tls.c with openssl into directory $1: a CA (ca.pem), a
# server certificate for localhost / 127.0.0.1 (server.pem, server.key) and a client
# certificate for mutual TLS (client.pem, client.key), all EC P-256, valid for two days.
set -euo pipefail
dir="$1"
mkdir -p "$dir"
chmod 755 "$dir"
cd "$dir"
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=mqttkit C test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
sign() { # name subject extensions
    ec "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
sign server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
sign client "/CN=mqttkit-c-test-client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
# Readable by Mosquitto's own user (throw-away test keys).
chmod 644 ./*.key
