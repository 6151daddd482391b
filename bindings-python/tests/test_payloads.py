"""Payload types: bytes (small: copied, large: sent from the object), str, bytearray,
memoryview and other buffers, each copied at most once; received payloads are ``bytes``
made once per message."""

from __future__ import annotations

import array
import gc

import pytest

import mqttkit
from conftest import EVENT_TIMEOUT, Mosquitto, unique

LARGE = 256 * 1024


def payload_cases() -> list[tuple[str, object, bytes]]:
    large = bytes(range(256)) * (LARGE // 256)
    numbers = array.array("H", range(1000))
    mutable = bytearray(b"abcdefghij" * 1000)
    text = "grüße ✓ " * 2000
    return [
        ("small bytes", b"small", b"small"),
        ("large bytes", large, large),
        ("empty", b"", b""),
        ("str", text, text.encode()),
        ("bytearray", mutable, bytes(mutable)),
        ("memoryview", memoryview(large)[1000:5000], large[1000:5000]),
        ("strided memoryview", memoryview(mutable)[::3], bytes(mutable)[::3]),
        ("array", numbers, numbers.tobytes()),
    ]


async def test_every_payload_type_round_trips(broker: Mosquitto) -> None:
    topic = unique("payloads")
    cases = payload_cases()
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        await client.subscribe(topic, qos=1)
        stream = client.messages()
        for _, payload, _ in cases:
            await client.publish(topic, payload, qos=1)  # type: ignore[arg-type]
        for name, _, expected in cases:
            message = await stream.next(EVENT_TIMEOUT)
            assert message.payload == expected, name


async def test_payload_is_taken_when_the_call_returns(broker: Mosquitto) -> None:
    # A bytearray changed, and a large bytes object dropped, right after a fire-and-forget
    # publish: what was given at the call is what arrives.
    topic = unique("taken")
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        await client.subscribe(topic, qos=1)
        stream = client.messages()
        buffer = bytearray(b"before")
        await client.publish_nowait(topic, buffer, qos=1)
        buffer[:] = b"after!"
        large = bytes([7]) * LARGE
        await client.publish_nowait(topic, large, qos=1)
        del large
        gc.collect()
        assert (await stream.next(EVENT_TIMEOUT)).payload == b"before"
        assert (await stream.next(EVENT_TIMEOUT)).payload == bytes([7]) * LARGE


async def test_received_payload_is_one_bytes_object(broker: Mosquitto) -> None:
    topic = unique("received")
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        await client.subscribe(topic)
        await client.publish(topic, b"x" * LARGE)
        message = await client.messages().next(EVENT_TIMEOUT)
        assert type(message.payload) is bytes
        # Made once when the message arrived: every access gives the same object.
        assert message.payload is message.payload


@pytest.mark.parametrize("bad", [42, ["a"], {"a": 1}, 1.5])
async def test_other_payload_types_are_refused(broker: Mosquitto, bad: object) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        with pytest.raises(mqttkit.InvalidArgumentError, match="payload must be bytes"):
            await client.publish("t", bad)  # type: ignore[arg-type]
        with pytest.raises(mqttkit.InvalidArgumentError, match=type(bad).__name__):
            client.publish_nowait("t", bad)  # type: ignore[arg-type]
