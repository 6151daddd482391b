#!/usr/bin/env bash
# Node package tests from a clean checkout: install, build (debug), node:test suite, the
# examples against a Mosquitto on free ports (plain and TLS, with a CA made by `openssl`),
# and the TypeScript check.
# Usage (from anywhere): bash bindings-node/test.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/node}"
cd "$here"

echo "== npm install"
# `npm install` rather than `npm ci`: npm 10 rejects the lock file over optional
# platform packages of @napi-rs/cli that it never records (npm/cli#4828).
npm install --no-audit --no-fund --loglevel=error

echo "== build (debug)"
npm run build

echo "== TypeScript check of the examples and the package types"
npx tsc -p "$root/examples/node/tsconfig.json"

echo "== examples"
mosquitto_bin=/usr/sbin/mosquitto
[ -x "$mosquitto_bin" ] || mosquitto_bin="$(command -v mosquitto)"
workdir="$(mktemp -d)"
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
tls_port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
# A CA and a server certificate for the TLS example (Mosquitto reads them as its own user).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$workdir/ca.key" \
  -out "$workdir/ca.crt" -days 2 -subj /CN=mqttkit-example-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$workdir/server.key" \
  -out "$workdir/server.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$workdir/server.ext"
openssl x509 -req -in "$workdir/server.csr" -CA "$workdir/ca.crt" -CAkey "$workdir/ca.key" -set_serial 1 \
  -days 2 -extfile "$workdir/server.ext" -out "$workdir/server.crt" 2>/dev/null
chmod 755 "$workdir" && chmod 644 "$workdir"/*
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlistener %s 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n' \
  "$port" "$tls_port" "$workdir/ca.crt" "$workdir/server.crt" "$workdir/server.key" > "$workdir/mosquitto.conf"
"$mosquitto_bin" -c "$workdir/mosquitto.conf" >/dev/null 2>&1 &
mosquitto_pid=$!
cleanup() { kill "$mosquitto_pid" 2>/dev/null || true; wait "$mosquitto_pid" 2>/dev/null || true; rm -rf "$workdir"; }
trap cleanup EXIT
for p in "$port" "$tls_port"; do
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
    sleep 0.05
  done
done
export MQTT_URL="mqtt://127.0.0.1:$port" MQTTS_URL="mqtts://127.0.0.1:$tls_port" MQTT_CA="$workdir/ca.crt"
for example in "$root"/examples/node/*.js "$root"/examples/node/*.mjs; do
  echo "-- $(basename "$example")"
  timeout 30 node "$example"
done
cleanup
trap - EXIT

echo "== node --test"
node --test tests/
