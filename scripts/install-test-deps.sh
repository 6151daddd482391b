#!/bin/sh
# Installs what the test suites need beyond Rust, Python 3 and Node:
#  - Debian packages: mosquitto (broker for client and binding tests), mosquitto-clients
#    (interop peers), libmosquitto-dev (C benchmark peer), valgrind (C tests), pkg-config,
#    openssl (the C and Node TLS tests make their certificates with it);
#    via apt-get when running as root and something is missing;
#  - a Python venv at .venv (repository root) with paho-mqtt for the broker interop tests,
#    which use it through $MQTTKIT_PYTHON (default ../.venv/bin/python relative to core/).
# The Python, Node and C bindings install their own packages in their test.sh.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"

missing=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"
command -v mosquitto_sub >/dev/null 2>&1 || missing="$missing mosquitto-clients"
[ -f /usr/include/mosquitto.h ] || missing="$missing libmosquitto-dev"
command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "!! missing Debian packages:$missing (install them as root; tests that need them fail)" >&2
        exit 1
    fi
fi

venv="$root/.venv"
if ! "$venv/bin/python" -c 'import paho.mqtt' >/dev/null 2>&1; then
    echo "== creating $venv with paho-mqtt"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet 'paho-mqtt>=2.1,<3'
fi
echo "== test dependencies ready: mosquitto, mosquitto-clients, libmosquitto-dev, valgrind, openssl, $("$venv/bin/python" -c 'import paho.mqtt; print("paho-mqtt", paho.mqtt.__version__)')"
