"""The embedded broker: mqttkit.Broker and `python -m mqttkit broker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import mqttkit
import mqttkit.sync
from conftest import EVENT_TIMEOUT, Recorder, free_port, paho_client, unique

pytestmark = pytest.mark.skipif(not hasattr(mqttkit._mqttkit, "start_broker"), reason="built without the broker")


async def test_embedded_broker_serves_clients() -> None:
    async with mqttkit.Broker(port=0) as broker:
        assert broker.running and broker.port > 0
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            topic = unique("embedded")
            await client.subscribe(topic, qos=1)
            await client.publish(topic, b"hello broker", qos=1, retain=True)
            message = await client.messages().next(EVENT_TIMEOUT)
            assert message.payload == b"hello broker"
            stats = broker.stats()
            assert stats["connections"] == 1 and stats["messages_in"] >= 1 and stats["retained"] == 1
            assert stats["subscriptions"] == 1
    assert not broker.running
    await broker.close()  # idempotent


async def test_graceful_close_disconnects_mqtt5_clients() -> None:
    disconnected, lost = Recorder(), Recorder()
    broker = await mqttkit.Broker(port=0).start()
    client = mqttkit.Client(
        broker.url, client_id=unique(), reconnect=False, on_disconnect=disconnected, on_connection_lost=lost
    )
    await client.connect()
    await broker.close()
    (error,) = await lost.wait(1)
    assert isinstance(error, mqttkit.ConnectionLostError)
    assert error.reason_code == 0x8B
    await client.close()


async def test_authentication() -> None:
    async with mqttkit.Broker(port=0, allow_anonymous=False, users=[("alice", "secret")]) as broker:
        anonymous = mqttkit.Client(broker.url, client_id=unique(), reconnect=False)
        with pytest.raises(mqttkit.ConnectionRefusedError) as refused:
            await anonymous.connect()
        assert refused.value.reason_code is not None and refused.value.reason_code >= 0x80
        assert refused.value.is_auth_error()
        await anonymous.close()
        async with mqttkit.Client(broker.url, client_id=unique(), username="alice", password="secret") as alice:
            assert (await alice.ping()).round_trip >= 0


async def test_limits_and_toml_config() -> None:
    config = "[limits]\nmax_packet_size = 1024\n"
    async with mqttkit.Broker(port=0, config=config, features={"maximum_qos": 1}) as broker:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            result = await client.connect() if not client.is_connected else None
            assert result is None
            with pytest.raises(mqttkit.InvalidArgumentError, match="Maximum Packet Size"):
                await client.publish("big", b"x" * 4096, qos=0)
            with pytest.raises(mqttkit.InvalidArgumentError, match="Maximum QoS"):
                await client.publish("qos2", b"x", qos=2)


async def test_rate_limits_slow_a_publisher_down_and_are_counted() -> None:
    # 5 PUBLISH a second per connection: the broker stops reading the publisher for a
    # while; every message still arrives, in order, and the pause is counted.
    async with mqttkit.Broker(port=0, limits={"max_publish_rate": 5}) as broker:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            topic = unique("rate")
            await client.subscribe(topic, qos=0)
            messages = client.messages()
            for i in range(8):
                await client.publish(topic, str(i).encode(), qos=0)
            received = [(await messages.next(EVENT_TIMEOUT)).payload for _ in range(8)]
            assert received == [str(i).encode() for i in range(8)]
            assert broker.stats()["throttled"] >= 1
    with pytest.raises(mqttkit.InvalidConfigurationError, match="max_publish_rate"):
        await mqttkit.Broker(port=0, limits={"max_publish_rate": 0}).start()


async def test_acl_refusals_are_errors_with_reason_codes_and_are_counted() -> None:
    config = '[[acl.rules]]\naccess = "readwrite"\ntopic = "public/#"\n'
    async with mqttkit.Broker(port=0, config=config) as broker:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            await client.subscribe("public/#", qos=1)
            with pytest.raises(mqttkit.SubscribeFailedError) as refused_subscribe:
                await client.subscribe("secret/#", qos=1)
            assert refused_subscribe.value.reason_codes == [0x87]
            with pytest.raises(mqttkit.PublishFailedError) as refused_publish:
                await client.publish("secret/x", b"no", qos=1)
            assert refused_publish.value.reason_code == 0x87
            messages = client.messages()
            await client.publish("public/x", b"yes", qos=1)
            assert (await messages.next(EVENT_TIMEOUT)).payload == b"yes"
            stats = broker.stats()
            assert stats["publish_denied"] == 1 and stats["subscribe_denied"] == 1


async def test_reload_auth_rereads_the_acl_file(tmp_path: Path) -> None:
    acl = tmp_path / "acl.conf"
    acl.write_text("topic readwrite a/#\n")
    async with mqttkit.Broker(port=0, config=f"[acl]\nfile = {str(acl)!r}\n") as broker:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            with pytest.raises(mqttkit.PublishFailedError) as refused:
                await client.publish("b/x", b"no", qos=1)
            assert refused.value.reason_code == 0x87
            acl.write_text("topic readwrite b/#\n")
            broker.reload_auth()
            await client.publish("b/x", b"yes", qos=1)
            acl.write_text("topic sometimes b/#\n")
            with pytest.raises(mqttkit.InvalidConfigurationError, match=r"acl\.conf:1:"):
                broker.reload_auth()
            await client.publish("b/y", b"still", qos=1)


async def test_config_file_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "acl.conf").write_text("topic readwrite a/#\n")
    (tmp_path / "broker.toml").write_text('[acl]\nfile = "acl.conf"\n')
    async with mqttkit.Broker(port=0, config_file=tmp_path / "broker.toml") as broker:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            await client.publish("a/x", b"yes", qos=1)
            with pytest.raises(mqttkit.PublishFailedError):
                await client.publish("b/x", b"no", qos=1)


def test_python_m_mqttkit_broker_reports_a_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    result = subprocess.run(
        [sys.executable, "-m", "mqttkit", "broker", "--port", "0", "--config", str(missing)],
        capture_output=True,
        text=True,
        timeout=EVENT_TIMEOUT,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert result.returncode == 2, result.stderr
    assert "missing.toml" in result.stderr and "Traceback" not in result.stderr, result.stderr


async def test_invalid_configuration_and_busy_port() -> None:
    with pytest.raises(mqttkit.InvalidConfigurationError):
        await mqttkit.Broker(port=0, limits={"no_such_limit": 1}).start()
    async with mqttkit.Broker(port=0) as first:
        with pytest.raises(mqttkit.NetworkError):
            await mqttkit.Broker(port=first.port).start()


async def test_paho_through_the_embedded_broker() -> None:
    async with mqttkit.Broker(port=0) as broker:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            topic = unique("paho-embedded")
            await client.subscribe(topic, qos=1)
            paho = paho_client(broker.port, unique("paho"))
            try:
                paho.publish(topic, b"from paho", qos=1).wait_for_publish(EVENT_TIMEOUT)
                message = await client.messages().next(EVENT_TIMEOUT)
                assert message.payload == b"from paho"
            finally:
                paho.loop_stop()
                paho.disconnect()


@pytest.mark.parametrize("qos", [1, 2])
async def test_acknowledged_publish_to_a_server_with_maximum_packet_size(qos: int) -> None:
    # The broker announces Maximum Packet Size, so the client sizes every PUBLISH.
    async with mqttkit.Broker(port=0, features={"maximum_qos": 2}) as broker:
        async with mqttkit.Client(broker.url, client_id=unique()) as client:
            result = await client.publish("t", b"x", qos=qos)
            assert result.is_success and result.qos == qos


async def test_scram_authentication_and_re_authentication() -> None:
    auth_events = Recorder()
    async with mqttkit.Broker(port=0, allow_anonymous=False, users=[("alice", "secret")]) as broker:
        client = mqttkit.Client(broker.url, client_id=unique(), scram=("alice", "secret"), on_auth=auth_events)
        async with client:
            result = await client.re_authenticate()
            assert isinstance(result, mqttkit.AuthResult)
            assert result.reason_code == 0 and result.method == "SCRAM-SHA-256"
            await client.re_authenticate_nowait()
            (event,) = await auth_events.wait(1)
            assert event.reason_code == 0
        wrong = mqttkit.Client(broker.url, client_id=unique(), scram=("alice", "wrong"), reconnect=False)
        with pytest.raises(mqttkit.MqttError) as refused:
            await wrong.connect()
        assert refused.value.is_auth_error() or isinstance(refused.value, mqttkit.AuthFailedError)
        await wrong.close()


def test_blocking_start_and_close() -> None:
    broker = mqttkit.Broker(port=0).start_blocking()
    try:
        with mqttkit.sync.Client(broker.url, client_id=unique()) as client:
            assert client.publish("sync/broker", b"x", qos=1).is_success
    finally:
        broker.close_blocking()
    assert not broker.running


def test_python_m_mqttkit_broker() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mqttkit", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"127.0.0.1:{port}" in line, line
        with mqttkit.sync.Client(f"mqtt://127.0.0.1:{port}", client_id=unique()) as client:
            assert client.ping().round_trip >= 0
        # SIGHUP (handled before the SIGTERM sent after it) reloads the auth files.
        process.send_signal(signal.SIGHUP)
        process.send_signal(signal.SIGTERM)
        assert process.wait(EVENT_TIMEOUT) == 0
        rest = process.stdout.read()
        assert "reloaded" in rest and "stopped" in rest, rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


