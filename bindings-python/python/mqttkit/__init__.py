"""mqttkit: a fast MQTT 5 / 3.1.1 client for asyncio and threads, on a Rust engine.

.. code-block:: python

    import asyncio, mqttkit

    async def main() -> None:
        async with mqttkit.Client("mqtt://127.0.0.1:1883", client_id="demo") as client:
            await client.subscribe("sensors/#", qos=1)
            await client.publish("sensors/kitchen", b"21.5", qos=1)
            async for message in client.messages():
                print(message.topic, message.payload)
                break

    asyncio.run(main())
"""

from __future__ import annotations

import atexit as _atexit

from . import _mqttkit
from ._auth import AuthData, AuthExchange, Authenticator
from ._broker import Broker
from ._client import Client, MessageStream, _live
from ._dispatch import Callback
from ._mqttkit import (
    AuthResult,
    ConnectResult,
    DisconnectInfo,
    Message,
    MessageProperties,
    PingResult,
    PublishResult,
    ReconnectAttempt,
    SubscribeResult,
    UnsubscribeResult,
    reason_code_name,
    refresh_log_level,
    topic_matches,
)
from ._options import (
    OfflineBuffer,
    Payload,
    PublishProperties,
    ReconnectPolicy,
    Subscription,
    Timeouts,
    TlsOptions,
    Will,
)
from .errors import (
    AlreadyConnectedError,
    AuthFailedError,
    BufferFullError,
    ClientClosedError,
    ConnectionLostError,
    ConnectionRefusedError,
    InternalError,
    InvalidArgumentError,
    InvalidConfigurationError,
    MqttConnectionError,
    MqttError,
    MqttTimeoutError,
    NetworkError,
    NotConnectedError,
    PacketIdExhaustedError,
    PacketParsingError,
    ProtocolViolationError,
    PublishFailedError,
    SubscribeFailedError,
    UnsubscribeFailedError,
)
from . import sync

__version__: str = _mqttkit.__version__


def _close_all_at_exit() -> None:
    # Clients still open at interpreter exit: close them (bounded), then stop the runtime
    # threads from calling into Python while the interpreter goes away.
    for native in list(_live):
        try:
            native.close(1.0)
        except Exception:  # noqa: BLE001 - exit must go on
            pass
    _mqttkit.set_closing()


_atexit.register(_close_all_at_exit)

__all__ = [
    "AuthData",
    "AuthExchange",
    "Authenticator",
    "Broker",
    "Client",
    "MessageStream",
    "Callback",
    "sync",
    "AuthResult",
    "ConnectResult",
    "DisconnectInfo",
    "Message",
    "MessageProperties",
    "PingResult",
    "PublishResult",
    "ReconnectAttempt",
    "SubscribeResult",
    "UnsubscribeResult",
    "reason_code_name",
    "refresh_log_level",
    "topic_matches",
    "OfflineBuffer",
    "Payload",
    "PublishProperties",
    "ReconnectPolicy",
    "Subscription",
    "Timeouts",
    "TlsOptions",
    "Will",
    "MqttError",
    "MqttConnectionError",
    "MqttTimeoutError",
    "AlreadyConnectedError",
    "AuthFailedError",
    "BufferFullError",
    "ClientClosedError",
    "ConnectionLostError",
    "ConnectionRefusedError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidConfigurationError",
    "NetworkError",
    "NotConnectedError",
    "PacketIdExhaustedError",
    "PacketParsingError",
    "ProtocolViolationError",
    "PublishFailedError",
    "SubscribeFailedError",
    "UnsubscribeFailedError",
]
