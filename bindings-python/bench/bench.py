"""Throughput benchmark: mqttkit vs paho-mqtt vs aiomqtt (not a test).

Measures, for each client library, in a fresh process per measurement:

* publish throughput: 100k QoS 0 and 20k QoS 1 messages of 64 B, timed until the peer has
  them all (QoS 0: a final QoS 1 "marker" publish is acknowledged, which the peer only does
  after reading everything before it; QoS 1: every PUBACK has arrived);
* receive throughput: 100k QoS 0 messages of 64 B, timed from the subscription until the
  last one was handed to the application;

against a do-nothing sink (a minimal MQTT peer written below, in its own process: it
acknowledges what it must and otherwise discards, so each client is timed alone), against
Mosquitto and against mqttkit's own broker (`python -m mqttkit broker`). Prints a table with
the ratios.

Usage (from the repository root, with a release build installed):
    (cd bindings-python && maturin develop --release)
    .venv-python/bin/python bindings-python/bench/bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

PAYLOAD = bytes(range(64))
TOPIC = "bench/t"
END_TOPIC = "bench/end"
LIBRARIES = ("mqttkit", "paho", "aiomqtt")
TARGETS = ("sink", "mosquitto", "mqttkit-broker")
IDLE = 3.0
"""Seconds without a message after which a receive measurement ends (the peer dropped some)."""
RECEIVED = [0]


# ---------------------------------------------------------------------------------------
# MQTT encoding helpers (for the sink and the blaster)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value % 128
        value //= 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def mqtt_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def publish_packet(topic: str, payload: bytes, v5: bool) -> bytes:
    body = mqtt_string(topic) + (b"\x00" if v5 else b"") + payload
    return b"\x30" + varint(len(body)) + body


def connect_packet(client_id: str) -> bytes:
    body = mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + mqtt_string(client_id)
    return b"\x10" + varint(len(body)) + body


# ---------------------------------------------------------------------------------------
# The sink: a do-nothing MQTT peer


def sink_connection(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    v5 = False
    try:
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return
            buf = buf + chunk if buf else chunk
            n = len(buf)
            pos = 0
            out: List[bytes] = []
            while pos + 2 <= n:
                b0 = buf[pos]
                length = buf[pos + 1]
                header = 2
                if length & 0x80:
                    length &= 0x7F
                    shift = 7
                    while True:
                        if pos + header >= n:
                            length = -1
                            break
                        byte = buf[pos + header]
                        header += 1
                        length |= (byte & 0x7F) << shift
                        shift += 7
                        if not byte & 0x80:
                            break
                    if length < 0:
                        break
                end = pos + header + length
                if end > n:
                    break
                kind = b0 >> 4
                if kind == 3:
                    qos = (b0 >> 1) & 3
                    if qos:
                        start = pos + header
                        tlen = (buf[start] << 8) | buf[start + 1]
                        pid = buf[start + 2 + tlen : start + 4 + tlen]
                        out.append((b"\x40\x02" if qos == 1 else b"\x50\x02") + pid)
                elif kind == 1:
                    v5 = buf[pos + header + 6] == 5
                    out.append(b"\x20\x03\x00\x00\x00" if v5 else b"\x20\x02\x00\x00")
                elif kind == 6:
                    out.append(b"\x70\x02" + buf[pos + header : pos + header + 2])
                elif kind == 8:
                    start = pos + header
                    pid = buf[start : start + 2]
                    cursor = start + 2
                    if v5:
                        cursor += 1 + buf[cursor]  # property length (small) + properties
                    flen = (buf[cursor] << 8) | buf[cursor + 1]
                    topic = buf[cursor + 2 : cursor + 2 + flen].decode()
                    granted = buf[cursor + 2 + flen] & 3
                    suback = pid + (b"\x00" if v5 else b"") + bytes([granted])
                    out.append(b"\x90" + varint(len(suback)) + suback)
                    if topic.startswith("bench/recv/"):
                        count = int(topic.rsplit("/", 1)[1])
                        conn.sendall(b"".join(out))
                        out = []
                        packet = publish_packet("bench/recv", PAYLOAD, v5)
                        batch = packet * 1000
                        for _ in range(count // 1000):
                            conn.sendall(batch)
                        conn.sendall(packet * (count % 1000))
                elif kind == 12:
                    out.append(b"\xd0\x00")
                elif kind == 14:
                    return
                pos = end
            buf = buf[pos:]
            if out:
                conn.sendall(b"".join(out))
    except OSError:
        return
    finally:
        conn.close()


def run_sink(port_file: str) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    with open(port_file, "w") as out:
        out.write(str(listener.getsockname()[1]))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=sink_connection, args=(conn,), daemon=True).start()


def run_blaster(port: int, count: int) -> None:
    """Publishes `count` QoS 0 messages to Mosquitto as fast as the socket takes them, once
    told to start (a line on stdin)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(f"blaster-{os.getpid()}"))
    sock.recv(4)
    packet = publish_packet(TOPIC, PAYLOAD, False)
    print("ready", flush=True)
    sys.stdin.readline()
    batch = packet * 1000
    for _ in range(count // 1000):
        sock.sendall(batch)
    sock.sendall(packet * (count % 1000))
    sock.sendall(b"\xe0\x00")
    sys.stdin.readline()
    sock.close()


# ---------------------------------------------------------------------------------------
# One measurement per process


class Blaster:
    def __init__(self, port: int, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--blast", str(port), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write("stop\n")
            self.process.stdin.flush()
        except OSError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def receive_topic(target: str, count: int) -> str:
    return f"bench/recv/{count}" if target == "sink" else TOPIC


def needs_blaster(target: str) -> bool:
    return target != "sink"


async def measure_mqttkit(kind: str, target: str, port: int, count: int) -> float:
    import mqttkit

    async with mqttkit.Client(f"mqtt://127.0.0.1:{port}", client_id=f"kit-{os.getpid()}") as client:
        if kind.startswith("publish"):
            qos = 1 if kind == "publish_qos1" else 0
            start = time.perf_counter()
            for _ in range(count):
                await client.publish_nowait(TOPIC, PAYLOAD, qos=qos)
            await client.publish(END_TOPIC, b"", qos=1, timeout=120)
            return count / (time.perf_counter() - start)
        blaster = Blaster(port, count) if needs_blaster(target) else None
        stream = client.messages()
        start = time.perf_counter()
        await client.subscribe(receive_topic(target, count))
        if blaster:
            start = time.perf_counter()
            blaster.go()
        counter = [0, start]

        async def consume() -> None:
            async for _message in stream:
                counter[0] += 1
                if counter[0] == count:
                    break
            counter[1] = time.perf_counter()

        task = asyncio.ensure_future(consume())
        seen = -1
        while not task.done() and seen != counter[0]:  # ends early if the peer dropped some
            seen = int(counter[0])
            await asyncio.wait([task], timeout=IDLE)
        task.cancel()
        if counter[0] < count:
            counter[1] = time.perf_counter() - IDLE
        if blaster:
            blaster.stop()
        RECEIVED[0] = int(counter[0])
        return counter[0] / (counter[1] - start)


def measure_paho(kind: str, target: str, port: int, count: int) -> float:
    import paho.mqtt.client as paho

    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
        client_id=f"paho-{os.getpid()}",
        protocol=paho.MQTTv5,
    )
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    connected.wait(10)
    try:
        if kind.startswith("publish"):
            qos = 1 if kind == "publish_qos1" else 0
            start = time.perf_counter()
            for _ in range(count):
                client.publish(TOPIC, PAYLOAD, qos=qos)
            client.publish(END_TOPIC, b"", qos=1).wait_for_publish(120)
            return count / (time.perf_counter() - start)
        done = threading.Event()
        received = [0]

        def on_message(_c: Any, _u: Any, _m: Any) -> None:
            received[0] += 1
            if received[0] == count:
                done.set()

        client.on_message = on_message
        blaster = Blaster(port, count) if needs_blaster(target) else None
        subscribed = threading.Event()
        client.on_subscribe = lambda *args: subscribed.set()
        start = time.perf_counter()
        client.subscribe(receive_topic(target, count))
        if blaster:
            subscribed.wait(10)
            start = time.perf_counter()
            blaster.go()
        last = [start]
        seen = [0]
        while not done.wait(IDLE):
            if received[0] == seen[0]:
                break  # idle: the peer dropped messages
            seen[0] = received[0]
            last[0] = time.perf_counter()
        if done.is_set():
            last[0] = time.perf_counter()
        if blaster:
            blaster.stop()
        RECEIVED[0] = received[0]
        return received[0] / (last[0] - start)
    finally:
        client.loop_stop()
        client.disconnect()


async def measure_aiomqtt(kind: str, target: str, port: int, count: int) -> float:
    import aiomqtt
    import paho.mqtt.client as paho

    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"aio-{os.getpid()}",
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        if kind.startswith("publish"):
            qos = 1 if kind == "publish_qos1" else 0
            start = time.perf_counter()
            if qos == 0:
                for _ in range(count):
                    await client.publish(TOPIC, PAYLOAD, qos=0)
            else:
                # aiomqtt degrades with thousands of concurrent calls: windows of 100.
                for first in range(0, count, 100):
                    window = min(100, count - first)
                    await asyncio.gather(*(client.publish(TOPIC, PAYLOAD, qos=1, timeout=60) for _ in range(window)))
            await client.publish(END_TOPIC, b"", qos=1, timeout=120)
            return count / (time.perf_counter() - start)
        blaster = Blaster(port, count) if needs_blaster(target) else None
        start = time.perf_counter()
        await client.subscribe(receive_topic(target, count))
        if blaster:
            start = time.perf_counter()
            blaster.go()
        counter = [0, start]

        async def consume() -> None:
            async for _message in client.messages:
                counter[0] += 1
                counter[1] = time.perf_counter()
                if counter[0] == count:
                    break

        task = asyncio.ensure_future(consume())
        seen = -1
        while not task.done() and seen != counter[0]:
            seen = int(counter[0])
            await asyncio.wait([task], timeout=IDLE)
        task.cancel()
        if blaster:
            blaster.stop()
        _ = paho
        RECEIVED[0] = int(counter[0])
        return counter[0] / (counter[1] - start)


def measure(library: str, kind: str, target: str, port: int, count: int) -> float:
    if library == "mqttkit":
        return asyncio.run(measure_mqttkit(kind, target, port, count))
    if library == "paho":
        return measure_paho(kind, target, port, count)
    return asyncio.run(measure_aiomqtt(kind, target, port, count))


# ---------------------------------------------------------------------------------------
# Orchestration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def start_sink(directory: str) -> Tuple["subprocess.Popen[bytes]", int]:
    port_file = os.path.join(directory, "sink.port")
    process = subprocess.Popen([sys.executable, __file__, "--sink", port_file])
    deadline = time.monotonic() + 10
    while not (os.path.exists(port_file) and open(port_file).read()):
        if time.monotonic() > deadline:
            raise RuntimeError("sink did not start")
        time.sleep(0.02)
    port = int(open(port_file).read())
    wait_for_port(port)
    return process, port


def start_mosquitto(directory: str) -> Tuple["subprocess.Popen[bytes]", int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    config = os.path.join(directory, "mosquitto.conf")
    with open(config, "w") as out:
        out.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    process = subprocess.Popen([binary, "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, port


def start_mqttkit_broker(directory: str) -> Tuple["subprocess.Popen[bytes]", int]:
    port = free_port()
    config = os.path.join(directory, "mqttkit-broker.toml")
    with open(config, "w") as out:
        # Queues as unbounded as Mosquitto's in this benchmark (max_queued_messages 0).
        out.write("[limits]\nmax_queued_messages = 10000000\nmax_queued_bytes = 10000000000\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "mqttkit", "broker", "--port", str(port), "--config", config],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, port


SHORT: Dict[Tuple[str, str, str], int] = {}


def run_case(library: str, kind: str, target: str, port: int, count: int) -> Optional[float]:
    try:
        output = subprocess.run(
            [sys.executable, __file__, "--measure", library, kind, target, str(port), str(count)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        print(f"  {library} {kind} {target}: timed out", file=sys.stderr)
        return None
    if output.returncode != 0:
        print(f"  {library} {kind} {target} failed:\n{output.stderr[-2000:]}", file=sys.stderr)
        return None
    result = json.loads(output.stdout.strip().splitlines()[-1])
    if result["received"] < count:
        SHORT[(library, kind, target)] = int(result["received"])
    return float(result["rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--sink", help=argparse.SUPPRESS)
    parser.add_argument("--blast", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.sink)
        return
    if args.blast:
        run_blaster(int(args.blast[0]), int(args.blast[1]))
        return
    if args.measure:
        library, kind, target, port, count = args.measure
        RECEIVED[0] = int(count)
        rate = measure(library, kind, target, int(port), int(count))
        print(json.dumps({"rate": rate, "received": RECEIVED[0]}))
        return

    scale = 10 if args.quick else 1
    rows = [
        ("publish_qos0", 100_000 // scale, "publish QoS 0, 64 B"),
        ("publish_qos1", 20_000 // scale, "publish QoS 1, 64 B"),
        ("receive_qos0", 100_000 // scale, "receive QoS 0, 64 B"),
    ]
    directory = tempfile.mkdtemp(prefix="mqttkit-bench-")
    sink, sink_port = start_sink(directory)
    results: Dict[Tuple[str, str, str], Optional[float]] = {}
    try:
        for target in TARGETS:
            for kind, count, _ in rows:
                for library in LIBRARIES:
                    if target == "sink":
                        results[(target, kind, library)] = run_case(library, kind, target, sink_port, count)
                        continue
                    # A fresh broker for every measurement: nothing left over from the last.
                    if target == "mosquitto":
                        broker, broker_port = start_mosquitto(directory)
                    else:
                        broker, broker_port = start_mqttkit_broker(directory)
                    try:
                        results[(target, kind, library)] = run_case(library, kind, target, broker_port, count)
                    finally:
                        broker.kill()
                        broker.wait()
    finally:
        sink.kill()
        sink.wait()
        shutil.rmtree(directory, ignore_errors=True)

    def fmt_rate(value: Optional[float], key: Tuple[str, str, str], count: int) -> str:
        if value is None:
            return "failed"
        short = SHORT.get(key)
        return f"{value:,.0f}" if short is None else f"{value:,.0f} (got {short:,} of {count:,})"

    def ratio(a: Optional[float], b: Optional[float]) -> str:
        return "-" if a is None or b is None or b == 0 else f"{a / b:.1f}x"

    header = "| peer | measurement (msgs) | mqttkit msg/s | paho-mqtt msg/s | aiomqtt msg/s | vs paho | vs aiomqtt |"
    print(header)
    print("|" + "---|" * 7)
    for target in TARGETS:
        for kind, count, label in rows:
            kit, paho, aio = (results[(target, kind, library)] for library in LIBRARIES)
            print(
                f"| {target} | {label} ({count:,}) "
                f"| {fmt_rate(kit, ('mqttkit', kind, target), count)} "
                f"| {fmt_rate(paho, ('paho', kind, target), count)} "
                f"| {fmt_rate(aio, ('aiomqtt', kind, target), count)} "
                f"| {ratio(kit, paho)} | {ratio(kit, aio)} |"
            )


if __name__ == "__main__":
    main()
