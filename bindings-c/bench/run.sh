#!/usr/bin/env bash
# Publish throughput benchmark (not a test): mqttkit vs libmosquitto, release build, to a
# do-nothing sink, to Mosquitto and to mqttkit's broker.
#   bash bindings-c/bench/run.sh [qos0_messages] [qos1_messages]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/c}"
TMP="$(mktemp -d /tmp/mqttkit-c-bench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
make -s -C bindings-c install PREFIX="$TMP/prefix" PROFILE=release
# The third target, mqttkit's broker, runs as its own process like Mosquitto.
cargo build --release -q -p mqttkit --bin mqttkit
export MQTTKIT_BROKER_BIN="$CARGO_TARGET_DIR/release/mqttkit"
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
cc -std=c11 -O2 -Wall -Wextra -Werror $(pkg-config --cflags mqttkit) -o "$TMP/bench" bindings-c/bench/bench.c \
    $(pkg-config --libs mqttkit) -Wl,-rpath,"$(pkg-config --variable=libdir mqttkit)" -lmosquitto -lpthread
"$TMP/bench" "$@"
