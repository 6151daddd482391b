"""TLS (``mqtts://``): a Mosquitto TLS listener with certificates made here (trustme), mutual
TLS, verification failures, bad PEM, the peer-certificate event, and what the client offers
in its handshake (server name, ALPN) as seen by a Python ``ssl`` server."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import ssl
import subprocess
import tempfile
import threading
from typing import Iterator, List, Optional

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import mqttkit
from conftest import EVENT_TIMEOUT, Recorder, free_port, mosquitto_binary, unique, wait_for_port


class TlsMosquitto:
    """Mosquitto with two TLS listeners on 127.0.0.1: ``port`` (server authentication only)
    and ``mtls_port`` (a client certificate from ``ca`` required)."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.client_cert = self.ca.issue_cert("mqttkit-test-client")
        self.dir = tempfile.mkdtemp(prefix="mqttkit-py-tls-")
        # Mosquitto started as root reads its files as the user "mosquitto".
        os.chmod(self.dir, 0o755)
        self.ca_path = self._write("ca.pem", self.ca.cert_pem.bytes())
        cert = self._write("server.pem", b"".join(blob.bytes() for blob in self.server_cert.cert_chain_pems))
        key = self._write("server.key", self.server_cert.private_key_pem.bytes())
        self.port = free_port()
        self.mtls_port = free_port()
        tls = f"cafile {self.ca_path}\ncertfile {cert}\nkeyfile {key}\n"
        config = (
            "per_listener_settings false\nallow_anonymous true\npersistence false\n"
            f"listener {self.port} 127.0.0.1\n{tls}"
            f"listener {self.mtls_port} 127.0.0.1\n{tls}require_certificate true\n"
        )
        config_path = self._write("mosquitto.conf", config.encode())
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", config_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        wait_for_port(self.mtls_port)

    def _write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "wb") as file:
            file.write(data)
        os.chmod(path, 0o644)
        return path

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    @property
    def mtls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.mtls_port}"

    def server_der(self) -> bytes:
        pem = self.server_cert.cert_chain_pems[0].bytes()
        return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


@pytest.fixture(scope="module")
def tls_broker() -> Iterator[TlsMosquitto]:
    server = TlsMosquitto()
    try:
        yield server
    finally:
        server.stop()


def no_reconnect_options() -> mqttkit.ReconnectPolicy:
    return mqttkit.ReconnectPolicy(enabled=False)


async def test_tls_publish_and_receive_with_ca_bytes(tls_broker: TlsMosquitto) -> None:
    tls = mqttkit.TlsOptions(ca_certs=tls_broker.ca.cert_pem.bytes())
    async with mqttkit.Client(tls_broker.url, client_id=unique(), tls=tls) as client:
        topic = unique("tls")
        await client.subscribe(topic, qos=1)
        result = await client.publish(topic, b"over tls", qos=1, timeout=math.inf)
        assert result.is_success
        message = await client.messages().next(EVENT_TIMEOUT)
        assert message.payload == b"over tls"


async def test_peer_certificate_event_carries_the_server_certificate(tls_broker: TlsMosquitto) -> None:
    certificates = Recorder()
    tls = mqttkit.TlsOptions(ca_certs=tls_broker.ca_path)
    async with mqttkit.Client(tls_broker.url, client_id=unique(), tls=tls, on_peer_certificate=certificates):
        (der,) = await certificates.wait()
    assert isinstance(der, bytes)
    assert der == tls_broker.server_der()


async def test_mutual_tls_with_client_certificate(tls_broker: TlsMosquitto) -> None:
    tls = mqttkit.TlsOptions(
        ca_certs=tls_broker.ca_path,
        certfile=tls_broker.client_cert.cert_chain_pems[0].bytes(),
        keyfile=tls_broker.client_cert.private_key_pem.bytes(),
    )
    async with mqttkit.Client(tls_broker.mtls_url, client_id=unique(), tls=tls) as client:
        assert (await client.ping()).round_trip >= 0


async def test_mutual_tls_listener_refuses_a_client_without_certificate(tls_broker: TlsMosquitto) -> None:
    tls = mqttkit.TlsOptions(ca_certs=tls_broker.ca_path)
    client = mqttkit.Client(tls_broker.mtls_url, client_id=unique(), tls=tls, reconnect=no_reconnect_options())
    try:
        with pytest.raises(mqttkit.NetworkError, match="(?i)certificate"):
            await client.connect(timeout=EVENT_TIMEOUT)
        assert not client.is_connected
    finally:
        await client.close()


async def test_wrong_ca_fails_verification_with_network_error(tls_broker: TlsMosquitto) -> None:
    other_ca = trustme.CA()
    tls = mqttkit.TlsOptions(ca_certs=other_ca.cert_pem.bytes())
    client = mqttkit.Client(tls_broker.url, client_id=unique(), tls=tls, reconnect=no_reconnect_options())
    try:
        with pytest.raises(mqttkit.NetworkError, match="certificate") as raised:
            await client.connect(timeout=EVENT_TIMEOUT)
        assert isinstance(raised.value, ConnectionError)
    finally:
        await client.close()


async def test_default_roots_do_not_trust_a_private_ca(tls_broker: TlsMosquitto) -> None:
    client = mqttkit.Client(tls_broker.url, client_id=unique(), reconnect=no_reconnect_options())
    try:
        with pytest.raises(mqttkit.NetworkError, match="certificate"):
            await client.connect(timeout=EVENT_TIMEOUT)
    finally:
        await client.close()


