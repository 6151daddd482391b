//! The one result enum of the C API, its stable numbers, and the exhaustive mapping from the
//! core's [`ErrorKind`]. This is the only file that maps errors.

use std::cell::RefCell;
use std::ffi::c_char;

use mqttkit::{Error, ErrorKind};

/// The result of every fallible mqttkit call. The numbers are stable: 0 is success, 1..=18
/// are the core's error kinds (the same numbers as Rust `ErrorKind::code()`, Python and
/// Node), 100 and up are errors of the C boundary itself.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum mqttkit_result {
    /// Success.
    MQTTKIT_RESULT_OK = 0,
    /// An acknowledgement did not arrive in time.
    MQTTKIT_RESULT_TIMEOUT = 1,
    /// The server refused the connection (CONNACK reason code in the completion).
    MQTTKIT_RESULT_CONNECTION_REFUSED = 2,
    /// An established connection ended without the application asking for it.
    MQTTKIT_RESULT_CONNECTION_LOST = 3,
    /// The operation needs a connection and the client has none (and is not buffering).
    MQTTKIT_RESULT_NOT_CONNECTED = 4,
    /// connect was called on a client that is connected or connecting.
    MQTTKIT_RESULT_ALREADY_CONNECTED = 5,
    /// A socket-level failure (DNS, refused TCP connection, reset, ...).
    MQTTKIT_RESULT_NETWORK = 6,
    /// The peer broke the protocol.
    MQTTKIT_RESULT_PROTOCOL_VIOLATION = 7,
    /// Bytes from the server could not be decoded.
    MQTTKIT_RESULT_PACKET_PARSING = 8,
    /// The server answered PUBLISH with a failure reason code.
    MQTTKIT_RESULT_PUBLISH_FAILED = 9,
    /// The server refused one or more subscriptions.
    MQTTKIT_RESULT_SUBSCRIBE_FAILED = 10,
    /// The server refused one or more unsubscriptions.
    MQTTKIT_RESULT_UNSUBSCRIBE_FAILED = 11,
    /// The offline buffer or the command queue is full.
    MQTTKIT_RESULT_BUFFER_FULL = 12,
    /// The client was shut down (freed); no operation can run any more.
    MQTTKIT_RESULT_CHANNEL_CLOSED = 13,
    /// All 65,535 packet identifiers are in flight.
    MQTTKIT_RESULT_PACKET_ID_EXHAUSTED = 14,
    /// Client options that cannot work together, or a malformed URL.
    MQTTKIT_RESULT_INVALID_CONFIGURATION = 15,
    /// A bad argument: invalid topic or filter, QoS above 2, a string that is not UTF-8, a
    /// length without data, ... (raised by the core and by the C boundary alike).
    MQTTKIT_RESULT_INVALID_ARGUMENT = 16,
    /// Enhanced authentication failed.
    MQTTKIT_RESULT_AUTH_FAILED = 17,
    /// A bug in mqttkit: please report it.
    MQTTKIT_RESULT_INTERNAL = 18,
    /// A required pointer argument was NULL.
    MQTTKIT_RESULT_NULL_PARAMETER = 100,
    /// mqttkit panicked inside the call; the panic was caught at the boundary. The object the
    /// call was made on may be in an unspecified (but memory-safe) state.
    MQTTKIT_RESULT_PANIC = 101,
    /// A feature this build of the library does not contain (e.g. the embedded broker).
    MQTTKIT_RESULT_UNSUPPORTED = 102,
}

use mqttkit_result::*;

