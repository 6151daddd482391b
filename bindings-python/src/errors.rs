//! The one place where core errors become Python exceptions.
//!
//! Every [`ErrorKind`] has exactly one exception class, named by [`class_name`] (an
//! exhaustive match: a new kind in the core does not compile until it is mapped here). The
//! classes themselves live in `python/mqttkit/errors.py` (so that `MqttTimeoutError` can
//! also be a `TimeoutError` and connection errors also `ConnectionError`); the package hands
//! them to [`register_errors`] when it is imported, which fails if any kind lacks a class.

use std::time::Duration;

use mqttkit::protocol::{ProtocolError, ReasonCode};
use mqttkit::{Error, ErrorKind, Operation};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

/// The exception classes, indexed by `ErrorKind::code() - 1`.
static CLASSES: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();

/// The Python class name of each error kind.
pub(crate) fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "MqttTimeoutError",
        ErrorKind::ConnectionRefused => "ConnectionRefusedError",
        ErrorKind::ConnectionLost => "ConnectionLostError",
        ErrorKind::NotConnected => "NotConnectedError",
        ErrorKind::AlreadyConnected => "AlreadyConnectedError",
        ErrorKind::Network => "NetworkError",
        ErrorKind::ProtocolViolation => "ProtocolViolationError",
        ErrorKind::PacketParsing => "PacketParsingError",
        ErrorKind::PublishFailed => "PublishFailedError",
        ErrorKind::SubscribeFailed => "SubscribeFailedError",
        ErrorKind::UnsubscribeFailed => "UnsubscribeFailedError",
        ErrorKind::BufferFull => "BufferFullError",
        ErrorKind::ChannelClosed => "ClientClosedError",
        ErrorKind::PacketIdExhausted => "PacketIdExhaustedError",
        ErrorKind::InvalidConfiguration => "InvalidConfigurationError",
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::AuthFailed => "AuthFailedError",
        ErrorKind::Internal => "InternalError",
    }
}

/// A representative error of `kind`, to test the mapping of every kind.
pub(crate) fn sample(kind: ErrorKind) -> Error {
    let text = || "sample".to_owned();
    match kind {
        ErrorKind::Timeout => {
            Error::Timeout { operation: Operation::Publish, timeout: Duration::from_millis(1500) }
        }
        ErrorKind::ConnectionRefused => {
            Error::ConnectionRefused { reason_code: ReasonCode::NotAuthorized, reason_string: Some(text()) }
        }
        ErrorKind::ConnectionLost => {
            Error::ConnectionLost { reason_code: Some(ReasonCode::ServerShuttingDown), message: text() }
        }
        ErrorKind::NotConnected => Error::NotConnected,
        ErrorKind::AlreadyConnected => Error::AlreadyConnected,
        ErrorKind::Network => Error::Network { kind: std::io::ErrorKind::ConnectionRefused, message: text() },
        ErrorKind::ProtocolViolation => {
            Error::ProtocolViolation { reason_code: ReasonCode::ProtocolError, message: text() }
        }
        ErrorKind::PacketParsing => Error::PacketParsing(ProtocolError::InvalidQos("sample")),
        ErrorKind::PublishFailed => Error::PublishFailed {
            packet_id: 7,
            reason_code: ReasonCode::QuotaExceeded,
            reason_string: Some(text()),
        },
        ErrorKind::SubscribeFailed => {
            Error::SubscribeFailed { reason_codes: vec![ReasonCode::GrantedQos1, ReasonCode::NotAuthorized] }
        }
        ErrorKind::UnsubscribeFailed => {
            Error::UnsubscribeFailed { reason_codes: vec![ReasonCode::TopicFilterInvalid] }
        }
        ErrorKind::BufferFull => Error::BufferFull { capacity: 10 },
        ErrorKind::ChannelClosed => Error::ChannelClosed,
        ErrorKind::PacketIdExhausted => Error::PacketIdExhausted,
        ErrorKind::InvalidConfiguration => Error::InvalidConfiguration(text()),
        ErrorKind::InvalidArgument => Error::InvalidArgument(text()),
        ErrorKind::AuthFailed => Error::AuthFailed(text()),
        ErrorKind::Internal => Error::Internal(text()),
    }
}

/// The fields an exception carries beyond its message, per error variant.
struct Details {
    reason_code: Option<u8>,
    reason_string: Option<String>,
    reason_codes: Vec<u16>,
    operation: Option<&'static str>,
    timeout: Option<f64>,
    packet_id: Option<u16>,
}

