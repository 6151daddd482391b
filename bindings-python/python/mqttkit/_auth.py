"""Enhanced authentication (MQTT 5) methods written in Python: what
``Client(..., authenticator=...)`` takes."""

from __future__ import annotations

from typing import Optional, Protocol, Union

AuthData = Union[bytes, bytearray, memoryview, str, None]
"""Authentication Data an exchange returns: bytes-like, str (UTF-8) or None (none)."""


class AuthExchange(Protocol):
    """One run of an authentication method, made by :meth:`Authenticator.start` for every
    connect and every re-authentication.

    The methods are called on mqttkit's connection thread (holding the GIL for just that
    call), so they must be quick and must not wait for the event loop. An exception fails
    the attempt with :class:`~mqttkit.AuthFailedError` carrying its text."""

    def initial_data(self) -> AuthData:
        """Authentication Data for CONNECT, or for the AUTH that starts re-authentication."""
        ...

    def respond(self, challenge: Optional[bytes]) -> AuthData:
        """The answer to the server's AUTH (Continue authentication) challenge."""
        ...

    def finish(self, data: Optional[bytes]) -> None:
        """Checks the server's final data (CONNACK or AUTH Success); raise to reject it."""
        ...


class Authenticator(Protocol):
    """An enhanced-authentication method: ``method`` is the Authentication Method name sent
    to the server (e.g. ``"SCRAM-SHA-256"``), ``start()`` begins one exchange."""

    @property
    def method(self) -> str:
        """The Authentication Method name."""
        ...

    def start(self) -> AuthExchange:
        """A new exchange."""
        ...


__all__ = ["AuthData", "AuthExchange", "Authenticator"]
