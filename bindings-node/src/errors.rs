//! The one place where core errors become JavaScript errors.
//!
//! Every [`ErrorKind`] maps to a stable `code` string (`ERR_MQTT_TIMEOUT`, ...). The match
//! below has no catch-all arm, so a new kind in the core fails to compile here until it is
//! given a code; `errorKinds()` lets the tests enumerate every kind.

use mqttkit::{Error, ErrorKind};
use napi_derive::napi;

/// The `err.code` of a core error kind.
pub(crate) fn code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "ERR_MQTT_TIMEOUT",
        ErrorKind::ConnectionRefused => "ERR_MQTT_CONNECTION_REFUSED",
        ErrorKind::ConnectionLost => "ERR_MQTT_CONNECTION_LOST",
        ErrorKind::NotConnected => "ERR_MQTT_NOT_CONNECTED",
        ErrorKind::AlreadyConnected => "ERR_MQTT_ALREADY_CONNECTED",
        ErrorKind::Network => "ERR_MQTT_NETWORK",
        ErrorKind::ProtocolViolation => "ERR_MQTT_PROTOCOL_VIOLATION",
        ErrorKind::PacketParsing => "ERR_MQTT_PACKET_PARSING",
        ErrorKind::PublishFailed => "ERR_MQTT_PUBLISH_FAILED",
        ErrorKind::SubscribeFailed => "ERR_MQTT_SUBSCRIBE_FAILED",
        ErrorKind::UnsubscribeFailed => "ERR_MQTT_UNSUBSCRIBE_FAILED",
        ErrorKind::BufferFull => "ERR_MQTT_BUFFER_FULL",
        ErrorKind::ChannelClosed => "ERR_MQTT_CLIENT_CLOSED",
        ErrorKind::PacketIdExhausted => "ERR_MQTT_PACKET_ID_EXHAUSTED",
        ErrorKind::InvalidConfiguration => "ERR_MQTT_INVALID_CONFIGURATION",
        ErrorKind::InvalidArgument => "ERR_MQTT_INVALID_ARGUMENT",
        ErrorKind::AuthFailed => "ERR_MQTT_AUTH_FAILED",
        ErrorKind::Internal => "ERR_MQTT_INTERNAL",
    }
}

/// A core error as plain data; `index.js` turns it into an `MqttError` (an `Error`).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// Stable code, e.g. `ERR_MQTT_TIMEOUT`.
    pub code: String,
    /// The core's stable kind name, e.g. `TIMEOUT`.
    pub kind: String,
    /// The core's stable kind number.
    pub errno: i32,
    /// What went wrong.
    pub message: String,
    /// The MQTT reason code the server gave, where there is exactly one.
    pub reason_code: Option<u32>,
    /// Every reason code of a SUBACK / UNSUBACK failure.
    pub reason_codes: Option<Vec<u32>>,
    /// The server's Reason String, where it sent one.
    pub reason_string: Option<String>,
    /// The operation that timed out or failed (`publish`, `connect`, ...), where known.
    pub operation: Option<String>,
    /// The packet identifier of a failed publish.
    pub packet_id: Option<u32>,
    /// Whether trying again may succeed.
    pub recoverable: bool,
    /// Whether the connection should be re-established.
    pub should_reconnect: bool,
    /// Whether the client cannot go on without new configuration or credentials.
    pub fatal: bool,
    /// Whether the error is about authentication or authorization.
    pub auth_error: bool,
}

/// Describes `error` for JavaScript.
pub(crate) fn info(error: &Error) -> ErrorInfo {
    let kind = error.kind();
    let (reason_codes, reason_string, operation, packet_id) = match error {
        Error::SubscribeFailed { reason_codes } | Error::UnsubscribeFailed { reason_codes } => {
            (Some(reason_codes.iter().map(|code| u32::from(code.code())).collect()), None, None, None)
        }
        Error::ConnectionRefused { reason_string, .. } => (None, reason_string.clone(), None, None),
        Error::PublishFailed { packet_id, reason_string, .. } => {
            (None, reason_string.clone(), Some("publish".to_owned()), Some(u32::from(*packet_id)))
        }
        Error::Timeout { operation, .. } => (None, None, Some(operation.name().to_owned()), None),
        _ => (None, None, None, None),
    };
    ErrorInfo {
        code: code(kind).to_owned(),
        kind: kind.name().to_owned(),
        errno: kind.code(),
        message: error.to_string(),
        reason_code: error.reason_code().map(|code| u32::from(code.code())),
        reason_codes,
        reason_string,
        operation,
        packet_id,
        recoverable: error.is_recoverable(),
        should_reconnect: error.should_reconnect(),
        fatal: error.is_fatal(),
        auth_error: error.is_auth_error(),
    }
}

