"""Fixtures: a Mosquitto broker on a free port, a silent TCP listener, and helpers that wait
for events with a timeout (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Iterator, List, Optional

import pytest

EVENT_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_binary() -> str:
    for candidate in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto", shutil.which("mosquitto") or ""):
        if candidate and os.path.exists(candidate):
            return candidate
    pytest.fail("mosquitto is not installed (apt-get install mosquitto)")


def wait_for_port(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class Mosquitto:
    """A Mosquitto broker on 127.0.0.1; `stop()` kills it, `start()` (re)starts it on the
    same port."""

    def __init__(self, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="mqttkit-py-mosquitto-")
        self.config = os.path.join(self.dir, "mosquitto.conf")
        with open(self.config, "w") as config:
            config.write(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_keepalive 65535\nmax_queued_messages 0\n"
            )
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Mosquitto":
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", self.config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def broker() -> Iterator[Mosquitto]:
    server = Mosquitto().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def own_broker() -> Iterator[Mosquitto]:
    """A broker for one test (which may stop and restart it)."""
    server = Mosquitto().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


_unique = [0]


def unique(prefix: str = "t") -> str:
    _unique[0] += 1
    return f"{prefix}-{os.getpid()}-{_unique[0]}"


class Recorder:
    """Collects callback values; `wait(n)` waits (bounded) until n have arrived."""

    def __init__(self) -> None:
        self.values: List[Any] = []
        self._event = asyncio.Event()

    def __call__(self, value: Any) -> None:
        self.values.append(value)
        self._event.set()

    async def wait(self, count: int = 1, timeout: float = EVENT_TIMEOUT) -> List[Any]:
        async def until() -> None:
            while len(self.values) < count:
                self._event.clear()
                await self._event.wait()

        await asyncio.wait_for(until(), timeout)
        return self.values


class ThreadRecorder:
    """A Recorder for callbacks on other threads."""

    def __init__(self) -> None:
        self.values: List[Any] = []
        self._condition = threading.Condition()

    def __call__(self, value: Any) -> None:
        with self._condition:
            self.values.append(value)
            self._condition.notify_all()

    def wait(self, count: int = 1, timeout: float = EVENT_TIMEOUT) -> List[Any]:
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.values) >= count, timeout):
                raise TimeoutError(f"{len(self.values)} of {count} values after {timeout} s")
            return list(self.values)


def wait_until(predicate: Callable[[], bool], timeout: float = EVENT_TIMEOUT) -> None:
    """For synchronous tests: polls `predicate` (bounded) every 10 ms."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.01)


def paho_client(port: int, client_id: str, v5: bool = True) -> Any:
    """A connected paho-mqtt client with its network loop running."""
    import paho.mqtt.client as paho

    protocol = paho.MQTTv5 if v5 else paho.MQTTv311
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(EVENT_TIMEOUT):
        raise TimeoutError("paho did not connect")
    return client
