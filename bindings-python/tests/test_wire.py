"""What the clients send, read back from the packets by a scripted server: every CONNECT
option, the properties of subscribe, unsubscribe and disconnect in both forms, automatic
topic aliases, and every operation of the blocking client in both forms."""

from __future__ import annotations

import asyncio
from typing import Iterator, List

import pytest

import mqttkit
import mqttkit.sync
from conftest import Recorder, ThreadRecorder, unique, wait_until
from mqtt_wire import (
    AUTH,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PUBLISH,
    SUBSCRIBE,
    UNSUBSCRIBE,
    Reader,
    ScriptedServer,
    filters,
    subscriptions,
)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer(connack_properties=b"\x22\x00\x05")  # Topic Alias Maximum 5
    try:
        yield scripted
    finally:
        scripted.close()


async def next_packet(server: ScriptedServer, kind: int) -> Reader:
    return await asyncio.get_running_loop().run_in_executor(None, server.next, kind)


async def test_every_connect_option_reaches_the_connect_packet(server: ScriptedServer) -> None:
    will = mqttkit.Will(
        "will/t", b"bye", qos=1, retain=True, delay_interval=5, message_expiry_interval=60,
        content_type="text/plain", response_topic="will/r", correlation_data=b"c",
        payload_format_utf8=True, user_properties=[("w", "1")],
    )
    client = mqttkit.Client(
        server.url, client_id="wire-options", clean_start=False, keep_alive=17, username="user",
        password=b"pw\x00", will=will, session_expiry_interval=300, maximum_packet_size=65000,
        request_response_information=True, request_problem_information=False, receive_maximum=33,
        topic_alias_maximum=7, user_properties=[("k", "v"), ("k", "w")], tcp_nodelay=False,
        auto_subscribe=[mqttkit.Subscription("auto/a", qos=1, no_local=True, retain_as_published=True, retain_handling=2), ("auto/b", 2)],
        reconnect=False,
    )
    try:
        await client.connect()
        connect = await next_packet(server, CONNECT)
        assert connect.text() == "MQTT" and connect.byte() == 5
        # username, password, will retain, will QoS 1, will flag; no clean start
        assert connect.byte() == 0x80 | 0x40 | 0x20 | 0x08 | 0x04
        assert connect.u16() == 17
        assert connect.properties() == {
            0x11: [300], 0x21: [33], 0x27: [65000], 0x22: [7], 0x19: [1], 0x17: [0],
            0x26: [("k", "v"), ("k", "w")],
        }
        assert connect.text() == "wire-options"
        assert connect.properties() == {
            0x18: [5], 0x02: [60], 0x03: ["text/plain"], 0x08: ["will/r"], 0x09: [b"c"], 0x01: [1],
            0x26: [("w", "1")],
        }
        assert connect.text() == "will/t" and connect.binary() == b"bye"
        assert connect.text() == "user" and connect.binary() == b"pw\x00"
        assert connect.at_end
        subscribe = await next_packet(server, SUBSCRIBE)
        subscribe.u16()
        assert subscribe.properties() == {}
        assert subscriptions(subscribe) == [("auto/a", 0x01 | 0x04 | 0x08 | 0x20), ("auto/b", 2)]
    finally:
        await client.close()
    with pytest.raises(mqttkit.InvalidConfigurationError, match="auto_subscribe.*retain_handling"):
        mqttkit.Client(server.url, auto_subscribe=[mqttkit.Subscription("x", retain_handling=3)])


async def test_sessionless_sends_clean_start_and_no_session(server: ScriptedServer) -> None:
    client = mqttkit.Client(server.url, client_id=unique(), sessionless=True, reconnect=False)
    try:
        await client.connect()
        connect = await next_packet(server, CONNECT)
        connect.text(), connect.byte()
        assert connect.byte() & 0x02, "clean start"
        connect.u16()
        assert 0x11 not in connect.properties(), "no session expiry"
    finally:
        await client.close()
    with pytest.raises(mqttkit.InvalidConfigurationError, match="sessionless"):
        mqttkit.Client(server.url, sessionless=True, clean_start=False)


async def test_auto_topic_alias_replaces_a_repeated_topic(server: ScriptedServer) -> None:
    async with mqttkit.Client(server.url, client_id=unique(), auto_topic_alias=True, reconnect=False) as client:
        for payload in (b"1", b"2"):
            await client.publish("alias/topic", payload, qos=1)
        first, second = [await next_packet(server, PUBLISH) for _ in range(2)]
        assert first.text() == "alias/topic"
        first.u16()
        (alias,) = first.properties()[0x23]
        assert second.text() == "", "the second PUBLISH names the topic by its alias"
        second.u16()
        assert second.properties()[0x23] == [alias]