/// A napi error (thrown synchronously) whose `code` is the kind's code.
pub(crate) fn throw(error: &Error) -> napi::Error<&'static str> {
    napi::Error::new(code(error.kind()), error.to_string())
}

/// A synchronous `ERR_MQTT_INVALID_ARGUMENT` error.
pub(crate) fn invalid_argument(message: impl Into<String>) -> napi::Error<&'static str> {
    throw(&Error::InvalidArgument(message.into()))
}

/// One core error kind, as listed by [`error_kinds`].
#[napi(object)]
pub struct ErrorKindInfo {
    /// The core's stable number.
    pub errno: i32,
    /// The core's stable name.
    pub kind: String,
    /// The JavaScript `err.code`.
    pub code: String,
}

/// Every core error kind with its JavaScript code, in numeric order.
#[napi]
pub fn error_kinds() -> Vec<ErrorKindInfo> {
    ErrorKind::ALL
        .iter()
        .map(|kind| ErrorKindInfo {
            errno: kind.code(),
            kind: kind.name().to_owned(),
            code: code(*kind).to_owned(),
        })
        .collect()
}

/// A representative core error of kind number `errno`, described exactly as a real one would
/// be (for the test that walks every kind through the mapping).
#[napi]
pub fn sample_error(errno: i32) -> napi::Result<ErrorInfo> {
    use mqttkit::Operation;
    use mqttkit::protocol::ReasonCode;
    use std::time::Duration;
    let kind = ErrorKind::ALL
        .iter()
        .copied()
        .find(|kind| kind.code() == errno)
        .ok_or_else(|| napi::Error::from_reason(format!("no error kind {errno}")))?;
    let error = match kind {
        ErrorKind::Timeout => {
            Error::Timeout { operation: Operation::Publish, timeout: Duration::from_millis(5) }
        }
        ErrorKind::ConnectionRefused => Error::ConnectionRefused {
            reason_code: ReasonCode::NotAuthorized,
            reason_string: Some("go away".into()),
        },
        ErrorKind::ConnectionLost => {
            Error::ConnectionLost { reason_code: Some(ReasonCode::ServerShuttingDown), message: "bye".into() }
        }
        ErrorKind::NotConnected => Error::NotConnected,
        ErrorKind::AlreadyConnected => Error::AlreadyConnected,
        ErrorKind::Network => Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ErrorKind::ProtocolViolation => {
            Error::ProtocolViolation { reason_code: ReasonCode::ProtocolError, message: "bad".into() }
        }
        ErrorKind::PacketParsing => Error::PacketParsing(mqttkit::protocol::ProtocolError::VarIntTooLong),
        ErrorKind::PublishFailed => {
            Error::PublishFailed { packet_id: 7, reason_code: ReasonCode::QuotaExceeded, reason_string: None }
        }
        ErrorKind::SubscribeFailed => {
            Error::SubscribeFailed { reason_codes: vec![ReasonCode::NotAuthorized] }
        }
        ErrorKind::UnsubscribeFailed => {
            Error::UnsubscribeFailed { reason_codes: vec![ReasonCode::NoSubscriptionExisted] }
        }
        ErrorKind::BufferFull => Error::BufferFull { capacity: 10 },
        ErrorKind::ChannelClosed => Error::ChannelClosed,
        ErrorKind::PacketIdExhausted => Error::PacketIdExhausted,
        ErrorKind::InvalidConfiguration => Error::InvalidConfiguration("sample".into()),
        ErrorKind::InvalidArgument => Error::InvalidArgument("sample".into()),
        ErrorKind::AuthFailed => Error::AuthFailed("sample".into()),
        ErrorKind::Internal => Error::Internal("sample".into()),
    };
    Ok(info(&error))
}