async def test_insecure_skip_verify_accepts_an_unknown_certificate(tls_broker: TlsMosquitto) -> None:
    tls = mqttkit.TlsOptions(insecure_skip_verify=True)
    async with mqttkit.Client(tls_broker.url, client_id=unique(), tls=tls) as client:
        assert client.is_connected


async def test_server_name_other_than_the_url_host(tls_broker: TlsMosquitto) -> None:
    good = mqttkit.TlsOptions(ca_certs=tls_broker.ca_path, server_name="localhost")
    async with mqttkit.Client(tls_broker.url, client_id=unique(), tls=good) as client:
        assert client.is_connected
    wrong = mqttkit.TlsOptions(ca_certs=tls_broker.ca_path, server_name="elsewhere.example")
    client = mqttkit.Client(tls_broker.url, client_id=unique(), tls=wrong, reconnect=no_reconnect_options())
    try:
        with pytest.raises(mqttkit.NetworkError, match="certificate"):
            await client.connect(timeout=EVENT_TIMEOUT)
    finally:
        await client.close()


def test_sync_client_over_tls_with_files(tls_broker: TlsMosquitto) -> None:
    tls = mqttkit.TlsOptions(ca_certs=tls_broker.ca_path)
    with mqttkit.sync.Client(tls_broker.url, client_id=unique(), tls=tls) as client:
        topic = unique("sync-tls")
        client.subscribe(topic, qos=1)
        client.publish(topic, "sync over tls", qos=1)
        message = client.messages(timeout=EVENT_TIMEOUT).next(EVENT_TIMEOUT)
        assert message is not None and message.payload == b"sync over tls"


@pytest.mark.parametrize(
    "options, message",
    [
        (mqttkit.TlsOptions(ca_certs=b"not a certificate"), "CA PEM holds no certificate"),
        (
            mqttkit.TlsOptions(ca_certs=b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            "CA certificate",
        ),
        (mqttkit.TlsOptions(certfile=b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), "needs its key"),
        (mqttkit.TlsOptions(ca_certs="/nonexistent/mqttkit/ca.pem"), "/nonexistent/mqttkit/ca.pem"),
        (mqttkit.TlsOptions(server_name="bad name!"), "server name"),
    ],
)
def test_bad_tls_options_raise_invalid_configuration(options: mqttkit.TlsOptions, message: str) -> None:
    with pytest.raises(mqttkit.InvalidConfigurationError, match=message):
        mqttkit.Client("mqtts://127.0.0.1:8883", tls=options)
    with pytest.raises(mqttkit.InvalidConfigurationError, match=message):
        mqttkit.sync.Client("mqtts://127.0.0.1:8883", tls=options)


def test_bad_client_key_raises_invalid_configuration() -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("client")
    tls = mqttkit.TlsOptions(certfile=cert.cert_chain_pems[0].bytes(), keyfile=b"no key in here")
    with pytest.raises(mqttkit.InvalidConfigurationError, match="client key PEM"):
        mqttkit.Client("mqtts://127.0.0.1:8883", tls=tls)


def test_tls_options_need_a_tls_url() -> None:
    with pytest.raises(mqttkit.InvalidConfigurationError, match="mqtts://"):
        mqttkit.Client("mqtt://127.0.0.1:1883", tls=mqttkit.TlsOptions())


def test_tls_must_be_tls_options() -> None:
    with pytest.raises(TypeError, match="TlsOptions"):
        mqttkit.Client("mqtts://127.0.0.1:8883", tls={"ca_certs": "x"})  # type: ignore[arg-type]


class HandshakeRecorder:
    """A TLS server (Python ``ssl``) that records the SNI name and the ALPN protocol the
    client negotiated, then closes the connection."""

    def __init__(self, ca: trustme.CA) -> None:
        cert = ca.issue_cert("127.0.0.1", "broker.test")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        context.set_alpn_protocols(["mqtt"])
        self.server_names: List[Optional[str]] = []
        self.alpn: List[Optional[str]] = []
        self.done = threading.Event()

        def sni(_sock: ssl.SSLObject, name: Optional[str], _context: ssl.SSLContext) -> None:
            self.server_names.append(name)

        context.sni_callback = sni  # type: ignore[assignment]
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(EVENT_TIMEOUT)
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, args=(context,), daemon=True)
        self.thread.start()

    def _serve(self, context: ssl.SSLContext) -> None:
        try:
            connection, _ = self.listener.accept()
            connection.settimeout(EVENT_TIMEOUT)
            with context.wrap_socket(connection, server_side=True) as tls:
                self.alpn.append(tls.selected_alpn_protocol())
        except OSError:
            pass
        finally:
            self.done.set()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=EVENT_TIMEOUT)


async def test_server_name_and_alpn_are_offered_in_the_handshake() -> None:
    ca = trustme.CA()
    server = HandshakeRecorder(ca)
    try:
        tls = mqttkit.TlsOptions(ca_certs=ca.cert_pem.bytes(), server_name="broker.test", alpn=["mqtt", b"x-other"])
        client = mqttkit.Client(
            f"mqtts://127.0.0.1:{server.port}", client_id=unique(), tls=tls, reconnect=no_reconnect_options()
        )
        try:
            # The server closes right after the handshake: no CONNACK comes.
            with pytest.raises(mqttkit.MqttError):
                await client.connect(timeout=EVENT_TIMEOUT)
        finally:
            await client.close()
        assert await asyncio.get_running_loop().run_in_executor(None, server.done.wait, EVENT_TIMEOUT)
        assert server.server_names == ["broker.test"]
        assert server.alpn == ["mqtt"]
    finally:
        server.close()
