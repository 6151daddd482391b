#!/usr/bin/env bash
# Tests of libmqttkit, from a clean checkout: `bash bindings-c/test.sh` (from anywhere).
#
#  1. header drift: regenerate include/mqttkit.h with the pinned cbindgen, diff, fail on drift
#  2. Rust unit tests of the crate (error mapping, version constants)
#  3. debug build of libmqttkit.so / libmqttkit.a, `make install` into a temp PREFIX
#  4. certificates for test_tls.c (tests/make_certs.sh, openssl; without openssl that test
#     prints SKIPPED), then every tests/*.c compiled (C11, -Wall -Wextra -Werror) via
#     pkg-config against the installed header, linked dynamically and statically, run; then
#     run under valgrind: any error and any definite, indirect or possible leak fails
#     (tests/valgrind.supp: two false positives of ring's AES-GCM assembly)
#  5. a C++ translation unit including the header compiles
#  6. examples/c built and run against a private Mosquitto
#
# Environment: VALGRIND=0 skips valgrind; KEEP=1 keeps the temp directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/c}"
CBINDGEN_VERSION=0.29.4
TMP="$(mktemp -d /tmp/mqttkit-c-test.XXXXXX)"
MOSQ_PID=""
cleanup() {
    if [ -n "$MOSQ_PID" ]; then kill "$MOSQ_PID" 2>/dev/null || true; wait "$MOSQ_PID" 2>/dev/null || true; fi
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"

step "cbindgen $CBINDGEN_VERSION: header drift"
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version | awk '{print $2}')" != "$CBINDGEN_VERSION" ]; then
    cargo install --locked "cbindgen@$CBINDGEN_VERSION"
fi
cbindgen --quiet --config bindings-c/cbindgen.toml --crate mqttkit-c --output "$TMP/mqttkit.h" bindings-c
if ! diff -u bindings-c/include/mqttkit.h "$TMP/mqttkit.h"; then
    echo "include/mqttkit.h is out of date: run 'make -C bindings-c header' and commit it" >&2
    exit 1
fi
IFS=. read -r V_MAJOR V_MINOR V_PATCH <<<"$VERSION"
for pair in "MAJOR $V_MAJOR" "MINOR $V_MINOR" "PATCH $V_PATCH"; do
    set -- $pair
    got="$(sed -n "s/^#define MQTTKIT_VERSION_$1 \([0-9]*\)$/\1/p" bindings-c/include/mqttkit.h)"
    if [ "$2" != "$got" ]; then
        echo "MQTTKIT_VERSION_$1 is '$got' in the header but Cargo.toml says $VERSION" >&2
        exit 1
    fi
done
echo "header up to date, version $VERSION"

FEATURES=""
if cargo check -q -p mqttkit-c --features broker 2>"$TMP/broker-check.log"; then
    FEATURES="broker"
    echo "embedded broker: available"
else
    echo "embedded broker: does not compile with --features broker, skipped (see below)"
    tail -n 20 "$TMP/broker-check.log"
fi

step "cargo test -p mqttkit-c"
cargo test -q -p mqttkit-c ${FEATURES:+--features $FEATURES} --lib

step "build (debug) and install into $TMP/prefix"
make -s -C bindings-c install PREFIX="$TMP/prefix" PROFILE=debug FEATURES="$FEATURES"
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
LIBDIR="$(pkg-config --variable=libdir mqttkit)"
test "$(pkg-config --modversion mqttkit)" = "$VERSION"
ls -l "$LIBDIR"

CFLAGS="-std=c11 -Wall -Wextra -Werror -g -O1 $(pkg-config --cflags mqttkit)"
[ -n "$FEATURES" ] && CFLAGS="$CFLAGS -DMQTTKIT_TEST_BROKER=1"
DYNAMIC_LIBS="$(pkg-config --libs mqttkit) -Wl,-rpath,$LIBDIR -lpthread"
STATIC_LIBS="$LIBDIR/libmqttkit.a $(pkg-config --static --libs-only-l mqttkit | sed 's/-lmqttkit//')"

