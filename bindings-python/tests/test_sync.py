"""The blocking client, mqttkit.sync.Client."""

from __future__ import annotations

import threading
from typing import Any, List

import pytest

import mqttkit
import mqttkit.sync
from conftest import EVENT_TIMEOUT, Mosquitto, ThreadRecorder, unique


def test_blocking_operations(broker: Mosquitto) -> None:
    with mqttkit.sync.Client(broker.url, client_id=unique()) as client:
        assert client.is_connected
        topic = unique("sync")
        assert client.subscribe(topic, qos=2).reason_codes == [2]
        result = client.publish(topic, b"blocking", qos=2)
        assert isinstance(result, mqttkit.PublishResult) and result.qos == 2
        message = client.messages(timeout=EVENT_TIMEOUT).next(EVENT_TIMEOUT)
        assert message is not None and message.payload == b"blocking"
        assert client.ping().round_trip >= 0
        assert client.unsubscribe(topic).reason_codes == [0]
    assert client.closed and not client.is_connected


def test_nowait_forms_report_on_the_callback_thread(broker: Mosquitto) -> None:
    events = ThreadRecorder()
    threads: List[str] = []

    def record(value: Any) -> None:
        threads.append(threading.current_thread().name)
        events(value)

    with mqttkit.sync.Client(
        broker.url,
        client_id=unique(),
        on_publish=record,
        on_subscribe=record,
        on_unsubscribe=record,
        on_ping_response=record,
    ) as client:
        topic = unique("syncnowait")
        client.subscribe_nowait(topic, qos=1)
        client.publish_nowait(topic, b"x", qos=1)
        client.ping_nowait()
        client.unsubscribe_nowait(topic)
        values = events.wait(4)
        kinds = {type(value) for value in values}
        assert kinds == {mqttkit.SubscribeResult, mqttkit.PublishResult, mqttkit.PingResult, mqttkit.UnsubscribeResult}
        assert set(threads) == {"mqttkit-callbacks"}


def test_message_iteration_and_timeout(broker: Mosquitto) -> None:
    with mqttkit.sync.Client(broker.url, client_id=unique()) as client:
        topic = unique("iter")
        client.subscribe(topic, qos=1)
        for i in range(100):
            client.publish_nowait(topic, b"%d" % i, qos=1)
        received = []
        for message in client.messages(timeout=EVENT_TIMEOUT):
            received.append(message.payload)
            if len(received) == 100:
                break
        assert received == [b"%d" % i for i in range(100)]
        assert list(client.messages(timeout=0.05)) == []


def test_callbacks_may_call_the_client(broker: Mosquitto) -> None:
    replies = ThreadRecorder()
    topic = unique("synccb")

    def on_message(message: mqttkit.Message) -> None:
        if message.topic == topic:
            replies(client.publish(f"{topic}/reply", b"pong", qos=1))

    client = mqttkit.sync.Client(broker.url, client_id=unique(), on_message=on_message)
    with client:
        client.subscribe(topic)
        client.publish(topic, b"ping")
        (ack,) = replies.wait(1)
        assert ack.is_success


def test_async_callback_on_the_blocking_client(broker: Mosquitto) -> None:
    seen = ThreadRecorder()

    async def on_message(message: mqttkit.Message) -> None:
        seen(message.payload)

    with mqttkit.sync.Client(broker.url, client_id=unique(), on_message=on_message) as client:
        topic = unique("syncasync")
        client.subscribe(topic)
        client.publish(topic, b"async")
        assert seen.wait(1) == [b"async"]


def test_callback_exception_goes_to_on_error(broker: Mosquitto) -> None:
    errors = ThreadRecorder()

    def on_message(message: mqttkit.Message) -> None:
        raise ValueError("bad callback")

    with mqttkit.sync.Client(broker.url, client_id=unique(), on_message=on_message, on_error=errors) as client:
        topic = unique("syncerr")
        client.subscribe(topic)
        client.publish(topic, b"x")
        (error,) = errors.wait(1)
        assert isinstance(error, ValueError)
        assert client.publish(topic, b"still alive", qos=1).is_success


def test_blocking_timeout(silent_port: int) -> None:
    client = mqttkit.sync.Client(f"mqtt://127.0.0.1:{silent_port}", client_id=unique(), reconnect=False)
    with pytest.raises(mqttkit.MqttTimeoutError):
        client.connect(timeout=0.2)
    client.close()


def test_blocking_calls_from_many_threads(broker: Mosquitto) -> None:
    with mqttkit.sync.Client(broker.url, client_id=unique()) as client:
        topic = unique("threads")
        failures: List[BaseException] = []

        def work() -> None:
            try:
                for _ in range(50):
                    assert client.publish(topic, b"x", qos=1).is_success
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(EVENT_TIMEOUT)
        assert not failures


def test_the_gil_is_released_while_waiting(silent_port: int) -> None:
    client = mqttkit.sync.Client(f"mqtt://127.0.0.1:{silent_port}", client_id=unique(), reconnect=False)
    progress = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            progress[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        with pytest.raises(mqttkit.MqttTimeoutError):
            client.connect(timeout=0.5)
        during = progress[0]
    finally:
        stop.set()
        spinner.join()
        client.close()
    # Without the GIL released, the spinner would only run in 5 ms switch intervals.
    assert during > 100_000
