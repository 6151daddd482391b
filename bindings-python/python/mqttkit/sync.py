"""The blocking client, :class:`mqttkit.sync.Client`, for scripts and threads.

Every operation blocks (GIL released) until it completes or its timeout passes.
Callbacks run in order on one background thread per client (``async def`` callbacks run
there on a private event loop); every client method may be called from inside a callback.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from types import TracebackType
from typing import Any, Awaitable, Dict, Optional, Sequence, Tuple, Type, Union

from . import _options
from ._auth import Authenticator
from ._client import _live
from ._dispatch import Callback, _Dispatcher, _Stream, logger
from ._mqttkit import (
    AuthResult,
    ConnectResult,
    Message,
    NativeClient,
    PingResult,
    PublishResult,
    SubscribeResult,
    UnsubscribeResult,
)
from ._options import (
    OfflineBuffer,
    Payload,
    PublishProperties,
    ReconnectPolicy,
    SubscriptionSpec,
    TimeoutsOption,
    TlsOptions,
    UserProperties,
    Will,
)
from .errors import MqttError

_STOP = object()


class MessageIterator(_Stream):
    """The messages a blocking client receives: ``for message in client.messages():``.
    Ends when the client is closed, or after ``timeout`` seconds without a message."""

    def __init__(self, client: "Client", topic_filter: Optional[str], timeout: Optional[float]) -> None:
        super().__init__(client._native, topic_filter)
        self._condition = client._condition
        self._timeout = timeout

    def __iter__(self) -> "MessageIterator":
        return self

    def __next__(self) -> Message:
        message = self.next(self._timeout)
        if message is None:
            raise StopIteration
        return message

    def next(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next message, or None after ``timeout`` seconds or once the client is closed."""
        with self._condition:
            if not self._condition.wait_for(lambda: bool(self._queue) or self._closed, timeout):
                return None
            return self._take()

    def close(self) -> None:
        """Stops receiving into this iterator."""
        with self._condition:
            self._close()
            self._condition.notify_all()

    def __enter__(self) -> "MessageIterator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client(_Dispatcher):
    """A blocking MQTT client with the options of :class:`mqttkit.Client`.

    ``with Client(url, client_id=...) as client:`` connects on entry, disconnects and closes
    on exit. ``xxx()`` waits for the acknowledgement, ``xxx_nowait()`` returns once the
    client has taken the request (the result arrives as an event). ``timeout=`` is in
    seconds: omitted (``None``) means the client's configured timeout for that operation,
    ``math.inf`` waits as long as it takes.
    """

    def __init__(
        self,
        url: str = "mqtt://127.0.0.1:1883",
        *,
        client_id: str = "",
        protocol_version: Union[int, str] = 5,
        clean_start: Optional[bool] = None,
        keep_alive: Optional[float] = None,
        username: Optional[str] = None,
        password: Optional[Union[str, bytes]] = None,
        will: Optional[Will] = None,
        session_expiry_interval: Optional[int] = None,
        sessionless: Optional[bool] = None,
        auto_subscribe: Optional[Sequence[SubscriptionSpec]] = None,
        auto_ack: Optional[bool] = None,
        maximum_packet_size: Optional[int] = None,
        request_response_information: Optional[bool] = None,
        request_problem_information: Optional[bool] = None,
        receive_maximum: Optional[int] = None,
        max_inflight: Optional[int] = None,
        topic_alias_maximum: Optional[int] = None,
        auto_topic_alias: Optional[bool] = None,
        user_properties: Optional[UserProperties] = None,
        reconnect: Optional[Union[bool, ReconnectPolicy]] = None,
        timeouts: Optional[TimeoutsOption] = None,
        offline_buffer: Optional[Union[bool, int, OfflineBuffer]] = None,
        command_queue_size: Optional[int] = None,
        tcp_nodelay: Optional[bool] = None,
        tls: Optional[TlsOptions] = None,
        scram: Optional[Tuple[str, str]] = None,
        authenticator: Optional[Authenticator] = None,
        **callbacks: Optional[Callback[Any]],
    ) -> None:
        options: Dict[str, Any] = dict(locals())
        for name in ("self", "url", "callbacks", "__class__"):
            options.pop(name, None)
        self._native = NativeClient(url, _options.client_options(options))
        self._init_dispatch(callbacks)
        self._condition = threading.Condition()
        self._batches: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.url = url
        _live.add(self._native)

    @property
    def client_id(self) -> str:
        """The configured client identifier."""
        return self._native.client_id

    @property
    def is_connected(self) -> bool:
        """Whether a connection is established right now."""
        return self._native.is_connected

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    # --- the callback thread ------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._native.set_deliver(self._batches.put)
            self._thread = threading.Thread(target=self._run, name="mqttkit-callbacks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._batches.get()
            if batch is _STOP:
                break
            try:
                with self._condition:
                    self._dispatch(batch)
            except Exception:  # noqa: BLE001
                logger.exception("mqttkit event dispatch failed")
        if self._loop is not None:
            self._loop.close()

    def _await_callback(self, name: str, awaitable: Awaitable[Any], hold: bool) -> int:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()

        async def run() -> Any:
            return await awaitable

        try:
            self._loop.run_until_complete(run())
        except Exception as exc:  # noqa: BLE001
            self._callback_failed(name, exc)
        return 1

    def _wake_streams(self) -> None:
        self._condition.notify_all()

    # --- lifecycle ----------------------------------------------------------------------

    def connect(self, *, timeout: Optional[float] = None) -> ConnectResult:
        """Connects and waits for CONNACK."""
        self._start()
        result: ConnectResult = self._native.connect(True, timeout, True)
        return result

    def connect_nowait(self) -> None:
        """Starts connecting; the result arrives as ``on_connect`` or ``on_error``."""
        self._start()
        self._native.connect(True, None, False)

    def close(self) -> None:
        """Closes the client for good and stops the callback thread (waiting for it unless
        called from a callback)."""
        self._native.close()
        with self._condition:
            self._close_streams()
        _live.discard(self._native)
        thread = self._thread
        if thread is not None:
            self._batches.put(_STOP)
            if thread is not threading.current_thread():
                thread.join(timeout=10)

    def __enter__(self) -> "Client":
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        try:
            if self._native.is_connected:
                self.disconnect()
        except MqttError as error:
            logger.debug("disconnect on exit failed: %s", error)
        finally:
            self.close()

    # --- operations -----------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        *,
        properties: Optional[Union[PublishProperties, Dict[str, Any]]] = None,
        timeout: Optional[float] = None,
    ) -> PublishResult:
        """Publishes and waits for the acknowledgement."""
        props = _options.publish_properties(properties) if properties is not None else None
        result: PublishResult = self._native.publish(topic, payload, qos, retain, props, timeout, True, True)
        return result

    def publish_nowait(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        *,
        properties: Optional[Union[PublishProperties, Dict[str, Any]]] = None,
    ) -> None:
        """Queues a publication; acknowledgements arrive as ``on_publish``."""
        props = _options.publish_properties(properties) if properties is not None else None
        self._native.publish(topic, payload, qos, retain, props, None, False, True)

    def subscribe(
        self,
        topic: Union[SubscriptionSpec, Sequence[SubscriptionSpec]],
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
        subscription_identifier: Optional[int] = None,
        user_properties: Optional[UserProperties] = None,
        timeout: Optional[float] = None,
    ) -> SubscribeResult:
        """Subscribes and waits for SUBACK."""
        specs = _options.subscriptions(topic, qos, no_local, retain_as_published, retain_handling)
        result: SubscribeResult = self._native.subscribe(
            specs, subscription_identifier, _options.pairs(user_properties), timeout, True, True
        )
        return result

    def subscribe_nowait(
        self,
        topic: Union[SubscriptionSpec, Sequence[SubscriptionSpec]],
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
        subscription_identifier: Optional[int] = None,
        user_properties: Optional[UserProperties] = None,
    ) -> None:
        """Queues a subscription; the SUBACK arrives as ``on_subscribe``."""
        specs = _options.subscriptions(topic, qos, no_local, retain_as_published, retain_handling)
        self._native.subscribe(specs, subscription_identifier, _options.pairs(user_properties), None, False, True)

    def unsubscribe(
        self,
        topic: Union[str, Sequence[str]],
        *,
        user_properties: Optional[UserProperties] = None,
        timeout: Optional[float] = None,
    ) -> UnsubscribeResult:
        """Unsubscribes and waits for UNSUBACK."""
        result: UnsubscribeResult = self._native.unsubscribe(
            _options.filters(topic), _options.pairs(user_properties), timeout, True, True
        )
        return result

    def unsubscribe_nowait(self, topic: Union[str, Sequence[str]], *, user_properties: Optional[UserProperties] = None) -> None:
        """Queues an unsubscription; the UNSUBACK arrives as ``on_unsubscribe``."""
        self._native.unsubscribe(_options.filters(topic), _options.pairs(user_properties), None, False, True)

    def ping(self, *, timeout: Optional[float] = None) -> PingResult:
        """Sends PINGREQ and waits for PINGRESP."""
        result: PingResult = self._native.ping(timeout, True, True)
        return result

    def ping_nowait(self) -> None:
        """Sends PINGREQ; the PINGRESP arrives as ``on_ping_response``."""
        self._native.ping(None, False, True)

    def auth_continue(self, method: str, data: Optional[Payload] = None, *, timeout: Optional[float] = None) -> AuthResult:
        """Sends AUTH (Continue authentication) and waits for the answer."""
        result: AuthResult = self._native.auth_continue(method, data, timeout, True, True)
        return result

    def auth_continue_nowait(self, method: str, data: Optional[Payload] = None) -> None:
        """Sends AUTH (Continue authentication); the answer arrives as ``on_auth``."""
        self._native.auth_continue(method, data, None, False, True)

    def re_authenticate(
        self, method: Optional[str] = None, data: Optional[Payload] = None, *, timeout: Optional[float] = None
    ) -> AuthResult:
        """Re-authenticates and waits for the answer."""
        result: AuthResult = self._native.re_authenticate(method, data, timeout, True, True)
        return result

    def re_authenticate_nowait(self, method: Optional[str] = None, data: Optional[Payload] = None) -> None:
        """Starts re-authentication; the answer arrives as ``on_auth``."""
        self._native.re_authenticate(method, data, None, False, True)

    def disconnect(
        self,
        reason_code: int = 0,
        *,
        session_expiry_interval: Optional[int] = None,
        reason_string: Optional[str] = None,
        user_properties: Optional[UserProperties] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Sends DISCONNECT and waits until the connection is closed."""
        self._native.disconnect(
            reason_code, session_expiry_interval, reason_string, _options.pairs(user_properties), timeout, True, True
        )

    def disconnect_nowait(
        self,
        reason_code: int = 0,
        *,
        session_expiry_interval: Optional[int] = None,
        reason_string: Optional[str] = None,
        user_properties: Optional[UserProperties] = None,
    ) -> None:
        """Starts disconnecting; ``on_disconnect`` follows."""
        self._native.disconnect(
            reason_code, session_expiry_interval, reason_string, _options.pairs(user_properties), None, False, True
        )

    def messages(self, topic_filter: Optional[str] = None, *, timeout: Optional[float] = None) -> MessageIterator:
        """The received messages as a blocking iterator; it ends when the client is closed
        or after ``timeout`` seconds without a message."""
        iterator = MessageIterator(self, topic_filter, timeout)
        with self._condition:
            if self._native.closed:
                iterator._closed = True
            self._register_stream(iterator)
        return iterator


__all__ = ["Client", "MessageIterator"]
