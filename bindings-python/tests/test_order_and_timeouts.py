"""Call order of concurrent wait-for-ack operations, and per-call timeouts of every
operation (``None``: the client's default, ``math.inf``: no limit)."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from typing import Iterator, List

import pytest

import mqttkit
from conftest import EVENT_TIMEOUT, Mosquitto, unique

COUNT = 400


async def test_gathered_publishes_arrive_in_call_order(broker: Mosquitto) -> None:
    # A command queue of 2 makes most publishes wait for room: they must still reach the
    # wire in the order the coroutines were started.
    topic = unique("order")
    async with mqttkit.Client(broker.url, client_id=unique()) as receiver:
        await receiver.subscribe(topic, qos=1)
        stream = receiver.messages()
        async with mqttkit.Client(broker.url, client_id=unique(), command_queue_size=2, max_inflight=8) as sender:
            results = await asyncio.gather(
                *(sender.publish(topic, i.to_bytes(4, "big"), qos=1) for i in range(COUNT))
            )
            assert all(result.is_success for result in results)
            received = [int.from_bytes((await stream.next(EVENT_TIMEOUT)).payload, "big") for _ in range(COUNT)]
    assert received == list(range(COUNT))


async def test_gathered_operations_of_different_kinds_keep_call_order(broker: Mosquitto) -> None:
    # subscribe, publish, unsubscribe, publish, started together: the first message is
    # received (the subscription came first), the second is not (the unsubscription came
    # before it); a final subscription on another topic proves the second one was sent.
    topic, marker = unique("kinds"), unique("marker")
    async with mqttkit.Client(broker.url, client_id=unique(), command_queue_size=1) as client:
        stream = client.messages()
        await asyncio.gather(
            client.subscribe(topic, qos=1),
            client.publish(topic, b"first", qos=1),
            client.unsubscribe(topic),
            client.publish(topic, b"second", qos=1),
            client.subscribe(marker, qos=1),
            client.publish(marker, b"marker", qos=1),
        )
        payloads = [(await stream.next(EVENT_TIMEOUT)).payload for _ in range(2)]
    assert payloads == [b"first", b"marker"]


def test_sync_publishes_from_threads_each_keep_their_order(broker: Mosquitto) -> None:
    topic = unique("sync-order")
    with mqttkit.sync.Client(broker.url, client_id=unique()) as receiver:
        receiver.subscribe(f"{topic}/#", qos=1)
        with mqttkit.sync.Client(broker.url, client_id=unique(), command_queue_size=2) as sender:

            def publish_all(name: str) -> None:
                for i in range(COUNT // 4):
                    sender.publish(f"{topic}/{name}", i.to_bytes(4, "big"), qos=1)

            threads = [threading.Thread(target=publish_all, args=(name,)) for name in "ab"]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(EVENT_TIMEOUT)
            iterator = receiver.messages(timeout=EVENT_TIMEOUT)
            seen: dict[str, List[int]] = {"a": [], "b": []}
            for _ in range(COUNT // 2):
                message = next(iterator)
                seen[message.topic.rsplit("/", 1)[1]].append(int.from_bytes(message.payload, "big"))
    assert seen == {"a": list(range(COUNT // 4)), "b": list(range(COUNT // 4))}


@pytest.fixture
def mute_broker() -> Iterator[int]:
    """A port whose server accepts CONNECT with a CONNACK (MQTT 5, success) and then never
    answers again: every wait for an acknowledgement can only end by its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    held: List[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)
            connection.settimeout(EVENT_TIMEOUT)
            try:
                connection.recv(4096)  # the CONNECT
                connection.sendall(bytes([0x20, 0x03, 0x00, 0x00, 0x00]))
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


