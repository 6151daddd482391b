"""Subscribe, publish and receive with the asyncio client."""

import asyncio
import os

import mqttkit


async def main() -> None:
    url = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
    async with mqttkit.Client(url, client_id="py-example-pubsub") as client:
        await client.subscribe("sensors/+/temp", qos=1)
        await client.publish("sensors/kitchen/temp", b"21.5", qos=1)
        async for message in client.messages():
            print(f"{message.topic}: {message.payload.decode()} (qos {message.qos})")
            break


asyncio.run(main())
