"""Every operation in its wait-for-acknowledgement form, and what it returns or raises."""

import asyncio
import math
import os

import mqttkit


async def main() -> None:
    url = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
    async with mqttkit.Client(url, client_id="py-example-ack", timeouts="local_network") as client:
        sub = await client.subscribe(["demo/ack/#", ("demo/other", 2)], qos=1)
        print("SUBACK reason codes:", sub.reason_codes)

        for qos in (0, 1, 2):
            result = await client.publish("demo/ack/value", f"qos {qos}", qos=qos, timeout=5)
            print(f"QoS {qos} acknowledged: packet id {result.packet_id}, reason {result.reason_code}")

        props = mqttkit.PublishProperties(content_type="text/plain", user_properties=[("source", "example")])
        await client.publish("demo/ack/props", "with properties", qos=1, properties=props)

        # Started together, acknowledged concurrently, sent in call order; no time limit.
        results = await asyncio.gather(
            *(client.publish("demo/ack/burst", str(i), qos=1, timeout=math.inf) for i in range(100))
        )
        print("burst acknowledged, packet ids", results[0].packet_id, "...", results[-1].packet_id)

        pong = await client.ping()
        print(f"ping round trip: {pong.round_trip * 1000:.2f} ms")

        unsub = await client.unsubscribe(["demo/ack/#", "demo/other"])
        print("UNSUBACK reason codes:", unsub.reason_codes)

        try:
            await client.publish("not/a/#/topic", b"x")
        except mqttkit.InvalidArgumentError as error:
            print(f"refused: {error} (kind {error.kind}, code {error.code})")

    silent = mqttkit.Client("mqtt://127.0.0.1:9", client_id="py-example-timeout", reconnect=False)
    try:
        await silent.connect(timeout=2)
    except mqttkit.MqttError as error:
        print(f"connect failed: {type(error).__name__}, recoverable={error.is_recoverable()}")
    finally:
        await silent.close()


asyncio.run(main())