impl mqttkit_result {
    /// The C result for a core error kind. Exhaustive: a new core kind fails to compile here.
    pub(crate) fn from_kind(kind: ErrorKind) -> mqttkit_result {
        match kind {
            ErrorKind::Timeout => MQTTKIT_RESULT_TIMEOUT,
            ErrorKind::ConnectionRefused => MQTTKIT_RESULT_CONNECTION_REFUSED,
            ErrorKind::ConnectionLost => MQTTKIT_RESULT_CONNECTION_LOST,
            ErrorKind::NotConnected => MQTTKIT_RESULT_NOT_CONNECTED,
            ErrorKind::AlreadyConnected => MQTTKIT_RESULT_ALREADY_CONNECTED,
            ErrorKind::Network => MQTTKIT_RESULT_NETWORK,
            ErrorKind::ProtocolViolation => MQTTKIT_RESULT_PROTOCOL_VIOLATION,
            ErrorKind::PacketParsing => MQTTKIT_RESULT_PACKET_PARSING,
            ErrorKind::PublishFailed => MQTTKIT_RESULT_PUBLISH_FAILED,
            ErrorKind::SubscribeFailed => MQTTKIT_RESULT_SUBSCRIBE_FAILED,
            ErrorKind::UnsubscribeFailed => MQTTKIT_RESULT_UNSUBSCRIBE_FAILED,
            ErrorKind::BufferFull => MQTTKIT_RESULT_BUFFER_FULL,
            ErrorKind::ChannelClosed => MQTTKIT_RESULT_CHANNEL_CLOSED,
            ErrorKind::PacketIdExhausted => MQTTKIT_RESULT_PACKET_ID_EXHAUSTED,
            ErrorKind::InvalidConfiguration => MQTTKIT_RESULT_INVALID_CONFIGURATION,
            ErrorKind::InvalidArgument => MQTTKIT_RESULT_INVALID_ARGUMENT,
            ErrorKind::AuthFailed => MQTTKIT_RESULT_AUTH_FAILED,
            ErrorKind::Internal => MQTTKIT_RESULT_INTERNAL,
        }
    }

    /// Every result, in numeric order.
    pub(crate) const ALL: &'static [mqttkit_result] = &[
        MQTTKIT_RESULT_OK,
        MQTTKIT_RESULT_TIMEOUT,
        MQTTKIT_RESULT_CONNECTION_REFUSED,
        MQTTKIT_RESULT_CONNECTION_LOST,
        MQTTKIT_RESULT_NOT_CONNECTED,
        MQTTKIT_RESULT_ALREADY_CONNECTED,
        MQTTKIT_RESULT_NETWORK,
        MQTTKIT_RESULT_PROTOCOL_VIOLATION,
        MQTTKIT_RESULT_PACKET_PARSING,
        MQTTKIT_RESULT_PUBLISH_FAILED,
        MQTTKIT_RESULT_SUBSCRIBE_FAILED,
        MQTTKIT_RESULT_UNSUBSCRIBE_FAILED,
        MQTTKIT_RESULT_BUFFER_FULL,
        MQTTKIT_RESULT_CHANNEL_CLOSED,
        MQTTKIT_RESULT_PACKET_ID_EXHAUSTED,
        MQTTKIT_RESULT_INVALID_CONFIGURATION,
        MQTTKIT_RESULT_INVALID_ARGUMENT,
        MQTTKIT_RESULT_AUTH_FAILED,
        MQTTKIT_RESULT_INTERNAL,
        MQTTKIT_RESULT_NULL_PARAMETER,
        MQTTKIT_RESULT_PANIC,
        MQTTKIT_RESULT_UNSUPPORTED,
    ];

    /// The stable name, NUL-terminated: the core kind's name (`"TIMEOUT"`) or the boundary's.
    fn name(self) -> &'static str {
        match self {
            MQTTKIT_RESULT_OK => "OK\0",
            MQTTKIT_RESULT_TIMEOUT => "TIMEOUT\0",
            MQTTKIT_RESULT_CONNECTION_REFUSED => "CONNECTION_REFUSED\0",
            MQTTKIT_RESULT_CONNECTION_LOST => "CONNECTION_LOST\0",
            MQTTKIT_RESULT_NOT_CONNECTED => "NOT_CONNECTED\0",
            MQTTKIT_RESULT_ALREADY_CONNECTED => "ALREADY_CONNECTED\0",
            MQTTKIT_RESULT_NETWORK => "NETWORK\0",
            MQTTKIT_RESULT_PROTOCOL_VIOLATION => "PROTOCOL_VIOLATION\0",
            MQTTKIT_RESULT_PACKET_PARSING => "PACKET_PARSING\0",
            MQTTKIT_RESULT_PUBLISH_FAILED => "PUBLISH_FAILED\0",
            MQTTKIT_RESULT_SUBSCRIBE_FAILED => "SUBSCRIBE_FAILED\0",
            MQTTKIT_RESULT_UNSUBSCRIBE_FAILED => "UNSUBSCRIBE_FAILED\0",
            MQTTKIT_RESULT_BUFFER_FULL => "BUFFER_FULL\0",
            MQTTKIT_RESULT_CHANNEL_CLOSED => "CHANNEL_CLOSED\0",
            MQTTKIT_RESULT_PACKET_ID_EXHAUSTED => "PACKET_ID_EXHAUSTED\0",
            MQTTKIT_RESULT_INVALID_CONFIGURATION => "INVALID_CONFIGURATION\0",
            MQTTKIT_RESULT_INVALID_ARGUMENT => "INVALID_ARGUMENT\0",
            MQTTKIT_RESULT_AUTH_FAILED => "AUTH_FAILED\0",
            MQTTKIT_RESULT_INTERNAL => "INTERNAL\0",
            MQTTKIT_RESULT_NULL_PARAMETER => "NULL_PARAMETER\0",
            MQTTKIT_RESULT_PANIC => "PANIC\0",
            MQTTKIT_RESULT_UNSUPPORTED => "UNSUPPORTED\0",
        }
    }
}