async def test_every_wait_for_ack_operation_takes_a_timeout(mute_broker: int) -> None:
    async with mqttkit.Client(f"mqtt://127.0.0.1:{mute_broker}", client_id=unique(), reconnect=False) as client:
        calls = {
            "publish": client.publish("t", b"x", qos=1, timeout=0.1),
            "subscribe": client.subscribe("t", timeout=0.1),
            "unsubscribe": client.unsubscribe("t", timeout=0.1),
            "ping": client.ping(timeout=0.1),
            "auth": client.auth_continue("M", b"x", timeout=0.1),
        }
        for operation, call in calls.items():
            with pytest.raises(mqttkit.MqttTimeoutError) as caught:
                await call
            assert caught.value.timeout == pytest.approx(0.1), operation
        with pytest.raises(mqttkit.MqttTimeoutError):
            await client.re_authenticate("M", b"x", timeout=0.1)


def test_sync_operations_take_a_timeout(mute_broker: int) -> None:
    with mqttkit.sync.Client(f"mqtt://127.0.0.1:{mute_broker}", client_id=unique(), reconnect=False) as client:
        with pytest.raises(mqttkit.MqttTimeoutError):
            client.ping(timeout=0.1)
        with pytest.raises(mqttkit.MqttTimeoutError):
            client.publish("t", b"x", qos=2, timeout=0.1)
        with pytest.raises(mqttkit.MqttTimeoutError):
            client.auth_continue("M", timeout=0.1)


async def test_omitted_timeout_is_the_clients_default(mute_broker: int) -> None:
    timeouts = mqttkit.Timeouts(publish=0.15, ping=0.15, auth=0.15)
    url = f"mqtt://127.0.0.1:{mute_broker}"
    async with mqttkit.Client(url, client_id=unique(), reconnect=False, timeouts=timeouts) as client:
        for call in (client.ping(), client.publish("t", b"x", qos=1), client.re_authenticate("M")):
            with pytest.raises(mqttkit.MqttTimeoutError) as caught:
                await call
            assert caught.value.timeout == pytest.approx(0.15)


async def test_infinite_timeout_overrides_a_short_default(mute_broker: int) -> None:
    timeouts = mqttkit.Timeouts(publish=0.05, ping=0.05)
    url = f"mqtt://127.0.0.1:{mute_broker}"
    async with mqttkit.Client(url, client_id=unique(), reconnect=False, timeouts=timeouts) as client:
        for call in (client.ping(timeout=math.inf), client.publish("t", b"x", qos=1, timeout=math.inf)):
            # Still waiting well after the client's default would have given up: only
            # asyncio's own limit ends the wait.
            with pytest.raises(asyncio.TimeoutError) as caught:
                await asyncio.wait_for(call, 0.5)
            assert not isinstance(caught.value, mqttkit.MqttError)


@pytest.mark.parametrize("bad", [-1.0, math.nan, -math.inf])
async def test_invalid_timeouts_are_refused(broker: Mosquitto, bad: float) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        with pytest.raises(mqttkit.InvalidArgumentError, match="timeout"):
            await client.publish("t", b"x", qos=1, timeout=bad)
        with pytest.raises(mqttkit.InvalidArgumentError, match="timeout"):
            await client.ping(timeout=bad)
        with pytest.raises(mqttkit.InvalidArgumentError, match="timeout"):
            await client.disconnect(timeout=bad)


async def test_timeout_presets(mute_broker: int) -> None:
    url = f"mqtt://127.0.0.1:{mute_broker}"
    for preset in ("internet", "local_network", "satellite", "none"):
        await mqttkit.Client(url, timeouts=preset).close()
    with pytest.raises(mqttkit.InvalidConfigurationError, match="local_network"):
        mqttkit.Client(url, timeouts="lan")
    # local_network: ping 2 s (the shortest limit of any preset).
    async with mqttkit.Client(url, client_id=unique(), reconnect=False, timeouts="local_network") as client:
        with pytest.raises(mqttkit.MqttTimeoutError) as caught:
            await client.ping()
        assert caught.value.operation == "ping" and caught.value.timeout == pytest.approx(2.0)
