"""The asyncio client against Mosquitto: every operation in both forms, every event."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List, Optional

import pytest

import mqttkit
from conftest import EVENT_TIMEOUT, Mosquitto, Recorder, unique


async def test_connect_and_context_manager(broker: Mosquitto) -> None:
    connected = Recorder()
    client = mqttkit.Client(broker.url, client_id=unique(), on_connect=connected)
    async with client:
        assert client.is_connected
        (result,) = await connected.wait()
        assert isinstance(result, mqttkit.ConnectResult)
        assert result.reason_code == 0 and not result.session_present
    assert not client.is_connected and client.closed


async def test_connect_returns_the_connack(broker: Mosquitto) -> None:
    client = mqttkit.Client(broker.url, client_id=unique())
    try:
        result = await client.connect()
        assert result.reason_code == 0
        with pytest.raises(mqttkit.AlreadyConnectedError):
            await client.connect()
    finally:
        await client.disconnect()
        await client.close()


async def test_connect_nowait_reports_on_connect(broker: Mosquitto) -> None:
    connected = Recorder()
    client = mqttkit.Client(broker.url, client_id=unique(), on_connect=connected)
    await client.connect_nowait()
    await connected.wait()
    await client.disconnect()
    await client.close()


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_publish_waits_for_the_ack_and_message_arrives(broker: Mosquitto, qos: int) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        topic = f"{unique('pub')}/x"
        granted = await client.subscribe(topic, qos=qos)
        assert granted.reason_codes == [qos] and granted.is_success
        result = await client.publish(topic, b"payload", qos=qos)
        assert isinstance(result, mqttkit.PublishResult)
        assert result.qos == qos and result.is_success
        assert (result.packet_id is None) == (qos == 0)
        message = await client.messages().next(EVENT_TIMEOUT)
        assert message.topic == topic and message.payload == b"payload" and message.qos == qos
        assert type(message.payload) is bytes


async def test_publish_nowait_reports_acks_as_events(broker: Mosquitto) -> None:
    published = Recorder()
    async with mqttkit.Client(broker.url, client_id=unique(), on_publish=published) as client:
        topic = unique("nowait")
        for i in range(10):
            await client.publish_nowait(topic, b"%d" % i, qos=1)
        results = await published.wait(10)
        assert all(result.qos == 1 and result.is_success for result in results)
        assert len({result.packet_id for result in results}) == 10


async def test_publish_nowait_completes_without_await(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        topic = unique("noawait")
        await client.subscribe(topic)
        client.publish_nowait(topic, b"fire and forget")
        message = await client.messages().next(EVENT_TIMEOUT)
        assert message.payload == b"fire and forget"


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"bytes", b"bytes"),
        (bytearray(b"bytearray"), b"bytearray"),
        (memoryview(b"xxmemoryview")[2:], b"memoryview"),
        ("text ü", "text ü".encode()),
        (b"", b""),
    ],
)
async def test_payload_types(broker: Mosquitto, payload: Any, expected: bytes) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        topic = unique("payload")
        await client.subscribe(topic)
        await client.publish(topic, payload)
        message = await client.messages().next(EVENT_TIMEOUT)
        assert message.payload == expected


async def test_invalid_payload_type_is_refused(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        with pytest.raises(mqttkit.InvalidArgumentError):
            await client.publish("t", 12345)  # type: ignore[arg-type]


async def test_invalid_topic_raises_at_once_in_both_forms(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        with pytest.raises(mqttkit.InvalidArgumentError):
            await client.publish("a/#", b"x")
        with pytest.raises(mqttkit.InvalidArgumentError):
            client.publish_nowait("a/+", b"x")
        with pytest.raises(mqttkit.InvalidArgumentError):
            await client.subscribe("a/#/b")
        with pytest.raises(mqttkit.InvalidArgumentError):
            await client.publish("a", b"x", qos=3)


async def test_properties_round_trip(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        topic = unique("props")
        await client.subscribe(topic, qos=1, subscription_identifier=42)
        await client.publish(
            topic,
            b"{}",
            qos=1,
            properties=mqttkit.PublishProperties(
                content_type="application/json",
                response_topic="reply/here",
                correlation_data=b"corr",
                payload_format_utf8=True,
                message_expiry_interval=60,
                user_properties=[("a", "1"), ("a", "2"), ("b", "3")],
            ),
        )
        message = await client.messages().next(EVENT_TIMEOUT)
        props = message.properties
        assert props.content_type == "application/json"
        assert props.response_topic == "reply/here"
        assert props.correlation_data == b"corr"
        assert props.payload_format_utf8 is True
        assert props.subscription_identifiers == [42]
        assert props.message_expiry_interval is not None and props.message_expiry_interval <= 60
        assert props.user_properties == [("a", "1"), ("a", "2"), ("b", "3")]
        assert message.user_properties == props.user_properties


async def test_subscribe_forms(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        base = unique("forms")
        result = await client.subscribe(
            [f"{base}/a", (f"{base}/b", 1), mqttkit.Subscription(f"{base}/c", qos=2, no_local=True, retain_handling=2)]
        )
        assert result.reason_codes == [0, 1, 2]
        result = await client.subscribe((f"{base}/d", 1))
        assert result.reason_codes == [1]
        unsub = await client.unsubscribe([f"{base}/a", f"{base}/b", f"{base}/c"])
        assert isinstance(unsub, mqttkit.UnsubscribeResult) and unsub.reason_codes == [0, 0, 0]
        unsub = await client.unsubscribe(f"{base}/nothing")
        assert unsub.reason_codes == [0x11]


async def test_no_local(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        topic = unique("nolocal")
        await client.subscribe(mqttkit.Subscription(topic, no_local=True))
        await client.subscribe(f"{topic}/probe")
        await client.publish(topic, b"own")
        await client.publish(f"{topic}/probe", b"probe")
        message = await client.messages().next(EVENT_TIMEOUT)
        assert message.topic == f"{topic}/probe"


async def test_subscribe_and_unsubscribe_nowait_report_events(broker: Mosquitto) -> None:
    subscribed, unsubscribed = Recorder(), Recorder()
    async with mqttkit.Client(
        broker.url, client_id=unique(), on_subscribe=subscribed, on_unsubscribe=unsubscribed
    ) as client:
        topic = unique("subnowait")
        await client.subscribe_nowait(topic, qos=1)
        (sub,) = await subscribed.wait()
        assert isinstance(sub, mqttkit.SubscribeResult) and sub.reason_codes == [1]
        await client.unsubscribe_nowait(topic)
        await client.unsubscribe_nowait([topic, f"{topic}/2"])
        first, second = await unsubscribed.wait(2)
        assert first.reason_codes == [0] and second.reason_codes == [0x11, 0x11]


async def test_ping_in_both_forms(broker: Mosquitto) -> None:
    pongs = Recorder()
    async with mqttkit.Client(broker.url, client_id=unique(), on_ping_response=pongs) as client:
        result = await client.ping(timeout=5)
        assert isinstance(result, mqttkit.PingResult) and result.round_trip >= 0
        await client.ping_nowait()
        (pong,) = await pongs.wait()
        assert isinstance(pong, mqttkit.PingResult)


async def test_disconnect_in_both_forms(broker: Mosquitto) -> None:
    disconnected = Recorder()
    client = mqttkit.Client(broker.url, client_id=unique(), on_disconnect=disconnected)
    await client.connect()
    await client.disconnect()
    assert not client.is_connected
    await client.connect()
    await client.disconnect_nowait()
    infos = await disconnected.wait(2)
    assert all(isinstance(info, mqttkit.DisconnectInfo) and not info.by_server for info in infos)
    await client.close()


async def test_disconnect_with_will_publishes_the_will(broker: Mosquitto) -> None:
    will_topic = unique("will")
    async with mqttkit.Client(broker.url, client_id=unique()) as watcher:
        await watcher.subscribe(will_topic, qos=1)
        client = mqttkit.Client(
            broker.url, client_id=unique(), will=mqttkit.Will(will_topic, b"gone", qos=1, content_type="text/plain")
        )
        await client.connect()
        await client.disconnect(reason_code=0x04, reason_string="bye")
        await client.close()
        message = await watcher.messages().next(EVENT_TIMEOUT)
        assert message.topic == will_topic and message.payload == b"gone"
        assert message.properties.content_type == "text/plain"


async def test_messages_filter_and_backlog(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        base = unique("filter")
        await client.subscribe(f"{base}/#")
        # Published before any stream exists: kept, in order, for the first matching stream.
        for name in ("a", "b", "a", "c"):
            await client.publish(f"{base}/{name}", name.encode(), qos=1)
        await client.ping()
        only_a = client.messages(f"{base}/a")
        assert [(await only_a.next(EVENT_TIMEOUT)).payload for _ in range(2)] == [b"a", b"a"]
        rest = client.messages()
        assert [(await rest.next(EVENT_TIMEOUT)).payload for _ in range(2)] == [b"b", b"c"]


async def test_message_stream_ends_when_the_client_closes(broker: Mosquitto) -> None:
    client = mqttkit.Client(broker.url, client_id=unique())
    await client.connect()
    stream = client.messages()

    async def consume() -> List[mqttkit.Message]:
        return [message async for message in stream]

    task = asyncio.ensure_future(consume())
    await client.disconnect()
    await client.close()
    assert await asyncio.wait_for(task, EVENT_TIMEOUT) == []


async def test_manual_ack(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique(), auto_ack=False) as client:
        topic = unique("ack")
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"1", qos=1)
        await client.publish(topic, b"0", qos=0)
        stream = client.messages()
        first = await stream.next(EVENT_TIMEOUT)
        assert first.needs_ack
        first.ack()
        second = await stream.next(EVENT_TIMEOUT)
        assert not second.needs_ack
        second.ack()  # a no-op for QoS 0


async def test_sync_and_async_callbacks(broker: Mosquitto) -> None:
    seen: List[bytes] = []
    done = asyncio.Event()

    async def on_message(message: mqttkit.Message) -> None:
        await asyncio.sleep(0)
        seen.append(message.payload)
        if len(seen) == 3:
            done.set()

    async with mqttkit.Client(broker.url, client_id=unique(), on_message=on_message) as client:
        topic = unique("cb")
        await client.subscribe(topic, qos=1)
        for i in range(3):
            await client.publish(topic, b"%d" % i, qos=1)
        await asyncio.wait_for(done.wait(), EVENT_TIMEOUT)
        assert seen == [b"0", b"1", b"2"]


async def test_callback_exceptions_are_logged_and_reported(broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    errors = Recorder()

    def on_message(message: mqttkit.Message) -> None:
        raise RuntimeError(f"boom {message.payload!r}")

    async def on_ping(result: mqttkit.PingResult) -> None:
        raise KeyError("async boom")

    async with mqttkit.Client(
        broker.url, client_id=unique(), on_message=on_message, on_error=errors, on_ping_response=on_ping
    ) as client:
        topic = unique("raise")
        await client.subscribe(topic)
        with caplog.at_level(logging.ERROR, logger="mqttkit"):
            await client.publish(topic, b"x")
            await client.ping_nowait()
            first, second = await errors.wait(2)
        assert {type(first), type(second)} == {RuntimeError, KeyError}
        assert "on_message" in caplog.text and "on_ping_response" in caplog.text
        # The client goes on.
        assert (await client.publish(topic, b"y", qos=1)).is_success


async def test_client_calls_from_inside_callbacks(broker: Mosquitto) -> None:
    results = Recorder()
    topic = unique("inside")

    async def on_message(message: mqttkit.Message) -> None:
        if message.payload == b"ping":
            results(await client.publish(f"{topic}/reply", b"pong", qos=1))

    def on_subscribe(result: mqttkit.SubscribeResult) -> None:
        client.publish_nowait(topic, b"ping")

    client = mqttkit.Client(broker.url, client_id=unique(), on_message=on_message, on_subscribe=on_subscribe)
    async with client:
        await client.subscribe(f"{topic}/reply")
        await client.subscribe_nowait(topic)
        (ack,) = await results.wait()
        assert ack.is_success


async def test_events_cross_in_batches(broker: Mosquitto) -> None:
    count = 2000
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        batches: List[int] = []
        original = client._dispatch

        def counting(batch: List[Any]) -> None:
            batches.append(len(batch))
            original(batch)

        loop = asyncio.get_running_loop()
        client._native.set_deliver(lambda batch: loop.call_soon_threadsafe(counting, batch))
        topic = unique("batch")
        await client.subscribe(topic)
        for i in range(count):
            client.publish_nowait(topic, b"%d" % i)
        stream = client.messages()
        received = [await stream.next(EVENT_TIMEOUT) for _ in range(count)]
        assert [m.payload for m in received] == [b"%d" % i for i in range(count)]
        assert sum(batches) >= count
        assert len(batches) < count, "several events per loop wake-up"


async def test_slow_consumer_loses_nothing(broker: Mosquitto) -> None:
    count = 20000
    async with mqttkit.Client(broker.url, client_id=unique()) as receiver:
        topic = unique("slow")
        await receiver.subscribe(topic, qos=1)
        async with mqttkit.Client(broker.url, client_id=unique()) as sender:
            for i in range(count):
                await sender.publish_nowait(topic, i.to_bytes(4, "big"), qos=1)
            stream = receiver.messages()
            for i in range(count):
                message = await stream.next(EVENT_TIMEOUT)
                assert int.from_bytes(message.payload, "big") == i
                if i % 5000 == 0:
                    await asyncio.sleep(0.05)  # a deliberately slow consumer, not a wait for an event


async def test_timeout_on_a_silent_server(silent_port: int) -> None:
    client = mqttkit.Client(f"mqtt://127.0.0.1:{silent_port}", client_id=unique(), reconnect=False)
    with pytest.raises(mqttkit.MqttTimeoutError) as caught:
        await client.connect(timeout=0.3)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.operation == "connect"
    await client.close()


async def test_per_call_timeout(broker: Mosquitto, silent_port: int) -> None:
    # A publish waits in the offline buffer of a client that is not connected: its ack
    # cannot arrive, so the per-call timeout applies.
    client = mqttkit.Client(f"mqtt://127.0.0.1:{silent_port}", client_id=unique())
    await client.connect_nowait()
    with pytest.raises(mqttkit.MqttTimeoutError):
        await client.publish("t", b"x", qos=1, timeout=0.2)
    with pytest.raises(mqttkit.MqttTimeoutError):
        await client.subscribe("t", timeout=0.2)
    with pytest.raises(mqttkit.MqttTimeoutError):
        await client.unsubscribe("t", timeout=0.2)
    await client.close()


async def test_cancelling_an_awaiting_task(silent_port: int) -> None:
    client = mqttkit.Client(f"mqtt://127.0.0.1:{silent_port}", client_id=unique())
    await client.connect_nowait()
    task = asyncio.ensure_future(client.publish("t", b"x", qos=1))
    await asyncio.sleep(0)  # let the task start its wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The client is still usable.
    with pytest.raises(mqttkit.MqttTimeoutError):
        await client.publish("t", b"y", qos=1, timeout=0.1)
    await client.close()


async def test_connection_refused_by_the_network() -> None:
    from conftest import free_port

    client = mqttkit.Client(f"mqtt://127.0.0.1:{free_port()}", client_id=unique(), reconnect=False)
    with pytest.raises(mqttkit.NetworkError) as caught:
        await client.connect(timeout=5)
    assert isinstance(caught.value, ConnectionError)
    await client.close()


async def test_not_connected_without_offline_buffer() -> None:
    client = mqttkit.Client("mqtt://127.0.0.1:1", client_id=unique(), offline_buffer=False)
    with pytest.raises(mqttkit.NotConnectedError):
        await client.publish("t", b"x", qos=1)
    await client.close()


async def test_operations_after_close_fail(broker: Mosquitto) -> None:
    client = mqttkit.Client(broker.url, client_id=unique())
    await client.connect()
    await client.disconnect()
    await client.close()
    with pytest.raises(mqttkit.ClientClosedError):
        await client.publish("t", b"x")
    await client.close()  # idempotent


async def test_re_authenticate_without_authenticator_fails(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        with pytest.raises(mqttkit.InvalidArgumentError, match="authenticator"):
            await client.re_authenticate()
        # The fire-and-forget form fails at once too: nothing could report it later.
        with pytest.raises(mqttkit.InvalidArgumentError, match="authenticator"):
            client.re_authenticate_nowait()


async def test_auth_continue_on_mqtt_311_is_refused(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique(), protocol_version="3.1.1") as client:
        with pytest.raises(mqttkit.InvalidArgumentError):
            await client.auth_continue("SCRAM-SHA-256", b"data")


async def test_mqtt_311(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique(), protocol_version="3.1.1", keep_alive=30) as client:
        topic = unique("v311")
        await client.subscribe(topic, qos=2)
        await client.publish(topic, "v3", qos=2)
        message = await client.messages().next(EVENT_TIMEOUT)
        assert message.payload == b"v3" and message.qos == 2


async def test_reconnect_after_broker_restart(own_broker: Mosquitto) -> None:
    lost, attempts, connected = Recorder(), Recorder(), Recorder()
    client = mqttkit.Client(
        own_broker.url,
        client_id=unique(),
        reconnect=mqttkit.ReconnectPolicy(initial_delay=0.05, max_delay=0.2),
        on_connection_lost=lost,
        on_reconnect_attempt=attempts,
        on_connect=connected,
    )
    async with client:
        topic = unique("reconnect")
        await client.subscribe(topic, qos=1)
        await connected.wait(1)
        own_broker.stop()
        (error,) = await lost.wait(1)
        assert isinstance(error, mqttkit.MqttError)
        (attempt,) = (await attempts.wait(1))[:1]
        assert isinstance(attempt, mqttkit.ReconnectAttempt) and attempt.attempt >= 1
        own_broker.start()
        await connected.wait(2)
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"again", qos=1)
        message = await client.messages().next(EVENT_TIMEOUT)
        assert message.payload == b"again"


async def test_logging_bridge(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("mqttkit")
    with caplog.at_level(logging.DEBUG, logger="mqttkit"):
        mqttkit.refresh_log_level()
        mqttkit._mqttkit.emit_log("debug", "hello from tracing")
        mqttkit._mqttkit.emit_log("trace", "too verbose")
    assert any("hello from tracing" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    assert not any("too verbose" in r.getMessage() for r in caplog.records)
    logger.setLevel(logging.NOTSET)
    mqttkit.refresh_log_level()


async def test_event_names_cover_every_callback() -> None:
    client = mqttkit.Client("mqtt://127.0.0.1:1", client_id=unique())
    for name in mqttkit._mqttkit.event_names():
        assert hasattr(client, f"on_{name}")
    with pytest.raises(TypeError):
        mqttkit.Client("mqtt://127.0.0.1:1", on_nonsense=print)
    await client.close()


async def test_awaitables_resolve_on_the_calling_loop(broker: Mosquitto) -> None:
    """A client used from an event loop on another thread resolves there."""
    import threading

    results: List[Any] = []

    async def on_other_loop() -> None:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            results.append(await client.publish("other/loop", b"x", qos=1))
            results.append(threading.current_thread().name)

    thread = threading.Thread(target=lambda: asyncio.run(on_other_loop()), name="other-loop")
    await asyncio.get_running_loop().run_in_executor(None, lambda: (thread.start(), thread.join(EVENT_TIMEOUT)))
    assert isinstance(results[0], mqttkit.PublishResult) and results[1] == "other-loop"


def test_works_with_uvloop(broker: Mosquitto) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> bytes:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            topic = unique("uvloop")
            await client.subscribe(topic, qos=1)
            await client.publish(topic, b"uv", qos=1)
            return (await client.messages().next(EVENT_TIMEOUT)).payload

    assert uvloop.run(main()) == b"uv"


async def test_call_order_is_kept_when_the_command_queue_is_full(broker: Mosquitto) -> None:
    """Fire-and-forget calls that are not awaited, mixed with awaited ones, reach the broker
    in call order even when they must wait for room in a tiny command queue."""
    count = 3000
    async with mqttkit.Client(broker.url, client_id=unique()) as receiver:
        topic = unique("order")
        await receiver.subscribe(topic, qos=1)
        async with mqttkit.Client(broker.url, client_id=unique(), command_queue_size=2) as sender:
            for i in range(count):
                payload = i.to_bytes(4, "big")
                if i % 500 == 499:
                    # Starts while earlier unawaited calls still wait for room.
                    await sender.publish(topic, payload, qos=1)
                else:
                    sender.publish_nowait(topic, payload, qos=1)
            stream = receiver.messages()
            got = [int.from_bytes((await stream.next(EVENT_TIMEOUT)).payload, "big") for _ in range(count)]
            assert got == list(range(count))


async def _read_packet(reader: asyncio.StreamReader) -> Optional[bytes]:
    try:
        header = await reader.readexactly(1)
        length, shift = 0, 0
        while True:
            byte = (await reader.readexactly(1))[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return header + await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


async def test_pending_operations_cleared_when_the_session_is_lost() -> None:
    """A scripted server answers a QoS 2 PUBLISH with PUBREC, drops the connection before
    PUBCOMP, and accepts the reconnect without a session: the client fails the publish (it
    cannot be completed, and sending it again could duplicate it) and reports
    on_pending_operations_cleared."""
    connections: List[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await _read_packet(reader)  # CONNECT
        writer.write(b"\x20\x03\x00\x00\x00")  # CONNACK: success, no session present
        await writer.drain()
        if len(connections) == 1:
            publish = await _read_packet(reader)
            assert publish is not None and publish[0] >> 4 == 3
            topic_length = int.from_bytes(publish[1:3], "big")  # header byte, then the body
            packet_id = publish[3 + topic_length : 5 + topic_length]
            writer.write(b"\x50\x02" + packet_id)  # PUBREC
            await writer.drain()
            await _read_packet(reader)  # PUBREL, never completed
            writer.close()
            return
        while await _read_packet(reader) is not None:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cleared, lost = Recorder(), Recorder()
    client = mqttkit.Client(
        f"mqtt://127.0.0.1:{port}",
        client_id=unique(),
        reconnect=mqttkit.ReconnectPolicy(initial_delay=0.05, max_delay=0.1),
        on_pending_operations_cleared=cleared,
        on_connection_lost=lost,
    )
    try:
        await client.connect()
        with pytest.raises(mqttkit.ConnectionLostError):
            await client.publish("t", b"lost", qos=2, timeout=EVENT_TIMEOUT)
        (count,) = await cleared.wait(1)
        assert count >= 1
        assert lost.values
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