/// A failed call inside the library: the code returned to C and the detail kept for
/// `mqttkit_last_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: mqttkit_result,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: mqttkit_result, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(MQTTKIT_RESULT_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure { code: mqttkit_result::from_kind(error.kind()), message: error.to_string() }
    }
}

/// Result type of the library's internals.
pub(crate) type FfiResult<T> = Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        last.clear();
        last.push_str(message);
    });
}

/// Records a failure and returns its code.
pub(crate) fn fail(failure: Failure) -> mqttkit_result {
    set_last_error(&failure.message);
    failure.code
}

/// A static, NUL-terminated name for `result`: `"OK"`, `"TIMEOUT"`, ..., `"NULL_PARAMETER"`,
/// `"PANIC"`; `"UNKNOWN"` for a number that is not a result. Never NULL; do not free.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_result_str(result: i32) -> *const c_char {
    crate::ffi_boundary! {
        let name = mqttkit_result::ALL
            .iter()
            .find(|candidate| **candidate as i32 == result)
            .map_or("UNKNOWN\0", |known| known.name());
        name.as_ptr().cast::<c_char>()
    }
}

/// Copies the detailed message of the last failed mqttkit call made on this thread into
/// `buf` (at most `len - 1` bytes, always NUL-terminated when `len > 0`) and returns the
/// full length of the message (without NUL), like `snprintf`: a return value `>= len` means
/// it was truncated. `buf` may be NULL when `len` is 0, to ask for the length. The message
/// is empty (returns 0) when no call failed yet on this thread. Failures reported through a
/// completion callback carry their message in the completion instead.
///
/// # Safety
/// `buf` must point to `len` writable bytes (or be NULL with `len` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_last_error(buf: *mut c_char, len: usize) -> usize {
    crate::ffi_boundary! {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let bytes = last.as_bytes();
            if !buf.is_null() && len > 0 {
                let n = bytes.len().min(len - 1);
                // SAFETY: the caller promises `len` writable bytes at `buf`; n < len.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            bytes.len()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_maps_to_the_same_number_and_name() {
        for kind in ErrorKind::ALL {
            let result = mqttkit_result::from_kind(*kind);
            assert_eq!(result as i32, kind.code(), "{kind:?}");
            assert_eq!(result.name().trim_end_matches('\0'), kind.name());
        }
        assert_eq!(mqttkit_result::ALL.len(), ErrorKind::ALL.len() + 4);
        for result in mqttkit_result::ALL {
            assert!(result.name().ends_with('\0'));
        }
    }
}
