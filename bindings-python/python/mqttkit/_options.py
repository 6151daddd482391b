"""Option and argument types shared by the asyncio and blocking clients."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .errors import InvalidConfigurationError

Payload = Union[bytes, bytearray, memoryview, str]
"""What a payload may be given as: bytes-like, or str (sent as UTF-8)."""

UserProperties = Sequence[Tuple[str, str]]


@dataclass(frozen=True)
class Will:
    """The will message: published by the server if the client disappears."""

    topic: str
    payload: Payload = b""
    qos: int = 0
    retain: bool = False
    delay_interval: Optional[int] = None
    message_expiry_interval: Optional[int] = None
    content_type: Optional[str] = None
    response_topic: Optional[str] = None
    correlation_data: Optional[bytes] = None
    payload_format_utf8: Optional[bool] = None
    user_properties: UserProperties = ()


@dataclass(frozen=True)
class ReconnectPolicy:
    """When and how often a lost connection is re-established (delays in seconds)."""

    enabled: bool = True
    initial_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_attempts: int = 0


@dataclass(frozen=True)
class Timeouts:
    """Default timeouts of the wait-for-acknowledgement operations, in seconds (here None
    means: wait forever). ``auth`` also bounds ``disconnect``. Presets: ``"internet"``
    (default), ``"local_network"``, ``"satellite"``, ``"none"``.

    A call's own ``timeout=`` overrides these: omitted (``None``) it takes the value from
    here, ``math.inf`` waits forever."""

    connect: Optional[float] = 30.0
    publish: Optional[float] = 10.0
    subscribe: Optional[float] = 10.0
    unsubscribe: Optional[float] = 10.0
    ping: Optional[float] = 5.0
    auth: Optional[float] = 10.0


@dataclass(frozen=True)
class OfflineBuffer:
    """What happens to publications made while reconnecting."""

    enabled: bool = True
    capacity: int = 1000


PemSource = Union[str, "os.PathLike[str]", bytes]
"""A PEM file's path, or the PEM contents themselves as ``bytes``."""


@dataclass(frozen=True)
class TlsOptions:
    """How ``mqtts://`` connections are secured (``Client(..., tls=TlsOptions(...))``).

    The file arguments take a path, or the PEM contents as ``bytes`` (names as in
    paho-mqtt's ``tls_set`` and aiomqtt's ``TLSParameters``):

    * ``ca_certs``: the CA certificate(s) to trust; without it, the Mozilla root
      certificates are trusted.
    * ``certfile`` and ``keyfile``: a client certificate chain and its private key (PKCS#8,
      PKCS#1 or SEC1, unencrypted), for mutual TLS; one needs the other.
    * ``server_name``: the name to verify the server certificate against, when it is not
      the URL's host.
    * ``alpn``: the ALPN protocols to offer, e.g. ``["mqtt"]``.
    * ``insecure_skip_verify``: accept any server certificate (tests against self-signed
      brokers only: the connection is encrypted but not authenticated).

    Unreadable files and PEM without a certificate or key raise
    :class:`~mqttkit.InvalidConfigurationError` when the client is created; a server
    certificate that does not verify fails ``connect()`` with
    :class:`~mqttkit.NetworkError`.
    """

    ca_certs: Optional[PemSource] = None
    certfile: Optional[PemSource] = None
    keyfile: Optional[PemSource] = None
    server_name: Optional[str] = None
    alpn: Sequence[Union[str, bytes]] = ()
    insecure_skip_verify: bool = False


def _pem(name: str, source: Optional[PemSource]) -> Optional[bytes]:
    if source is None:
        return None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as file:
                return file.read()
        except OSError as error:
            raise InvalidConfigurationError(f"tls {name}: cannot read {os.fspath(source)!r}: {error.strerror}") from None
    raise TypeError(f"tls {name} must be a path or PEM bytes, not {type(source).__name__}")


