"""The asyncio client, :class:`mqttkit.Client`."""

from __future__ import annotations

import asyncio
import functools
import weakref
from types import TracebackType
from typing import Any, Awaitable, Dict, Optional, Sequence, Tuple, Set, Type, Union

from . import _options
from ._auth import Authenticator
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

_live: "weakref.WeakSet[Any]" = weakref.WeakSet()
"""Every client not yet closed: closed at interpreter exit."""


class MessageStream(_Stream):
    """The messages a client receives, as an async iterator (``client.messages()``).

    Iteration goes on across reconnects and ends when the client is closed (after every
    message already received was taken). Usable as ``async with`` to stop receiving early.
    """

    def __init__(self, client: "Client", topic_filter: Optional[str]) -> None:
        super().__init__(client._native, topic_filter)
        self._client = client
        self._waiter: Optional[asyncio.Future[None]] = None

    def __aiter__(self) -> "MessageStream":
        return self

    async def __anext__(self) -> Message:
        while True:
            message = self._take()
            if message is not None:
                return message
            if self._closed:
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    async def next(self, timeout: Optional[float] = None) -> Message:
        """The next message, waiting at most ``timeout`` seconds (``asyncio.TimeoutError``)."""
        if timeout is None:
            return await self.__anext__()
        return await asyncio.wait_for(self.__anext__(), timeout)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def aclose(self) -> None:
        """Stops receiving into this stream."""
        self._close()
        self._wake()

    async def __aenter__(self) -> "MessageStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Client(_Dispatcher):
    """An asyncio MQTT client (MQTT 5 by default, or 3.1.1).

    ``async with Client(url, client_id=...) as client:`` connects on entry and disconnects
    and closes on exit. Every operation exists in two forms: ``await client.publish(...)``
    waits for the acknowledgement; ``client.publish_nowait(...)`` returns at once (its
    result arrives as an event: ``on_publish``, or ``on_error`` on failure) and gives an
    awaitable that completes when the client has taken the request, to respect backpressure.
    Operations reach the connection in call order, in both forms: ``asyncio.gather`` of
    many ``publish`` calls sends them in the order the coroutines were started.

    ``timeout=`` of the waiting forms is in seconds: omitted (``None``) means the client's
    configured timeout for that operation (``timeouts=``), ``math.inf`` waits as long as it
    takes; when it passes, :class:`~mqttkit.MqttTimeoutError` is raised.

    Callbacks (``client.on_message = fn``, plain functions or ``async def``) run on the
    event loop of the ``connect`` call, in order; an exception raised in one is logged to
    the ``mqttkit`` logger and passed to ``on_error``.
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
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: Set["asyncio.Future[Any]"] = set()
        self.url = url
        _live.add(self._native)

    # --- properties -----------------------------------------------------------------

    @property
    def client_id(self) -> str:
        """The configured client identifier (empty: assigned by the server)."""
        return self._native.client_id

    @property
    def is_connected(self) -> bool:
        """Whether a connection is established right now."""
        return self._native.is_connected

    @property
    def dropped_messages(self) -> int:
        """QoS 0 messages dropped from the offline buffer to make room."""
        return self._native.dropped_messages

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    # --- lifecycle --------------------------------------------------------------------

    def _attach(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            # The native side holds the callback: it refers to this client weakly, so that a
            # client nobody references any more can be garbage-collected (and closes).
            self._native.set_deliver(functools.partial(loop.call_soon_threadsafe, _weak_dispatch(weakref.ref(self))))

    async def connect(self, *, timeout: Optional[float] = None) -> ConnectResult:
        """Connects and waits for CONNACK. A refused connection raises
        :class:`~mqttkit.ConnectionRefusedError` and is not retried; once connected, lost
        connections are re-established by the reconnect policy."""
        self._attach()
        result: ConnectResult = await self._native.connect(False, timeout, True)
        return result

    def connect_nowait(self) -> Awaitable[None]:
        """Starts connecting; the result arrives as ``on_connect`` or ``on_error``.
        Failed attempts are retried by the reconnect policy."""
        self._attach()
        awaitable: Awaitable[None] = self._native.connect(False, None, False)
        return awaitable

    async def close(self) -> None:
        """Closes the client for good (without DISCONNECT if still connected: use
        :meth:`disconnect` first, or ``async with``). Message streams end."""
        self._native.close()
        self._close_streams()
        _live.discard(self._native)

    async def __aenter__(self) -> "Client":
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        try:
            if self._native.is_connected:
                await self.disconnect()
        except MqttError as error:
            logger.debug("disconnect on exit failed: %s", error)
        finally:
            await self.close()

    # --- operations -------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        *,
        properties: Optional[Union[PublishProperties, Dict[str, Any]]] = None,
        timeout: Optional[float] = None,
    ) -> PublishResult:
        """Publishes and waits for the acknowledgement (PUBACK for QoS 1, PUBCOMP for QoS 2;
        for QoS 0 until the message is handed to the connection)."""
        props = _options.publish_properties(properties) if properties is not None else None
        result: PublishResult = await self._native.publish(topic, payload, qos, retain, props, timeout, True, False)
        return result

    def publish_nowait(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        *,
        properties: Optional[Union[PublishProperties, Dict[str, Any]]] = None,
    ) -> Awaitable[None]:
        """Queues a publication and returns at once; QoS 1/2 acknowledgements arrive as
        ``on_publish``, failures as ``on_error``. Await the result to wait while the
        client's queue is full."""
        props = _options.publish_properties(properties) if properties is not None else None
        awaitable: Awaitable[None] = self._native.publish(topic, payload, qos, retain, props, None, False, False)
        return awaitable

    async def subscribe(
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
        """Subscribes to a filter, or to several (``[filter, (filter, qos), Subscription]``),
        and waits for SUBACK. Raises :class:`~mqttkit.SubscribeFailedError` if the server
        refused any of them."""
        specs = _options.subscriptions(topic, qos, no_local, retain_as_published, retain_handling)
        result: SubscribeResult = await self._native.subscribe(
            specs, subscription_identifier, _options.pairs(user_properties), timeout, True, False
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
    ) -> Awaitable[None]:
        """Queues a subscription; the SUBACK arrives as ``on_subscribe``."""
        specs = _options.subscriptions(topic, qos, no_local, retain_as_published, retain_handling)
        awaitable: Awaitable[None] = self._native.subscribe(
            specs, subscription_identifier, _options.pairs(user_properties), None, False, False
        )
        return awaitable

    async def unsubscribe(
        self,
        topic: Union[str, Sequence[str]],
        *,
        user_properties: Optional[UserProperties] = None,
        timeout: Optional[float] = None,
    ) -> UnsubscribeResult:
        """Unsubscribes from one or more filters and waits for UNSUBACK."""
        result: UnsubscribeResult = await self._native.unsubscribe(
            _options.filters(topic), _options.pairs(user_properties), timeout, True, False
        )
        return result

    def unsubscribe_nowait(
        self, topic: Union[str, Sequence[str]], *, user_properties: Optional[UserProperties] = None
    ) -> Awaitable[None]:
        """Queues an unsubscription; the UNSUBACK arrives as ``on_unsubscribe``."""
        awaitable: Awaitable[None] = self._native.unsubscribe(
            _options.filters(topic), _options.pairs(user_properties), None, False, False
        )
        return awaitable

    async def ping(self, *, timeout: Optional[float] = None) -> PingResult:
        """Sends PINGREQ and waits for PINGRESP."""
        result: PingResult = await self._native.ping(timeout, True, False)
        return result

    def ping_nowait(self) -> Awaitable[None]:
        """Sends PINGREQ; the PINGRESP arrives as ``on_ping_response``."""
        awaitable: Awaitable[None] = self._native.ping(None, False, False)
        return awaitable

    async def auth_continue(
        self, method: str, data: Optional[Payload] = None, *, timeout: Optional[float] = None
    ) -> AuthResult:
        """Sends AUTH (Continue authentication) and waits for the server's answer."""
        result: AuthResult = await self._native.auth_continue(method, data, timeout, True, False)
        return result

    def auth_continue_nowait(self, method: str, data: Optional[Payload] = None) -> Awaitable[None]:
        """Sends AUTH (Continue authentication); the answer arrives as ``on_auth``."""
        awaitable: Awaitable[None] = self._native.auth_continue(method, data, None, False, False)
        return awaitable

    async def re_authenticate(
        self, method: Optional[str] = None, data: Optional[Payload] = None, *, timeout: Optional[float] = None
    ) -> AuthResult:
        """Re-authenticates (AUTH, reason Re-authenticate) and waits for the server's answer."""
        result: AuthResult = await self._native.re_authenticate(method, data, timeout, True, False)
        return result

    def re_authenticate_nowait(self, method: Optional[str] = None, data: Optional[Payload] = None) -> Awaitable[None]:
        """Starts re-authentication; the answer arrives as ``on_auth``, failure as ``on_error``."""
        awaitable: Awaitable[None] = self._native.re_authenticate(method, data, None, False, False)
        return awaitable

    async def disconnect(
        self,
        reason_code: int = 0,
        *,
        session_expiry_interval: Optional[int] = None,
        reason_string: Optional[str] = None,
        user_properties: Optional[UserProperties] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Sends DISCONNECT and waits until the connection is closed; no reconnect follows.
        The client can connect again."""
        await self._native.disconnect(
            reason_code, session_expiry_interval, reason_string, _options.pairs(user_properties), timeout, True, False
        )

    def disconnect_nowait(
        self,
        reason_code: int = 0,
        *,
        session_expiry_interval: Optional[int] = None,
        reason_string: Optional[str] = None,
        user_properties: Optional[UserProperties] = None,
    ) -> Awaitable[None]:
        """Starts disconnecting; ``on_disconnect`` follows."""
        awaitable: Awaitable[None] = self._native.disconnect(
            reason_code, session_expiry_interval, reason_string, _options.pairs(user_properties), None, False, False
        )
        return awaitable

    # --- receiving --------------------------------------------------------------------

    def messages(self, topic_filter: Optional[str] = None) -> MessageStream:
        """The received messages (those matching ``topic_filter``, if given) as an async
        iterator. Messages that arrived while nothing consumed them are yielded first."""
        stream = MessageStream(self, topic_filter)
        if self._native.closed:
            stream._closed = True
        self._register_stream(stream)
        return stream

    # --- dispatch (on the loop) -------------------------------------------------------

    def _await_callback(self, name: str, awaitable: Awaitable[Any], hold: bool) -> int:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._callback_done, name, hold))
        return 0 if hold else 1

    def _callback_done(self, name: str, hold: bool, task: "asyncio.Future[Any]") -> None:
        self._tasks.discard(task)
        if hold:
            self._native.release(1)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._callback_failed(name, exc)

    def _wake_streams(self) -> None:
        for ref in self._streams:
            stream = ref()
            if stream is not None:
                stream._wake()


def _weak_dispatch(ref: "weakref.ref[Client]") -> Any:
    def dispatch(batch: Any) -> None:
        client = ref()
        if client is not None:
            client._dispatch(batch)

    return dispatch


__all__ = ["Client", "MessageStream"]
