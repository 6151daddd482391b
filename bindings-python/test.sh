#!/usr/bin/env bash
# Builds and installs the Python package (debug) with `pip install ./bindings-python` into
# the venv .venv-python at the repository root, runs the examples against Mosquitto,
# type-checks them (mypy --strict) and checks the native module's stubs against it
# (stubtest), then runs pytest.
# Works from any directory: `bash bindings-python/test.sh`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="${MQTTKIT_VENV:-$ROOT/.venv-python}"
PYTHON="${PYTHON:-python3}"
export PYTHONDONTWRITEBYTECODE=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/python}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
echo "== installing test dependencies"
python -m pip install --quiet --disable-pip-version-check \
    'maturin>=1.16,<2' 'pytest>=9.2,<10' 'pytest-asyncio>=1.5,<2' 'paho-mqtt>=2.1,<3' 'aiomqtt>=2.3,<3' 'mypy>=1.10' 'uvloop>=0.19' 'trustme>=1.1' 'websockets>=13'

echo "== pip install ./bindings-python (debug build; the same path as a user's install)"
rm -f "$HERE"/python/mqttkit/_mqttkit*.so  # left by an earlier maturin develop
(cd "$ROOT" && MATURIN_PEP517_ARGS="--profile dev" python -m pip install --quiet --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps ./bindings-python)

mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ ! -x "$mosquitto_bin" ]; then
    echo "!! mosquitto is not installed (apt-get install mosquitto)" >&2
    exit 1
fi
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf=$(mktemp)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$conf"
"$mosquitto_bin" -c "$conf" >/dev/null 2>&1 &
broker=$!
trap 'kill "$broker" 2>/dev/null; wait "$broker" 2>/dev/null; rm -f "$conf"' EXIT
python - "$port" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 5
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("mosquitto did not start")
        time.sleep(0.02)
PY
export MQTT_URL="mqtt://127.0.0.1:$port"
for example in "$ROOT"/examples/python/*.py; do
    echo "== example: $(basename "$example") (broker $MQTT_URL)"
    timeout 60 python "$example"
done

echo "== mypy --strict on the examples and the package; stubtest: the native module's stubs"
(cd "$ROOT" && mypy --strict --no-incremental --cache-dir=/dev/null examples/python bindings-python/python/mqttkit)
(cd "$HERE" && python -m mypy.stubtest --mypy-config-file pyproject.toml mqttkit._mqttkit)

kill "$broker" 2>/dev/null || true
wait "$broker" 2>/dev/null || true
trap 'rm -f "$conf"' EXIT

echo "== pytest"
cd "$HERE"
exec python -m pytest tests -q -p no:cacheprovider
