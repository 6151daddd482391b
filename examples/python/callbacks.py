"""Callbacks instead of iteration, fire-and-forget operations, and error reporting."""

import asyncio
import os

import mqttkit


async def main() -> None:
    url = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
    done = asyncio.Event()
    received: list[bytes] = []

    def on_connect(result: mqttkit.ConnectResult) -> None:
        print("connected, session present:", result.session_present)

    async def on_message(message: mqttkit.Message) -> None:
        received.append(message.payload)
        if len(received) == 100:
            done.set()

    def on_publish(result: mqttkit.PublishResult) -> None:
        if result.packet_id is not None and result.packet_id % 50 == 0:
            print("acknowledged packet", result.packet_id)

    def on_error(error: BaseException) -> None:
        print("error:", error)

    client = mqttkit.Client(url, client_id="py-example-callbacks", on_connect=on_connect, on_error=on_error)
    client.on_message = on_message
    client.on_publish = on_publish
    async with client:
        await client.subscribe("demo/callbacks", qos=1)
        for i in range(100):
            # Returns at once; awaiting it only waits while the client's queue is full.
            await client.publish_nowait("demo/callbacks", i.to_bytes(2, "big"), qos=1)
        await asyncio.wait_for(done.wait(), timeout=10)
    print("received", len(received), "messages, in order:", received == [i.to_bytes(2, "big") for i in range(100)])


asyncio.run(main())
