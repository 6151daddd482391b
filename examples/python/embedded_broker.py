"""An MQTT broker inside the Python process, with a client talking to it."""

import asyncio

import mqttkit


async def main() -> None:
    async with mqttkit.Broker(port=0, users=[("alice", "secret")], allow_anonymous=False) as broker:
        print("broker listening on", broker.url)
        async with mqttkit.Client(broker.url, client_id="py-example-embedded", username="alice", password="secret") as client:
            await client.subscribe("greetings/#", qos=1)
            await client.publish("greetings/world", b"hello from the embedded broker", retain=True)
            message = await client.messages().next(timeout=5)
            print(f"{message.topic}: {message.payload.decode()} (retained: {message.retain})")
        stats = broker.stats()
        print(f"broker counters: {stats['connections_total']} connection(s), {stats['messages_in']} message(s) in")


asyncio.run(main())
