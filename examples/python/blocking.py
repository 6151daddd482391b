"""The blocking client for scripts and threads: calls block, callbacks run on a thread."""

import os
import threading

import mqttkit
import mqttkit.sync


def main() -> None:
    url = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
    acked = threading.Event()

    def on_publish(result: mqttkit.PublishResult) -> None:
        print("fire-and-forget publish acknowledged, packet", result.packet_id)
        acked.set()

    with mqttkit.sync.Client(url, client_id="py-example-blocking", on_publish=on_publish) as client:
        client.subscribe("demo/blocking", qos=1)
        result = client.publish("demo/blocking", "hello from a script", qos=1, timeout=5)
        print("published, reason code", result.reason_code)
        for message in client.messages(timeout=5):
            print("received:", message.payload.decode())
            break
        client.publish_nowait("demo/blocking", b"no wait", qos=1)
        acked.wait(5)


main()
