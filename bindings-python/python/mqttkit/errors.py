"""The exception hierarchy: one class per core error kind, all under :class:`MqttError`.

The native module maps every core error kind to one of these classes (the mapping is in
``bindings-python/src/errors.rs``); every kind has a class here, or importing mqttkit fails.
"""

from __future__ import annotations

import builtins
from typing import Optional, Tuple

from . import _mqttkit

__all__ = [
    "MqttError",
    "MqttTimeoutError",
    "MqttConnectionError",
    "ConnectionRefusedError",
    "ConnectionLostError",
    "NotConnectedError",
    "AlreadyConnectedError",
    "NetworkError",
    "ProtocolViolationError",
    "PacketParsingError",
    "PublishFailedError",
    "SubscribeFailedError",
    "UnsubscribeFailedError",
    "BufferFullError",
    "ClientClosedError",
    "PacketIdExhaustedError",
    "InvalidConfigurationError",
    "InvalidArgumentError",
    "AuthFailedError",
    "InternalError",
]


class MqttError(Exception):
    """Base class of every mqttkit error.

    Attributes set on every instance raised by mqttkit:

    * ``code`` / ``kind``: the stable number and name of the core error kind
      (e.g. ``1`` / ``"TIMEOUT"``), the same in every language binding.
    * ``reason_code``: the MQTT reason code the server gave, where there is one.
    * ``reason_codes``: one reason code per filter for subscribe/unsubscribe failures.
    * ``reason_string``: the server's Reason String, if it sent one.
    * ``operation`` / ``timeout``: for timeouts, what timed out and after how many seconds.
    * ``packet_id``: for failed publishes.
    * ``user_message``: a sentence for an end user.
    """

    code: int = 0
    kind: str = ""
    reason_code: Optional[int] = None
    reason_codes: "list[int]"
    reason_string: Optional[str] = None
    operation: Optional[str] = None
    timeout: Optional[float] = None
    packet_id: Optional[int] = None
    user_message: str = ""
    _flags: Tuple[bool, bool, bool, bool] = (False, False, False, False)

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.reason_codes = []

    def is_recoverable(self) -> bool:
        """Whether trying the same operation again may succeed."""
        return self._flags[0]

    def should_reconnect(self) -> bool:
        """Whether the connection should be re-established."""
        return self._flags[1]

    def is_fatal(self) -> bool:
        """Whether the client cannot go on without a change of configuration or credentials."""
        return self._flags[2]

    def is_auth_error(self) -> bool:
        """Whether the error is about authentication or authorization."""
        return self._flags[3]


class MqttConnectionError(MqttError, ConnectionError):
    """Base of the errors about the connection itself (also a :class:`ConnectionError`)."""


class MqttTimeoutError(MqttError, TimeoutError):
    """The acknowledgement did not arrive in time (also a :class:`TimeoutError`)."""


class ConnectionRefusedError(MqttConnectionError, builtins.ConnectionRefusedError):  # noqa: A001
    """The server refused the connection (CONNACK with a failure reason code); also the
    built-in :class:`ConnectionRefusedError`."""


class ConnectionLostError(MqttConnectionError):
    """An established connection ended without the application asking for it."""


class NotConnectedError(MqttConnectionError):
    """The operation needs a connection and the client has none (and is not buffering)."""


class AlreadyConnectedError(MqttError):
    """``connect`` was called on a client that is connected or connecting."""


class NetworkError(MqttConnectionError):
    """A socket-level failure (DNS, refused TCP connection, reset, ...)."""


class ProtocolViolationError(MqttError):
    """The peer broke the protocol."""


class PacketParsingError(MqttError):
    """Bytes from the server could not be decoded."""


class PublishFailedError(MqttError):
    """The server answered PUBLISH with a failure reason code."""


class SubscribeFailedError(MqttError):
    """The server refused one or more subscriptions (see ``reason_codes``)."""


class UnsubscribeFailedError(MqttError):
    """The server refused one or more unsubscriptions (see ``reason_codes``)."""


class BufferFullError(MqttError):
    """The offline buffer or the command queue is full; the message was not accepted."""


class ClientClosedError(MqttError):
    """The client was closed; no operation can run any more."""


class PacketIdExhaustedError(MqttError):
    """All 65,535 packet identifiers are in flight."""


class InvalidConfigurationError(MqttError, ValueError):
    """Client options that cannot work together, or a malformed URL."""


class InvalidArgumentError(MqttError, ValueError):
    """A bad argument to an operation (invalid topic, QoS, ...)."""


class AuthFailedError(MqttError):
    """Enhanced authentication failed."""


class InternalError(MqttError):
    """A bug in mqttkit: please report it."""


_mqttkit.register_errors({name: value for name, value in globals().items() if isinstance(value, type)})
