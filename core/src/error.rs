//! [`Error`]: every way a client operation can fail, with a stable numeric code per kind
//! that the Python, Node and C bindings map one to one.

use std::io;
use std::time::Duration;

use crate::protocol::{ProtocolError, ReasonCode};

/// The operation a timeout or failure refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// CONNECT → CONNACK (including an enhanced-authentication exchange).
    Connect,
    /// PUBLISH → PUBACK / PUBCOMP.
    Publish,
    /// SUBSCRIBE → SUBACK.
    Subscribe,
    /// UNSUBSCRIBE → UNSUBACK.
    Unsubscribe,
    /// PINGREQ → PINGRESP.
    Ping,
    /// AUTH → AUTH / CONNACK during (re-)authentication.
    Auth,
    /// DISCONNECT written and the connection closed.
    Disconnect,
}

impl Operation {
    /// Lower-case name, e.g. `"publish"`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Connect => "connect",
            Operation::Publish => "publish",
            Operation::Subscribe => "subscribe",
            Operation::Unsubscribe => "unsubscribe",
            Operation::Ping => "ping",
            Operation::Auth => "auth",
            Operation::Disconnect => "disconnect",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn reason_suffix(reason_string: &Option<String>) -> String {
    reason_string.as_deref().map(|text| format!(": {text}")).unwrap_or_default()
}

/// Why a client operation failed.
///
/// Each kind has a stable [`code`](Error::code) and [`name`](Error::name); the bindings
/// expose exactly these kinds (Python exception classes, Node `err.code`, C result codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The acknowledgement did not arrive in time.
    #[error("{operation} timed out after {} ms", timeout.as_millis())]
    Timeout {
        /// What timed out.
        operation: Operation,
        /// The timeout that applied.
        timeout: Duration,
    },
    /// The server refused the connection (CONNACK with a failure reason code).
    #[error("connection refused: {reason_code}{}", reason_suffix(reason_string))]
    ConnectionRefused {
        /// The CONNACK reason code (3.1.1 return codes are mapped to their v5 equivalents).
        reason_code: ReasonCode,
        /// The server's Reason String, if it sent one.
        reason_string: Option<String>,
    },
    /// An established connection ended without the application asking for it.
    #[error("connection lost: {message}")]
    ConnectionLost {
        /// The server's DISCONNECT reason code, if it sent one.
        reason_code: Option<ReasonCode>,
        /// What happened.
        message: String,
    },
    /// The operation needs a connection and the client has none (and is not buffering).
    #[error("not connected")]
    NotConnected,
    /// `connect` was called on a client that is connected or connecting.
    #[error("already connected")]
    AlreadyConnected,
    /// A socket-level failure (DNS, refused TCP connection, reset, ...).
    #[error("network error ({kind:?}): {message}")]
    Network {
        /// The I/O error kind.
        kind: io::ErrorKind,
        /// The I/O error message.
        message: String,
    },
    /// The peer broke the protocol (a packet that is valid but not allowed now).
    #[error("protocol violation ({reason_code}): {message}")]
    ProtocolViolation {
        /// The reason code the client reported to the server.
        reason_code: ReasonCode,
        /// What was wrong.
        message: String,
    },
    /// Bytes from the server could not be decoded.
    #[error("malformed packet from server: {0}")]
    PacketParsing(ProtocolError),
    /// The server answered PUBLISH with a failure reason code.
    #[error("publish (packet id {packet_id}) failed: {reason_code}{}", reason_suffix(reason_string))]
    PublishFailed {
        /// The packet identifier of the PUBLISH.
        packet_id: u16,
        /// The PUBACK / PUBREC / PUBCOMP reason code.
        reason_code: ReasonCode,
        /// The server's Reason String, if any.
        reason_string: Option<String>,
    },
    /// The server refused one or more subscriptions (SUBACK).
    #[error("subscribe failed: {}", reason_codes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    SubscribeFailed {
        /// One reason code per requested filter.
        reason_codes: Vec<ReasonCode>,
    },
    /// The server refused one or more unsubscriptions (UNSUBACK).
    #[error("unsubscribe failed: {}", reason_codes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    UnsubscribeFailed {
        /// One reason code per filter.
        reason_codes: Vec<ReasonCode>,
    },
    /// The offline buffer or the command queue is full; the message was not accepted.
    #[error("buffer full: {capacity} entries queued")]
    BufferFull {
        /// The configured capacity.
        capacity: usize,
    },
    /// The client was shut down; no operation can run any more.
    #[error("client is shut down")]
    ChannelClosed,
    /// All 65,535 packet identifiers are in flight.
    #[error("no free packet identifier: 65535 operations in flight")]
    PacketIdExhausted,
    /// Client options that cannot work together, or a malformed URL.
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),
    /// A bad argument to an operation (an invalid topic, QoS above the server's maximum,
    /// a packet larger than the server accepts, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Enhanced authentication failed or the server asked for a method the client lacks.
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// A bug in mqttkit: please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The stable identity of an [`Error`] kind: its number and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum ErrorKind {
    Timeout = 1,
    ConnectionRefused = 2,
    ConnectionLost = 3,
    NotConnected = 4,
    AlreadyConnected = 5,
    Network = 6,
    ProtocolViolation = 7,
    PacketParsing = 8,
    PublishFailed = 9,
    SubscribeFailed = 10,
    UnsubscribeFailed = 11,
    BufferFull = 12,
    ChannelClosed = 13,
    PacketIdExhausted = 14,
    InvalidConfiguration = 15,
    InvalidArgument = 16,
    AuthFailed = 17,
    Internal = 18,
}

