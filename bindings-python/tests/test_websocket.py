"""WebSocket URLs (``ws://``, ``wss://`` with ``TlsOptions``): through a WebSocket front
(the ``websockets`` package, on the test's loop) that bridges each connection to Mosquitto's
plain MQTT listener."""

from __future__ import annotations

import asyncio
import ssl
from typing import AsyncIterator, Optional

import pytest
import trustme
from websockets.asyncio.server import Server, ServerConnection, serve

import mqttkit
from conftest import EVENT_TIMEOUT, Mosquitto, Recorder, unique


class Bridge:
    """A WebSocket server speaking the ``mqtt`` subprotocol; every connection is piped to
    the MQTT listener at ``mqtt_port``."""

    def __init__(self, mqtt_port: int) -> None:
        self.mqtt_port = mqtt_port
        self.server: Optional[Server] = None

    async def _pipe(self, websocket: ServerConnection) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.mqtt_port)

        async def up() -> None:
            async for data in websocket:
                writer.write(data if isinstance(data, bytes) else data.encode())
                await writer.drain()
            writer.close()

        async def down() -> None:
            while chunk := await reader.read(65536):
                await websocket.send(chunk)
            await websocket.close()

        await asyncio.gather(up(), down(), return_exceptions=True)

    async def start(self, context: Optional[ssl.SSLContext] = None) -> int:
        self.server = await serve(self._pipe, "127.0.0.1", 0, subprotocols=["mqtt"], ssl=context)  # type: ignore[list-item]
        return int(next(iter(self.server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def ws_port(broker: Mosquitto) -> AsyncIterator[int]:
    bridge = Bridge(broker.port)
    try:
        yield await bridge.start()
    finally:
        await bridge.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def wss_port(broker: Mosquitto, ca: trustme.CA) -> AsyncIterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bridge = Bridge(broker.port)
    try:
        yield await bridge.start(context)
    finally:
        await bridge.stop()


async def round_trip(client: mqttkit.Client) -> None:
    topic = unique("ws")
    await client.subscribe(topic, qos=1)
    big = bytes(range(256)) * 1024
    await client.publish(topic, big, qos=1)
    assert (await client.messages().next(EVENT_TIMEOUT)).payload == big


async def test_ws_url(ws_port: int) -> None:
    async with mqttkit.Client(f"ws://127.0.0.1:{ws_port}/mqtt", client_id=unique()) as client:
        await round_trip(client)


async def test_wss_url_with_tls_options(wss_port: int, ca: trustme.CA) -> None:
    certificates = Recorder()
    tls = mqttkit.TlsOptions(ca_certs=ca.cert_pem.bytes())
    url = f"wss://127.0.0.1:{wss_port}/mqtt"
    async with mqttkit.Client(url, client_id=unique(), tls=tls, on_peer_certificate=certificates) as client:
        await round_trip(client)
        (der,) = await certificates.wait()
        assert isinstance(der, bytes) and len(der) > 100


async def test_wss_with_an_untrusted_certificate_fails(wss_port: int) -> None:
    client = mqttkit.Client(f"wss://127.0.0.1:{wss_port}/mqtt", client_id=unique(), reconnect=False)
    try:
        with pytest.raises(mqttkit.NetworkError, match="certificate"):
            await client.connect(timeout=EVENT_TIMEOUT)
    finally:
        await client.close()