FAILED=0
run_test() { # name binary [wrapper...]
    local name="$1" bin="$2"; shift 2
    local log="$TMP/$name.log"
    if MQTTKIT_EXPECTED_VERSION="$VERSION" "$@" "$bin" >"$log" 2>&1; then status=0; else status=$?; fi
    local summary
    summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1 || true)"
    if [ "$status" -ne 0 ] || [ -z "$summary" ] || ! echo "$summary" | grep -q ' 0 failed$'; then
        echo "FAIL $name (exit $status): ${summary:-no summary}"
        tail -n 60 "$log"
        FAILED=$((FAILED + 1))
    else
        echo "ok   $name: $summary"
        grep '^SKIPPED' "$log" || true
    fi
}

step "TLS certificates for test_tls (openssl)"
if command -v openssl >/dev/null; then
    # Mosquitto started as root drops to its own user, which must reach the test keys.
    chmod a+x "$TMP"
    bash bindings-c/tests/make_certs.sh "$TMP/tls"
    export MQTTKIT_TEST_TLS_DIR="$TMP/tls"
    echo "made in $MQTTKIT_TEST_TLS_DIR"
else
    echo "SKIPPED: openssl not found: test_tls cannot make its certificates and skips every case" >&2
fi

step "C tests (dynamic and static)"
mkdir -p "$TMP/bin"
TESTS=()
for src in bindings-c/tests/*.c; do
    name="$(basename "$src" .c)"
    cc $CFLAGS -o "$TMP/bin/$name-dynamic" "$src" $DYNAMIC_LIBS
    cc $CFLAGS -o "$TMP/bin/$name-static" "$src" $STATIC_LIBS
    TESTS+=("$name")
done
for name in "${TESTS[@]}"; do
    run_test "$name (dynamic)" "$TMP/bin/$name-dynamic"
    run_test "$name (static)" "$TMP/bin/$name-static"
done

if [ "${VALGRIND:-1}" != 0 ]; then
    step "C tests under valgrind (errors and definite, indirect or possible leaks fail)"
    VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
        --show-leak-kinds=definite,indirect,possible --track-origins=no --num-callers=30
        --suppressions=bindings-c/tests/valgrind.supp)
    for name in "${TESTS[@]}"; do
        MQTTKIT_TEST_SLOW=1 run_test "$name (valgrind, dynamic)" "$TMP/bin/$name-dynamic" "${VG[@]}"
        MQTTKIT_TEST_SLOW=1 run_test "$name (valgrind, static)" "$TMP/bin/$name-static" "${VG[@]}"
    done
fi

step "C++ translation unit"
c++ -std=c++17 -Wall -Wextra -Werror $(pkg-config --cflags mqttkit) -c bindings-c/tests/cxx/header.cpp -o "$TMP/header.o"
c++ -std=c++17 -o "$TMP/bin/cxx" "$TMP/header.o" $DYNAMIC_LIBS
"$TMP/bin/cxx"

step "examples/c"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type none\n' "$PORT" >"$TMP/mosquitto.conf"
/usr/sbin/mosquitto -c "$TMP/mosquitto.conf" &
MOSQ_PID=$!
for _ in $(seq 1 500); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.01
done
URL="mqtt://127.0.0.1:$PORT"
for name in publisher subscriber ${FEATURES:+embedded_broker}; do
    cc $CFLAGS -o "$TMP/bin/example-$name" "examples/c/$name.c" $DYNAMIC_LIBS
done
"$TMP/bin/example-publisher" "$URL" examples/c/hello "hello from C"
"$TMP/bin/example-subscriber" "$URL" "examples/c/#" 1 | tee "$TMP/subscriber.out"
grep -q "examples/c/hello: hello from C" "$TMP/subscriber.out"
if [ -x "$TMP/bin/example-embedded_broker" ]; then
    "$TMP/bin/example-embedded_broker"
fi

if [ "$FAILED" -ne 0 ]; then
    printf '\n%s test run(s) failed\n' "$FAILED"
    exit 1
fi
printf '\nbindings-c: all tests passed\n'
