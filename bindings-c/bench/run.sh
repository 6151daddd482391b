#!/usr/bin/env bash
# Publish throughput benchmark (not a test): mqttkit vs libmosquitto, release build.
#   bash bindings-c/bench/run.sh [qos0_messages] [qos1_messages]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/c}"
TMP="$(mktemp -d /tmp/mqttkit-c-bench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
make -s -C bindings-c install PREFIX="$TMP/prefix" PROFILE=release
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
cc -std=c11 -O2 -Wall -Wextra -Werror $(pkg-config --cflags mqttkit) -o "$TMP/bench" bindings-c/bench/bench.c \
    $(pkg-config --libs mqttkit) -Wl,-rpath,"$(pkg-config --variable=libdir mqttkit)" -lmosquitto -lpthread
"$TMP/bench" "$@"
