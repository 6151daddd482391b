#!/usr/bin/env bash
# Runs every Rust example. Examples that need a broker get one: Mosquitto on a free
# loopback port, stopped when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
STANDALONE=(codec enhanced_auth)
WITH_BROKER=(pubsub wait_for_ack reconnect blocking)

for example in "${STANDALONE[@]}"; do
    echo "== example: $example"
    $CARGO run --quiet -p mqttkit --all-features --example "$example"
done

mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ ! -x "$mosquitto_bin" ]; then
    echo "!! mosquitto is not installed: run scripts/install-test-deps.sh" >&2
    exit 1
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf=$(mktemp)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$conf"
"$mosquitto_bin" -c "$conf" >/dev/null 2>&1 &
broker=$!
trap 'kill "$broker" 2>/dev/null; wait "$broker" 2>/dev/null; rm -f "$conf"' EXIT
for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
export MQTT_URL="mqtt://127.0.0.1:$port"
for example in "${WITH_BROKER[@]}"; do
    echo "== example: $example (broker $MQTT_URL)"
    timeout 60 $CARGO run --quiet -p mqttkit --all-features --example "$example"
done
