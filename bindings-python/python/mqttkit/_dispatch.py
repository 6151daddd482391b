"""Event dispatch shared by the asyncio and the blocking client: callbacks, message
streams, and the credits that give the native side its backpressure."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections import deque
from typing import Any, Awaitable, Callable, Deque, List, Optional, Tuple, TypeVar, Union

from ._mqttkit import (
    AuthResult,
    ConnectResult,
    DisconnectInfo,
    Message,
    NativeClient,
    PingResult,
    PublishResult,
    ReconnectAttempt,
    SubscribeResult,
    UnsubscribeResult,
    topic_matches,
)
from .errors import MqttError

logger = logging.getLogger("mqttkit")

T = TypeVar("T")
Callback = Callable[[T], Union[None, Awaitable[None]]]
"""A callback: a plain function or an ``async def``; its return value is ignored."""


class _Stream:
    """Messages queued for one consumer, in order. ``owns`` marks the messages whose event
    credit this stream gives back when they are taken."""

    def __init__(self, native: NativeClient, topic_filter: Optional[str]) -> None:
        self._native = native
        self._filter = topic_filter
        self._queue: Deque[Tuple[Message, bool]] = deque()
        self._closed = False
        self._unreleased = 0

    def _accepts(self, message: Message) -> bool:
        return self._filter is None or topic_matches(self._filter, message.topic)

    def _push(self, message: Message, owns: bool) -> None:
        self._queue.append((message, owns))

    def _take(self) -> Optional[Message]:
        if not self._queue:
            return None
        message, owns = self._queue.popleft()
        if owns:
            self._unreleased += 1
            if self._unreleased >= 256 or not self._queue:
                self._native.release(self._unreleased)
                self._unreleased = 0
        return message

    def _release_all(self) -> None:
        owned = sum(1 for _, owns in self._queue if owns) + self._unreleased
        self._queue = deque((message, False) for message, _ in self._queue)
        self._unreleased = 0
        if owned:
            self._native.release(owned)

    def _close(self) -> None:
        self._closed = True
        self._release_all()

    def _wake(self) -> None:
        """Wakes a consumer waiting for a message (the asyncio stream overrides this)."""

    def __del__(self) -> None:
        try:
            self._release_all()
        except Exception:  # interpreter shutdown: nothing left to release to
            pass


class _Dispatcher:
    """The callbacks of a client and the dispatch of event batches to them."""

    on_connect: Optional[Callback[ConnectResult]]
    """The connection was established (also after every reconnect)."""
    on_disconnect: Optional[Callback[DisconnectInfo]]
    """The connection ended at the application's or the server's request."""
    on_message: Optional[Callback[Message]]
    """A message arrived."""
    on_publish: Optional[Callback[PublishResult]]
    """A fire-and-forget QoS 1/2 publish was acknowledged."""
    on_subscribe: Optional[Callback[SubscribeResult]]
    """A fire-and-forget subscribe was acknowledged."""
    on_unsubscribe: Optional[Callback[UnsubscribeResult]]
    """A fire-and-forget unsubscribe was acknowledged."""
    on_ping_response: Optional[Callback[PingResult]]
    """A fire-and-forget ping was answered."""
    on_error: Optional[Callback[BaseException]]
    """Something failed that no caller waits for (a fire-and-forget operation, a failed
    reconnect), or a callback raised."""
    on_connection_lost: Optional[Callback[MqttError]]
    """The connection was lost; the client reconnects if its policy says so."""
    on_reconnect_attempt: Optional[Callback[ReconnectAttempt]]
    """A reconnect attempt is about to start."""
    on_pending_operations_cleared: Optional[Callback[int]]
    """Operations that could not survive a reconnect were failed (their count)."""
    on_auth: Optional[Callback[AuthResult]]
    """The server sent AUTH (enhanced authentication)."""
    on_peer_certificate: Optional[Callback[bytes]]
    """The TLS peer certificate (DER) of a new connection."""

    _native: NativeClient

    def _init_dispatch(self, callbacks: dict[str, Any]) -> None:
        self.on_connect = None
        self.on_disconnect = None
        self.on_message = None
        self.on_publish = None
        self.on_subscribe = None
        self.on_unsubscribe = None
        self.on_ping_response = None
        self.on_error = None
        self.on_connection_lost = None
        self.on_reconnect_attempt = None
        self.on_pending_operations_cleared = None
        self.on_auth = None
        self.on_peer_certificate = None
        for name, callback in callbacks.items():
            if not hasattr(self, name):
                raise TypeError(f"unknown callback {name}")
            setattr(self, name, callback)
        self._streams: List[weakref.ref[_Stream]] = []
        self._backlog: Deque[Message] = deque()

    # Subclasses: run an awaitable a callback returned; release its credit when done if
    # `hold`, and report its exception.
    def _await_callback(self, name: str, awaitable: Awaitable[Any], hold: bool) -> int:
        raise NotImplementedError

    def _wake_streams(self) -> None:
        raise NotImplementedError

    def _dispatch(self, batch: List[Any]) -> None:
        release = 0
        pushed = False
        for event in batch:
            if type(event) is Message:
                held = False
                if self._streams:
                    for ref in list(self._streams):
                        stream = ref()
                        if stream is None or stream._closed:
                            self._streams.remove(ref)
                        elif stream._accepts(event):
                            stream._push(event, not held)
                            held = True
                            pushed = True
                on_message = self.on_message
                if on_message is not None:
                    credit = self._run_callback("message", on_message, event, not held)
                    if not held:
                        release += credit
                elif not held:
                    self._backlog.append(event)
            else:
                name, value = event
                callback = getattr(self, "on_" + name, None)
                if callback is not None:
                    release += self._run_callback(name, callback, value, True)
                else:
                    if name in ("error", "connection_lost"):
                        logger.debug("mqttkit %s event with no callback: %s", name, value)
                    release += 1
        if release:
            self._native.release(release)
        if pushed:
            self._wake_streams()

    def _run_callback(self, name: str, callback: Callable[[Any], Any], value: Any, hold: bool) -> int:
        """Runs a callback; returns the credits to give back now (1, or 0 while an async
        callback holds it)."""
        try:
            result = callback(value)
        except Exception as exc:  # noqa: BLE001 - reported, never swallowed
            self._callback_failed(name, exc)
            return 1
        if result is not None and inspect.isawaitable(result):
            return self._await_callback(name, result, hold)
        return 1

    def _callback_failed(self, name: str, exc: BaseException) -> None:
        logger.error("exception in mqttkit on_%s callback", name, exc_info=exc)
        on_error = self.on_error
        if name != "error" and on_error is not None:
            try:
                result = on_error(exc)
                if result is not None and inspect.isawaitable(result):
                    self._await_callback("error", result, False)
            except Exception:  # noqa: BLE001
                logger.exception("exception in mqttkit on_error callback")

    def _register_stream(self, stream: _Stream) -> None:
        kept: Deque[Message] = deque()
        for message in self._backlog:
            if stream._accepts(message):
                stream._push(message, True)
            else:
                kept.append(message)
        self._backlog = kept
        self._streams.append(weakref.ref(stream))

    def _close_streams(self) -> None:
        for ref in self._streams:
            stream = ref()
            if stream is not None:
                stream._close()
                stream._wake()
        self._streams.clear()
        backlog = len(self._backlog)
        self._backlog.clear()
        if backlog:
            self._native.release(backlog)
        self._wake_streams()
