"""Type stubs of the native module ``mqttkit._mqttkit``."""

from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple, Union, final

__all__ = [
    "AuthResult",
    "ConnectResult",
    "DisconnectInfo",
    "EVENT_CREDITS",
    "Message",
    "MessageProperties",
    "NativeBroker",
    "NativeClient",
    "PingResult",
    "PublishResult",
    "Ready",
    "ReconnectAttempt",
    "SubscribeResult",
    "UnsubscribeResult",
    "__version__",
    "emit_log",
    "error_kinds",
    "event_names",
    "reason_code_name",
    "refresh_log_level",
    "register_errors",
    "runtime_running",
    "sample_error",
    "set_closing",
    "start_broker",
    "topic_matches",
]
EVENT_CREDITS: int
__version__: str

_Pairs = List[Tuple[str, str]]

@final
class ConnectResult:
    """The CONNACK of a connection."""
    session_present: bool
    reason_code: int
    assigned_client_id: Optional[str]
    session_expiry_interval: Optional[int]
    receive_maximum: Optional[int]
    maximum_qos: Optional[int]
    retain_available: Optional[bool]
    maximum_packet_size: Optional[int]
    topic_alias_maximum: Optional[int]
    server_keep_alive: Optional[int]
    response_information: Optional[str]
    server_reference: Optional[str]
    reason_string: Optional[str]
    authentication_method: Optional[str]
    authentication_data: Optional[bytes]
    user_properties: _Pairs

@final
class PublishResult:
    """The acknowledgement of a publish."""
    packet_id: Optional[int]
    qos: int
    reason_code: int
    reason_string: Optional[str]
    user_properties: _Pairs
    @property
    def is_success(self) -> bool: ...

@final
class SubscribeResult:
    """The SUBACK of a subscribe: one reason code (granted QoS or failure) per filter."""
    packet_id: int
    reason_codes: List[int]
    reason_string: Optional[str]
    user_properties: _Pairs
    @property
    def is_success(self) -> bool: ...

@final
class UnsubscribeResult:
    """The UNSUBACK of an unsubscribe."""
    packet_id: int
    reason_codes: List[int]
    reason_string: Optional[str]
    user_properties: _Pairs
    @property
    def is_success(self) -> bool: ...

@final
class PingResult:
    """A PINGRESP: ``round_trip`` in seconds."""
    round_trip: float

@final
class AuthResult:
    """An AUTH packet from the server, or the end of an authentication exchange."""
    reason_code: int
    method: Optional[str]
    data: Optional[bytes]
    reason_string: Optional[str]
    user_properties: _Pairs

@final
class DisconnectInfo:
    """How a connection ended."""
    reason_code: int
    by_server: bool
    reason_string: Optional[str]
    server_reference: Optional[str]
    session_expiry_interval: Optional[int]
    user_properties: _Pairs

@final
class ReconnectAttempt:
    """A reconnect attempt about to start after ``delay`` seconds."""
    attempt: int
    delay: float

@final
class MessageProperties:
    """The MQTT 5 properties of a received message."""
    payload_format_utf8: Optional[bool]
    message_expiry_interval: Optional[int]
    content_type: Optional[str]
    response_topic: Optional[str]
    correlation_data: Optional[bytes]
    subscription_identifiers: List[int]
    topic_alias: Optional[int]
    user_properties: _Pairs

@final
class Message:
    """A received message."""
    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def qos(self) -> int: ...
    @property
    def retain(self) -> bool: ...
    @property
    def dup(self) -> bool: ...
    @property
    def packet_id(self) -> int: ...
    @property
    def properties(self) -> MessageProperties: ...
    @property
    def user_properties(self) -> _Pairs: ...
    @property
    def needs_ack(self) -> bool: ...
    def ack(self) -> None: ...
    def payload_str(self) -> str: ...

@final
class Ready:
    """An already-completed awaitable."""
    def __await__(self) -> Any: ...
    def done(self) -> bool: ...

_Batch = List[Union[Message, Tuple[str, Any]]]

@final
class NativeClient:
    def __new__(cls, url: str, options: Dict[str, Any]) -> "NativeClient": ...
    def set_deliver(self, deliver: Optional[Callable[[_Batch], object]]) -> None: ...
    def release(self, count: int) -> None: ...
    @property
    def is_connected(self) -> bool: ...
    @property
    def dropped_messages(self) -> int: ...
    @property
    def client_id(self) -> str: ...
    @property
    def is_v5(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def connect(self, blocking: bool, timeout: Optional[float] = None, wait: bool = True) -> Any: ...
    def publish(
        self,
        topic: str,
        payload: Any,
        qos: int,
        retain: bool,
        properties: Optional[Dict[str, Any]],
        timeout: Optional[float],
        wait: bool,
        blocking: bool,
    ) -> Any: ...
    def subscribe(
        self,
        subscriptions: Sequence[Tuple[str, int, bool, bool, int]],
        subscription_identifier: Optional[int],
        user_properties: Optional[_Pairs],
        timeout: Optional[float],
        wait: bool,
        blocking: bool,
    ) -> Any: ...
    def unsubscribe(
        self,
        filters: Sequence[str],
        user_properties: Optional[_Pairs],
        timeout: Optional[float],
        wait: bool,
        blocking: bool,
    ) -> Any: ...
    def ping(self, timeout: Optional[float], wait: bool, blocking: bool) -> Any: ...
    def auth_continue(
        self, method: str, data: Optional[Any], timeout: Optional[float], wait: bool, blocking: bool
    ) -> Any: ...
    def re_authenticate(
        self, method: Optional[str], data: Optional[Any], timeout: Optional[float], wait: bool, blocking: bool
    ) -> Any: ...
    def disconnect(
        self,
        reason_code: int,
        session_expiry_interval: Optional[int],
        reason_string: Optional[str],
        user_properties: Optional[_Pairs],
        timeout: Optional[float],
        wait: bool,
        blocking: bool,
    ) -> Any: ...
    def close(self, timeout: float = 5.0) -> None: ...

def register_errors(classes: Dict[str, Any]) -> None: ...
def error_kinds() -> List[Tuple[int, str, str]]: ...
def sample_error(code: int) -> BaseException: ...
def event_names() -> List[str]: ...
def set_closing() -> None: ...
def refresh_log_level() -> None: ...
def topic_matches(filter: str, topic: str) -> bool: ...
def reason_code_name(code: int) -> Optional[str]: ...
def runtime_running() -> bool: ...
def emit_log(level: str, message: str) -> None: ...

@final
class NativeBroker:
    @property
    def addresses(self) -> List[Tuple[str, int]]: ...
    @property
    def running(self) -> bool: ...
    def stats(self) -> Dict[str, int]: ...
    def reload_auth(self) -> None: ...
    def close(self, blocking: bool) -> Any: ...
    def release(self) -> None: ...

def start_broker(config: str, bind: str, blocking: bool, base_dir: Optional[str] = None) -> Any: ...
