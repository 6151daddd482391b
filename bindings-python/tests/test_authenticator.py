"""Enhanced authentication written in Python (``authenticator=``): a SCRAM-SHA-256 client
(RFC 5802 / 7677) implemented here, against the embedded broker's SCRAM."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
from typing import List, Optional

import pytest

import mqttkit
from conftest import EVENT_TIMEOUT, Recorder, unique


class ScramExchange:
    """One SCRAM-SHA-256 exchange."""

    def __init__(self, owner: "PyScram") -> None:
        self.owner = owner
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={owner.username},r={self.nonce}"
        self.auth_message = ""
        self.server_signature = b""

    def initial_data(self) -> bytes:
        self.owner.calls.append("initial_data")
        return f"n,,{self.first_bare}".encode()

    def respond(self, challenge: Optional[bytes]) -> bytes:
        self.owner.calls.append("respond")
        assert challenge is not None
        server_first = challenge.decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        if not fields["r"].startswith(self.nonce):
            raise ValueError("the server changed our nonce")
        salted = hashlib.pbkdf2_hmac("sha256", self.owner.password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={fields['r']}"
        self.auth_message = f"{self.first_bare},{server_first},{without_proof}"
        signature = hmac.digest(hashlib.sha256(client_key).digest(), self.auth_message.encode(), "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = hmac.digest(server_key, self.auth_message.encode(), "sha256")
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def finish(self, data: Optional[bytes]) -> None:
        self.owner.calls.append("finish")
        expected = b"v=" + base64.b64encode(self.server_signature)
        if self.owner.distrust_server or data != expected:
            raise ValueError("the server's signature does not match")


class PyScram:
    """SCRAM-SHA-256 as a Python authenticator; records the calls it gets and their
    threads."""

    method = "SCRAM-SHA-256"

    def __init__(self, username: str, password: str, distrust_server: bool = False) -> None:
        self.username = username
        self.password = password
        self.distrust_server = distrust_server
        self.calls: List[str] = []
        self.threads: List[int] = []

    def start(self) -> ScramExchange:
        self.calls.append("start")
        self.threads.append(threading.get_ident())
        return ScramExchange(self)


USERS = [("alice", "secret")]


async def test_python_scram_connects_and_re_authenticates() -> None:
    scram = PyScram("alice", "secret")
    auth_events = Recorder()
    async with mqttkit.Broker(port=0, allow_anonymous=False, users=USERS) as broker:
        client = mqttkit.Client(broker.url, client_id=unique(), authenticator=scram, on_auth=auth_events)
        async with client:
            assert scram.calls == ["start", "initial_data", "respond", "finish"]
            result = await client.re_authenticate()
            assert result.reason_code == 0 and result.method == "SCRAM-SHA-256"
            assert scram.calls[4:] == ["start", "initial_data", "respond", "finish"]
            client.re_authenticate_nowait()
            (event,) = await auth_events.wait(1)
            assert event.reason_code == 0
            topic = unique("authed")
            await client.subscribe(topic, qos=1)
            await client.publish(topic, b"in", qos=1)
            assert (await client.messages().next(EVENT_TIMEOUT)).payload == b"in"
    # Called from mqttkit's connection thread, not from the event loop's.
    assert threading.get_ident() not in scram.threads


def test_python_scram_with_the_sync_client() -> None:
    broker = mqttkit.Broker(port=0, allow_anonymous=False, users=USERS).start_blocking()
    try:
        with mqttkit.sync.Client(broker.url, client_id=unique(), authenticator=PyScram("alice", "secret")) as client:
            assert client.re_authenticate(timeout=EVENT_TIMEOUT).reason_code == 0
    finally:
        broker.close_blocking()


async def test_wrong_password_is_refused() -> None:
    async with mqttkit.Broker(port=0, allow_anonymous=False, users=USERS) as broker:
        client = mqttkit.Client(broker.url, client_id=unique(), authenticator=PyScram("alice", "wrong"), reconnect=False)
        try:
            with pytest.raises(mqttkit.MqttError) as refused:
                await client.connect(timeout=EVENT_TIMEOUT)
            assert refused.value.is_auth_error()
        finally:
            await client.close()


async def test_an_exception_in_the_authenticator_fails_with_its_text() -> None:
    async with mqttkit.Broker(port=0, allow_anonymous=False, users=USERS) as broker:
        scram = PyScram("alice", "secret", distrust_server=True)
        client = mqttkit.Client(broker.url, client_id=unique(), authenticator=scram, reconnect=False)
        try:
            with pytest.raises(mqttkit.AuthFailedError, match="signature does not match"):
                await client.connect(timeout=EVENT_TIMEOUT)
        finally:
            await client.close()


class FailingStart:
    method = "SCRAM-SHA-256"

    def start(self) -> ScramExchange:
        raise RuntimeError("no exchange today")


class WrongData:
    method = "SCRAM-SHA-256"

    def start(self) -> "WrongData":
        return self

    def initial_data(self) -> object:
        return 12345


@pytest.mark.parametrize(
    "authenticator, message",
    [(FailingStart(), "start(): no exchange today"), (WrongData(), "initial_data() must return bytes or None")],
)
async def test_a_broken_authenticator_fails_the_connect_and_is_logged(
    authenticator: object, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    # start() and initial_data() cannot fail in the core: CONNECT goes out without data, the
    # broker refuses it, and the Python exception is logged.
    caplog.set_level(logging.WARNING, logger="mqttkit")
    async with mqttkit.Broker(port=0, allow_anonymous=False, users=USERS) as broker:
        client = mqttkit.Client(broker.url, client_id=unique(), authenticator=authenticator, reconnect=False)  # type: ignore[arg-type]
        try:
            with pytest.raises(mqttkit.MqttError) as refused:
                await client.connect(timeout=EVENT_TIMEOUT)
            assert refused.value.is_auth_error()
        finally:
            await client.close()
    assert any(message in record.getMessage() for record in caplog.records), caplog.text


class NoMethod:
    def start(self) -> None:
        return None


class NoStart:
    method = "X"


@pytest.mark.parametrize(
    "authenticator, message",
    [(NoMethod(), "needs a `method` attribute"), (NoStart(), "needs a start\\(\\) method")],
)
def test_an_incomplete_authenticator_is_refused_at_creation(authenticator: object, message: str) -> None:
    with pytest.raises(mqttkit.InvalidConfigurationError, match=message):
        mqttkit.Client("mqtt://127.0.0.1:1883", authenticator=authenticator)  # type: ignore[arg-type]


def test_scram_and_authenticator_together_are_refused() -> None:
    with pytest.raises(mqttkit.InvalidConfigurationError, match="either scram or authenticator"):
        mqttkit.Client("mqtt://127.0.0.1:1883", scram=("a", "b"), authenticator=PyScram("a", "b"))


async def test_re_authentication_by_hand_in_both_forms() -> None:
    # SCRAM driven through re_authenticate(method, data) and auth_continue(...): the server's
    # challenges come back as results (waiting forms) or on_auth events (fire-and-forget).
    owner = PyScram("alice", "secret")
    auth_events = Recorder()
    async with mqttkit.Broker(port=0, allow_anonymous=False, users=USERS) as broker:
        async with mqttkit.Client(broker.url, client_id=unique(), scram=USERS[0], on_auth=auth_events) as client:
            exchange = owner.start()
            challenge = await client.re_authenticate("SCRAM-SHA-256", exchange.initial_data(), timeout=EVENT_TIMEOUT)
            assert challenge.reason_code == 0x18 and challenge.data is not None
            done = await client.auth_continue("SCRAM-SHA-256", exchange.respond(challenge.data))
            assert done.reason_code == 0
            exchange.finish(done.data)

            exchange = owner.start()
            seen = len(auth_events.values)  # the waiting forms' challenge is an event too
            client.re_authenticate_nowait("SCRAM-SHA-256", exchange.initial_data())
            events = await auth_events.wait(seen + 1)
            assert events[seen].reason_code == 0x18
            client.auth_continue_nowait("SCRAM-SHA-256", exchange.respond(events[seen].data))
            events = await auth_events.wait(seen + 2)
            assert events[seen + 1].reason_code == 0
            exchange.finish(events[seen + 1].data)


def test_an_authenticator_referring_to_its_client_is_collected() -> None:
    # client -> native client -> authenticator -> client: a cycle through Rust, which the
    # garbage collector sees (__traverse__) and breaks (__clear__).
    import gc
    import weakref

    class BackReference(PyScram):
        client: "mqttkit.Client"

    authenticator = BackReference("alice", "secret")
    client = mqttkit.Client("mqtt://127.0.0.1:1883", client_id=unique(), authenticator=authenticator)
    authenticator.client = client
    collected = weakref.ref(authenticator)
    del authenticator, client
    gc.collect()
    assert collected() is None