impl ErrorKind {
    /// Every kind, in numeric order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Timeout,
        ErrorKind::ConnectionRefused,
        ErrorKind::ConnectionLost,
        ErrorKind::NotConnected,
        ErrorKind::AlreadyConnected,
        ErrorKind::Network,
        ErrorKind::ProtocolViolation,
        ErrorKind::PacketParsing,
        ErrorKind::PublishFailed,
        ErrorKind::SubscribeFailed,
        ErrorKind::UnsubscribeFailed,
        ErrorKind::BufferFull,
        ErrorKind::ChannelClosed,
        ErrorKind::PacketIdExhausted,
        ErrorKind::InvalidConfiguration,
        ErrorKind::InvalidArgument,
        ErrorKind::AuthFailed,
        ErrorKind::Internal,
    ];

    /// The stable number (1..).
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The stable upper-snake-case name, e.g. `"TIMEOUT"`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::ConnectionRefused => "CONNECTION_REFUSED",
            ErrorKind::ConnectionLost => "CONNECTION_LOST",
            ErrorKind::NotConnected => "NOT_CONNECTED",
            ErrorKind::AlreadyConnected => "ALREADY_CONNECTED",
            ErrorKind::Network => "NETWORK",
            ErrorKind::ProtocolViolation => "PROTOCOL_VIOLATION",
            ErrorKind::PacketParsing => "PACKET_PARSING",
            ErrorKind::PublishFailed => "PUBLISH_FAILED",
            ErrorKind::SubscribeFailed => "SUBSCRIBE_FAILED",
            ErrorKind::UnsubscribeFailed => "UNSUBSCRIBE_FAILED",
            ErrorKind::BufferFull => "BUFFER_FULL",
            ErrorKind::ChannelClosed => "CHANNEL_CLOSED",
            ErrorKind::PacketIdExhausted => "PACKET_ID_EXHAUSTED",
            ErrorKind::InvalidConfiguration => "INVALID_CONFIGURATION",
            ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            ErrorKind::AuthFailed => "AUTH_FAILED",
            ErrorKind::Internal => "INTERNAL",
        }
    }
}

impl Error {
    /// This error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::ConnectionRefused { .. } => ErrorKind::ConnectionRefused,
            Error::ConnectionLost { .. } => ErrorKind::ConnectionLost,
            Error::NotConnected => ErrorKind::NotConnected,
            Error::AlreadyConnected => ErrorKind::AlreadyConnected,
            Error::Network { .. } => ErrorKind::Network,
            Error::ProtocolViolation { .. } => ErrorKind::ProtocolViolation,
            Error::PacketParsing(_) => ErrorKind::PacketParsing,
            Error::PublishFailed { .. } => ErrorKind::PublishFailed,
            Error::SubscribeFailed { .. } => ErrorKind::SubscribeFailed,
            Error::UnsubscribeFailed { .. } => ErrorKind::UnsubscribeFailed,
            Error::BufferFull { .. } => ErrorKind::BufferFull,
            Error::ChannelClosed => ErrorKind::ChannelClosed,
            Error::PacketIdExhausted => ErrorKind::PacketIdExhausted,
            Error::InvalidConfiguration(_) => ErrorKind::InvalidConfiguration,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::AuthFailed(_) => ErrorKind::AuthFailed,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The stable number of this error's kind.
    pub fn code(&self) -> i32 {
        self.kind().code()
    }

