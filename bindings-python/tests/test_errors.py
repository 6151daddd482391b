"""Every core error kind maps to its own exception class, with its details."""

from __future__ import annotations

import builtins

import pytest

import mqttkit
import mqttkit.sync
from conftest import Recorder, ThreadRecorder, free_port, unique
from mqttkit import _mqttkit


def test_every_error_kind_has_its_own_class() -> None:
    kinds = _mqttkit.error_kinds()
    assert [code for code, _, _ in kinds] == list(range(1, len(kinds) + 1))
    classes = set()
    for code, name, class_name in kinds:
        error = _mqttkit.sample_error(code)
        assert type(error).__name__ == class_name
        assert type(error) is getattr(mqttkit, class_name)
        assert isinstance(error, mqttkit.MqttError)
        assert error.code == code and error.kind == name
        assert str(error)
        classes.add(type(error))
    assert len(classes) == len(kinds), "one class per kind"


def test_every_class_is_exported() -> None:
    for _, _, class_name in _mqttkit.error_kinds():
        assert class_name in mqttkit.__all__


def test_timeout_is_a_timeout_error() -> None:
    error = _mqttkit.sample_error(1)
    assert isinstance(error, mqttkit.MqttTimeoutError)
    assert isinstance(error, TimeoutError)
    assert error.operation == "publish" and error.timeout == pytest.approx(1.5)
    assert error.is_recoverable() and not error.is_fatal()


@pytest.mark.parametrize("kind", ["CONNECTION_REFUSED", "CONNECTION_LOST", "NOT_CONNECTED", "NETWORK"])
def test_connection_errors_are_connection_errors(kind: str) -> None:
    code = next(code for code, name, _ in _mqttkit.error_kinds() if name == kind)
    error = _mqttkit.sample_error(code)
    assert isinstance(error, ConnectionError)
    assert isinstance(error, mqttkit.MqttConnectionError)


def test_connection_refused_carries_the_reason_code() -> None:
    error = _mqttkit.sample_error(2)
    assert isinstance(error, builtins.ConnectionRefusedError)
    assert error.reason_code == 0x87 and error.reason_string == "sample"
    assert error.is_auth_error() and error.is_fatal()
    assert mqttkit.reason_code_name(0x87) == "Not authorized"


def test_subscribe_failed_carries_every_reason_code() -> None:
    error = _mqttkit.sample_error(10)
    assert isinstance(error, mqttkit.SubscribeFailedError)
    assert error.reason_codes == [0x01, 0x87]


def test_publish_failed_carries_packet_id_and_reason() -> None:
    error = _mqttkit.sample_error(9)
    assert error.packet_id == 7 and error.reason_code == 0x97 and error.is_recoverable()


def test_invalid_arguments_are_value_errors() -> None:
    assert isinstance(_mqttkit.sample_error(16), ValueError)
    assert isinstance(_mqttkit.sample_error(15), ValueError)


def test_invalid_configuration_is_raised_at_construction() -> None:
    with pytest.raises(mqttkit.InvalidConfigurationError, match="receive_maximum"):
        mqttkit.Client("mqtt://127.0.0.1:1", receive_maximum=0)
    with pytest.raises(mqttkit.InvalidConfigurationError, match="MQTT 5"):
        mqttkit.Client("mqtt://127.0.0.1:1", protocol_version="3.1.1", session_expiry_interval=5)
    with pytest.raises(mqttkit.InvalidConfigurationError):
        mqttkit.Client("nonsense://host")


async def test_an_engine_error_nobody_waits_for_goes_to_on_error() -> None:
    # A fire-and-forget connect that fails: no caller to raise in, so on_error gets it.
    errors = Recorder()
    client = mqttkit.Client(f"mqtt://127.0.0.1:{free_port()}", client_id=unique(), reconnect=False, on_error=errors)
    try:
        await client.connect_nowait()
        (error,) = await errors.wait(1)
        assert isinstance(error, mqttkit.NetworkError) and isinstance(error, ConnectionError)
        assert error.kind == "NETWORK"
    finally:
        await client.close()


def test_an_engine_error_reaches_the_blocking_clients_on_error() -> None:
    errors = ThreadRecorder()
    client = mqttkit.sync.Client(f"mqtt://127.0.0.1:{free_port()}", client_id=unique(), reconnect=False, on_error=errors)
    try:
        client.connect_nowait()
        (error,) = errors.wait(1)
        assert isinstance(error, mqttkit.NetworkError)
    finally:
        client.close()