async def test_call_properties_reach_the_wire_in_both_forms(server: ScriptedServer) -> None:
    unsubscribed = Recorder()
    client = mqttkit.Client(
        server.url, client_id=unique(), session_expiry_interval=60, reconnect=False, on_unsubscribe=unsubscribed
    )
    try:
        await client.connect()
        await client.subscribe(
            [mqttkit.Subscription("s/a", qos=1, no_local=True, retain_as_published=True, retain_handling=1), ("s/b", 2)],
            subscription_identifier=42,
            user_properties=[("sub", "1")],
        )
        await client.subscribe_nowait("s/c", qos=1, retain_handling=2, user_properties=[("sub", "2")])
        await client.unsubscribe(["s/a", "s/b"], user_properties=[("unsub", "1")])
        await client.unsubscribe_nowait("s/c", user_properties=[("unsub", "2")])
        for expected_properties, expected in (
            ({0x0B: [42], 0x26: [("sub", "1")]}, [("s/a", 0x01 | 0x04 | 0x08 | 0x10), ("s/b", 2)]),
            ({0x26: [("sub", "2")]}, [("s/c", 0x01 | 0x20)]),
        ):
            subscribe = await next_packet(server, SUBSCRIBE)
            subscribe.u16()
            assert subscribe.properties() == expected_properties
            assert subscriptions(subscribe) == expected
        for expected_properties, expected_filters in (
            ({0x26: [("unsub", "1")]}, ["s/a", "s/b"]),
            ({0x26: [("unsub", "2")]}, ["s/c"]),
        ):
            unsubscribe = await next_packet(server, UNSUBSCRIBE)
            unsubscribe.u16()
            assert unsubscribe.properties() == expected_properties
            assert filters(unsubscribe) == expected_filters
        await unsubscribed.wait(1)  # nothing left unread: see the blocking client's test

        await client.disconnect(0x04, session_expiry_interval=0, reason_string="bye", user_properties=[("why", "wait")])
        disconnect = await next_packet(server, DISCONNECT)
        assert disconnect.byte() == 0x04
        assert disconnect.properties() == {0x11: [0], 0x1F: ["bye"], 0x26: [("why", "wait")]}
        await client.connect()
        await client.disconnect_nowait(reason_string="later", user_properties=[("why", "nowait")])
        disconnect = await next_packet(server, DISCONNECT)
        assert disconnect.byte() == 0x00
        assert disconnect.properties() == {0x1F: ["later"], 0x26: [("why", "nowait")]}
    finally:
        await client.close()


def test_every_operation_of_the_blocking_client_in_both_forms(server: ScriptedServer) -> None:
    events = ThreadRecorder()
    client = mqttkit.sync.Client(
        server.url, client_id=unique(), reconnect=False, on_connect=events, on_subscribe=events,
        on_unsubscribe=events, on_publish=events, on_ping_response=events, on_auth=events,
        on_disconnect=events,
    )
    try:
        client.connect_nowait()
        assert isinstance(events.wait(1)[0], mqttkit.ConnectResult)
        server.next(CONNECT)
        assert client.subscribe("b/1", qos=1, user_properties=[("n", "1")]).reason_codes == [1]
        client.subscribe_nowait("b/2", qos=2)
        assert client.unsubscribe("b/1").reason_codes == [0]
        client.unsubscribe_nowait("b/2")
        assert client.publish("b/1", b"x", qos=1).is_success
        client.publish_nowait("b/1", b"y", qos=1)
        assert client.ping().round_trip >= 0
        client.ping_nowait()
        challenge = client.re_authenticate("X", b"first")
        assert challenge.reason_code == 0x18 and challenge.data == b"challenge"
        assert client.auth_continue("X", b"answer").reason_code == 0x00
        client.re_authenticate_nowait("X", b"again")
        client.auth_continue_nowait("X", b"answer again")
        # The server's AUTH packets: Continue for each re-authentication, Success for the
        # fire-and-forget continuation (a waiting form's Continue is an event too, since it
        # asks for the next step). Waited for before disconnecting: a DISCONNECT written
        # while the server's answer is still unread can be lost to a TCP reset.
        def auth_events() -> List[int]:
            return [value.reason_code for value in events.values if isinstance(value, mqttkit.AuthResult)]

        wait_until(lambda: len(auth_events()) == 3)
        assert auth_events() == [0x18, 0x18, 0x00]
        client.disconnect(reason_string="sync")
        client.connect(timeout=5)
        client.disconnect_nowait(reason_string="nowait")
        wait_until(lambda: [type(v) for v in events.values].count(mqttkit.DisconnectInfo) == 2)
        kinds = [type(value).__name__ for value in events.values]
        assert kinds.count("ConnectResult") == 2
        assert kinds.count("SubscribeResult") == 1 and kinds.count("UnsubscribeResult") == 1
        assert kinds.count("PublishResult") == 1 and kinds.count("PingResult") == 1

        subscribe = server.next(SUBSCRIBE)
        subscribe.u16()
        assert subscribe.properties() == {0x26: [("n", "1")]}
        server.next(PINGREQ)
        for reason, data in ((0x19, b"first"), (0x18, b"answer"), (0x19, b"again"), (0x18, b"answer again")):
            auth = server.next(AUTH)
            assert auth.byte() == reason and auth.properties() == {0x15: ["X"], 0x16: [data]}
        for reason_string in ("sync", "nowait"):
            disconnect = server.next(DISCONNECT)
            assert disconnect.byte() == 0 and disconnect.properties() == {0x1F: [reason_string]}
    finally:
        client.close()