fn details(error: &Error) -> Details {
    let mut d = Details {
        reason_code: error.reason_code().map(ReasonCode::code),
        reason_string: None,
        reason_codes: Vec::new(),
        operation: None,
        timeout: None,
        packet_id: None,
    };
    // `Error` is #[non_exhaustive] across crates, so it cannot be matched exhaustively
    // here; `class_name` (exhaustive over `ErrorKind`) is what forces every new kind to be
    // mapped. These are the variants that carry more than a message.
    if let Error::Timeout { operation, timeout } = error {
        d.operation = Some(operation.name());
        d.timeout = Some(timeout.as_secs_f64());
    }
    if let Error::ConnectionRefused { reason_string, .. } = error {
        d.reason_string = reason_string.clone();
    }
    if let Error::PublishFailed { packet_id, reason_string, .. } = error {
        d.packet_id = Some(*packet_id);
        d.reason_string = reason_string.clone();
    }
    if let Error::SubscribeFailed { reason_codes } | Error::UnsubscribeFailed { reason_codes } = error {
        d.reason_codes = reason_codes.iter().map(|code| u16::from(code.code())).collect();
    }
    d
}

/// Registers the exception classes: `classes` maps every class name of [`class_name`] to
/// its class.
#[pyfunction]
pub(crate) fn register_errors(py: Python<'_>, classes: &Bound<'_, PyDict>) -> PyResult<()> {
    let mut table = Vec::with_capacity(ErrorKind::ALL.len());
    for (index, kind) in ErrorKind::ALL.iter().enumerate() {
        debug_assert_eq!(kind.code() as usize, index + 1);
        let name = class_name(*kind);
        let class = classes
            .get_item(name)?
            .ok_or_else(|| PyRuntimeError::new_err(format!("mqttkit.errors lacks class {name}")))?;
        table.push(class.unbind());
    }
    // A second import (e.g. after importlib.reload) keeps the first table.
    let _ = CLASSES.set(py, table);
    Ok(())
}

/// Every error kind as `(code, name, class name)`, in numeric order.
#[pyfunction]
pub(crate) fn error_kinds() -> Vec<(i32, &'static str, &'static str)> {
    ErrorKind::ALL.iter().map(|kind| (kind.code(), kind.name(), class_name(*kind))).collect()
}

/// The exception a representative core error of kind `code` becomes (for tests).
#[pyfunction]
pub(crate) fn sample_error(py: Python<'_>, code: i32) -> PyResult<Py<PyAny>> {
    let kind = ErrorKind::ALL
        .iter()
        .find(|kind| kind.code() == code)
        .ok_or_else(|| PyRuntimeError::new_err(format!("no error kind {code}")))?;
    Ok(to_exception(py, &sample(*kind)).into_value(py).into_any())
}

/// Converts a core error into the matching Python exception.
pub(crate) fn to_py_err(error: Error) -> PyErr {
    Python::attach(|py| to_exception(py, &error))
}

/// Builds the exception for `error`: an instance of its kind's class with `code`, `kind`,
/// `reason_code`, `reason_string`, `reason_codes`, `operation`, `timeout`, `packet_id` and
/// the flags behind `is_recoverable()` and friends.
pub(crate) fn to_exception(py: Python<'_>, error: &Error) -> PyErr {
    match build(py, error) {
        Ok(exception) => exception,
        Err(failure) => failure,
    }
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let kind = error.kind();
    let classes = CLASSES
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err(format!("mqttkit errors are not registered: {error}")))?;
    let class = classes[(kind.code() - 1) as usize].bind(py);
    let exception = class.call1(PyTuple::new(py, [error.to_string()])?)?;
    let d = details(error);
    exception.setattr("code", kind.code())?;
    exception.setattr("kind", kind.name())?;
    exception.setattr("reason_code", d.reason_code)?;
    exception.setattr("reason_string", d.reason_string)?;
    exception.setattr("reason_codes", d.reason_codes)?;
    exception.setattr("operation", d.operation)?;
    exception.setattr("timeout", d.timeout)?;
    exception.setattr("packet_id", d.packet_id)?;
    exception.setattr("user_message", error.user_message())?;
    exception.setattr(
        "_flags",
        (error.is_recoverable(), error.should_reconnect(), error.is_fatal(), error.is_auth_error()),
    )?;
    Ok(PyErr::from_value(exception))
}

/// An `InvalidArgumentError` with `message`.
pub(crate) fn invalid_argument(message: impl Into<String>) -> PyErr {
    to_py_err(Error::InvalidArgument(message.into()))
}

/// An `InvalidConfigurationError` with `message`.
pub(crate) fn invalid_configuration(message: impl Into<String>) -> PyErr {
    to_py_err(Error::InvalidConfiguration(message.into()))
}