    /// The stable name of this error's kind.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The MQTT reason code the server gave, where there is exactly one.
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Error::ConnectionRefused { reason_code, .. }
            | Error::ProtocolViolation { reason_code, .. }
            | Error::PublishFailed { reason_code, .. } => Some(*reason_code),
            Error::ConnectionLost { reason_code, .. } => *reason_code,
            Error::PacketParsing(error) => Some(error.reason_code()),
            _ => None,
        }
    }

    /// Whether trying the same operation again may succeed (timeouts, lost connections,
    /// full buffers, busy servers).
    pub fn is_recoverable(&self) -> bool {
        match self {
            Error::Timeout { .. }
            | Error::ConnectionLost { .. }
            | Error::NotConnected
            | Error::Network { .. }
            | Error::BufferFull { .. }
            | Error::PacketIdExhausted => true,
            Error::ConnectionRefused { reason_code, .. } => matches!(
                reason_code,
                ReasonCode::ServerUnavailable
                    | ReasonCode::ServerBusy
                    | ReasonCode::ConnectionRateExceeded
                    | ReasonCode::QuotaExceeded
                    | ReasonCode::UseAnotherServer
            ),
            Error::PublishFailed { reason_code, .. } => {
                matches!(reason_code, ReasonCode::QuotaExceeded | ReasonCode::PacketIdentifierInUse)
            }
            _ => false,
        }
    }

    /// Whether the connection should be re-established (the transport or session is gone).
    pub fn should_reconnect(&self) -> bool {
        match self {
            Error::ConnectionLost { .. } | Error::Network { .. } | Error::PacketParsing(_) => true,
            Error::Timeout { operation, .. } => matches!(operation, Operation::Ping | Operation::Connect),
            Error::ProtocolViolation { .. } => true,
            Error::ConnectionRefused { .. } => self.is_recoverable(),
            _ => false,
        }
    }

    /// Whether the client cannot go on without a change of configuration or credentials.
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::ChannelClosed | Error::InvalidConfiguration(_) | Error::Internal(_) => true,
            Error::ConnectionRefused { .. } => !self.is_recoverable(),
            Error::AuthFailed(_) => true,
            _ => false,
        }
    }

    /// Whether the error is about authentication or authorization.
    pub fn is_auth_error(&self) -> bool {
        match self {
            Error::AuthFailed(_) => true,
            Error::ConnectionRefused { reason_code, .. } => matches!(
                reason_code,
                ReasonCode::BadUserNameOrPassword
                    | ReasonCode::NotAuthorized
                    | ReasonCode::BadAuthenticationMethod
                    | ReasonCode::Banned
            ),
            Error::PublishFailed { reason_code, .. } => *reason_code == ReasonCode::NotAuthorized,
            Error::SubscribeFailed { reason_codes } | Error::UnsubscribeFailed { reason_codes } => {
                reason_codes.contains(&ReasonCode::NotAuthorized)
            }
            _ => false,
        }
    }

    /// A sentence for an end user: what happened and what to try.
    pub fn user_message(&self) -> String {
        match self {
            Error::Timeout { operation, timeout } => format!(
                "The server did not answer the {operation} within {:.1} s; check that it is reachable and responsive.",
                timeout.as_secs_f64()
            ),
            Error::ConnectionRefused { reason_code, .. } => {
                format!("The server refused the connection: {}", reason_code.description())
            }
            Error::ConnectionLost { .. } => "The connection to the server was lost.".to_owned(),
            Error::NotConnected => "Not connected to a server; connect first.".to_owned(),
            Error::Network { message, .. } => format!("Could not reach the server: {message}."),
            Error::BufferFull { .. } => {
                "Too many messages are waiting to be sent; try again later.".to_owned()
            }
            Error::ChannelClosed => "The client has been shut down.".to_owned(),
            other => format!("{other}."),
        }
    }

    pub(crate) fn network(error: &io::Error) -> Self {
        Error::Network { kind: error.kind(), message: error.to_string() }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::network(&error)
    }
}

impl From<ProtocolError> for Error {
    fn from(error: ProtocolError) -> Self {
        Error::PacketParsing(error)
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::ConnectionRefused { .. } => io::ErrorKind::ConnectionRefused,
            Error::ConnectionLost { .. } => io::ErrorKind::ConnectionAborted,
            Error::NotConnected => io::ErrorKind::NotConnected,
            Error::Network { kind, .. } => *kind,
            Error::PacketParsing(_) | Error::ProtocolViolation { .. } => io::ErrorKind::InvalidData,
            Error::InvalidConfiguration(_) | Error::InvalidArgument(_) => io::ErrorKind::InvalidInput,
            Error::BufferFull { .. } => io::ErrorKind::WouldBlock,
            Error::ChannelClosed => io::ErrorKind::BrokenPipe,
            Error::AuthFailed(_) => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}

/// Result of client operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
