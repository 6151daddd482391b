"""Interop with paho-mqtt as the peer, through Mosquitto."""

from __future__ import annotations

import threading
from typing import List

import mqttkit
from conftest import EVENT_TIMEOUT, Mosquitto, Recorder, paho_client, unique


async def test_paho_publishes_mqttkit_receives(broker: Mosquitto) -> None:
    topic = unique("paho-to-kit")
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        await client.subscribe(f"{topic}/#", qos=2)
        paho = paho_client(broker.port, unique("paho"))
        try:
            for qos in (0, 1, 2):
                info = paho.publish(f"{topic}/{qos}", b"paho %d" % qos, qos=qos)
                info.wait_for_publish(EVENT_TIMEOUT)
            stream = client.messages()
            received = {}
            for _ in range(3):
                message = await stream.next(EVENT_TIMEOUT)
                received[message.topic] = (message.payload, message.qos)
            assert received == {f"{topic}/{q}": (b"paho %d" % q, q) for q in (0, 1, 2)}
        finally:
            paho.loop_stop()
            paho.disconnect()


async def test_mqttkit_publishes_paho_receives(broker: Mosquitto) -> None:
    import paho.mqtt.client as paho_mqtt
    from paho.mqtt.properties import Properties

    topic = unique("kit-to-paho")
    got: List[paho_mqtt.MQTTMessage] = []
    arrived = threading.Event()
    subscribed = threading.Event()
    paho = paho_client(broker.port, unique("paho"))

    def on_message(_client: object, _userdata: object, message: paho_mqtt.MQTTMessage) -> None:
        got.append(message)
        if len(got) == 3:
            arrived.set()

    paho.on_message = on_message
    paho.on_subscribe = lambda *args: subscribed.set()
    try:
        paho.subscribe(topic, qos=2)
        assert subscribed.wait(EVENT_TIMEOUT)
        async with mqttkit.Client(broker.url, client_id=unique(), protocol_version="3.1.1") as v3, mqttkit.Client(
            broker.url, client_id=unique()
        ) as v5:
            await v3.publish(topic, b"v311", qos=1)
            await v5.publish(
                topic, b"v5", qos=2, properties=mqttkit.PublishProperties(user_properties=[("k", "v")])
            )
            await v5.publish(topic, "text", qos=0)
        assert arrived.wait(EVENT_TIMEOUT)
        # Ordered per QoS flow only: compare as a set.
        assert sorted(m.payload for m in got) == [b"text", b"v311", b"v5"]
        props: Properties = next(m for m in got if m.payload == b"v5").properties
        assert props.UserProperty == [("k", "v")]
    finally:
        paho.loop_stop()
        paho.disconnect()


async def test_many_messages_in_order_from_paho(broker: Mosquitto) -> None:
    count = 5000
    topic = unique("paho-burst")
    done = Recorder()
    received: List[int] = []

    def on_message(message: mqttkit.Message) -> None:
        received.append(int(message.payload))
        if len(received) == count:
            done(True)

    async with mqttkit.Client(broker.url, client_id=unique(), on_message=on_message) as client:
        await client.subscribe(topic, qos=1)
        paho = paho_client(broker.port, unique("paho"))
        try:
            for i in range(count):
                paho.publish(topic, b"%d" % i, qos=1)
            await done.wait(1, timeout=30)
        finally:
            paho.loop_stop()
            paho.disconnect()
    assert received == list(range(count))