def tls_options(tls: TlsOptions) -> Dict[str, Any]:
    """``tls`` as the native module takes it: PEM contents, ALPN protocols as bytes."""
    if not isinstance(tls, TlsOptions):
        raise TypeError(f"tls must be a mqttkit.TlsOptions, not {type(tls).__name__}")
    return {
        "ca_pem": _pem("ca_certs", tls.ca_certs),
        "client_cert_pem": _pem("certfile", tls.certfile),
        "client_key_pem": _pem("keyfile", tls.keyfile),
        "server_name": tls.server_name,
        "alpn": [p.encode() if isinstance(p, str) else bytes(p) for p in tls.alpn],
        "insecure_skip_verify": tls.insecure_skip_verify,
    }


@dataclass(frozen=True)
class PublishProperties:
    """MQTT 5 properties of a publication."""

    payload_format_utf8: Optional[bool] = None
    message_expiry_interval: Optional[int] = None
    content_type: Optional[str] = None
    response_topic: Optional[str] = None
    correlation_data: Optional[bytes] = None
    topic_alias: Optional[int] = None
    user_properties: UserProperties = ()


@dataclass(frozen=True)
class Subscription:
    """One topic filter with its subscription options."""

    filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


SubscriptionSpec = Union[str, Tuple[str, int], Subscription]
"""A topic filter, ``(filter, qos)`` or a :class:`Subscription`."""

TimeoutsOption = Union[str, Timeouts, Dict[str, Optional[float]]]


def _as_dict(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and value and all(isinstance(item, tuple) for item in value):
        return [tuple(item) for item in value]
    return value


def client_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """The keyword options of a client as the native module takes them."""
    native: Dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        if key == "user_properties":
            value = [tuple(pair) for pair in value]
        elif key == "auto_subscribe":
            value = [_subscription(spec, 0) for spec in value]
        elif key == "password" and isinstance(value, str):
            value = value.encode()
        elif key == "tls":
            value = tls_options(value)
        elif key != "authenticator":  # an authenticator goes as the object itself
            value = _as_dict(value)
        native[key] = value
    return native


def publish_properties(properties: Union[PublishProperties, Dict[str, Any], None]) -> Optional[Dict[str, Any]]:
    if properties is None:
        return None
    values = _as_dict(properties) if isinstance(properties, PublishProperties) else dict(properties)
    if "user_properties" in values:
        values["user_properties"] = [tuple(pair) for pair in values["user_properties"]]
    return values


def _subscription(spec: SubscriptionSpec, qos: int) -> Tuple[str, int, bool, bool, int]:
    if isinstance(spec, str):
        return (spec, qos, False, False, 0)
    if isinstance(spec, Subscription):
        return (spec.filter, spec.qos, spec.no_local, spec.retain_as_published, spec.retain_handling)
    topic, spec_qos = spec
    return (topic, spec_qos, False, False, 0)


def subscriptions(
    topic: Union[SubscriptionSpec, Sequence[SubscriptionSpec]],
    qos: int,
    no_local: bool,
    retain_as_published: bool,
    retain_handling: int,
) -> List[Tuple[str, int, bool, bool, int]]:
    """Normalises every accepted form of subscribe's first argument."""
    if isinstance(topic, str):
        return [(topic, qos, no_local, retain_as_published, retain_handling)]
    if isinstance(topic, Subscription) or (
        isinstance(topic, tuple) and len(topic) == 2 and isinstance(topic[1], int)
    ):
        return [_subscription(topic, qos)]
    return [_subscription(spec, qos) for spec in topic]


def filters(topic: Union[str, Sequence[str]]) -> List[str]:
    return [topic] if isinstance(topic, str) else list(topic)


def pairs(user_properties: Optional[UserProperties]) -> Optional[List[Tuple[str, str]]]:
    return None if user_properties is None else [tuple(pair) for pair in user_properties]  # type: ignore[misc]


__all__ = [
    "Payload",
    "UserProperties",
    "Will",
    "ReconnectPolicy",
    "Timeouts",
    "OfflineBuffer",
    "PemSource",
    "TlsOptions",
    "PublishProperties",
    "Subscription",
    "SubscriptionSpec",
    "TimeoutsOption",
]

