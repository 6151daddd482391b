//! The boundary every exported function goes through: the panic boundary macro, the
//! pointer-check macros, and conversions of C arguments.

use std::cell::Cell;
use std::ffi::{CStr, c_char, c_void};
use std::sync::Once;

use crate::error::{Failure, FfiResult, mqttkit_result, set_last_error};

/// What an exported function returns when its body panicked or an argument check failed.
pub(crate) trait FfiDefault {
    /// The value returned for a failure with `code`.
    fn ffi_fail(code: mqttkit_result) -> Self;
}

impl FfiDefault for mqttkit_result {
    fn ffi_fail(code: mqttkit_result) -> Self {
        code
    }
}
impl<T> FfiDefault for *const T {
    fn ffi_fail(_: mqttkit_result) -> Self {
        std::ptr::null()
    }
}
impl<T> FfiDefault for *mut T {
    fn ffi_fail(_: mqttkit_result) -> Self {
        std::ptr::null_mut()
    }
}
impl FfiDefault for () {
    fn ffi_fail(_: mqttkit_result) -> Self {}
}
impl FfiDefault for bool {
    fn ffi_fail(_: mqttkit_result) -> Self {
        false
    }
}
macro_rules! zero_default {
    ($($t:ty),*) => { $(impl FfiDefault for $t { fn ffi_fail(_: mqttkit_result) -> Self { 0 } })* };
}
zero_default!(u8, u16, u32, u64, usize, i32);

thread_local! {
    /// Set while this thread runs inside the panic boundary or is a dispatch thread: the
    /// panic hook then records the panic instead of printing it.
    static INSIDE: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Installs (once per process) a panic hook that keeps panics caught at the boundary off the
/// host's stderr and records them as the thread's last error; panics elsewhere go to the
/// previous hook.
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if INSIDE.with(Cell::get) > 0 {
                set_last_error(&format!("panic inside mqttkit: {info}"));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body` marked as inside the boundary, catching any panic.
pub(crate) fn guarded<T: FfiDefault>(body: impl FnOnce() -> T) -> T {
    install_panic_hook();
    INSIDE.with(|inside| inside.set(inside.get() + 1));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    INSIDE.with(|inside| inside.set(inside.get().saturating_sub(1)));
    match outcome {
        Ok(value) => value,
        Err(_) => T::ffi_fail(mqttkit_result::MQTTKIT_RESULT_PANIC),
    }
}

/// Panic boundary: every exported function's body is wrapped in this. A panic becomes
/// `MQTTKIT_RESULT_PANIC` (or NULL / 0 / false / nothing, by return type) with the panic
/// message as the thread's last error; it never unwinds into C.
#[macro_export]
#[doc(hidden)]
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        $crate::ffi::guarded(move || { $($body)* })
    };
}

/// Panic boundary for functions returning `mqttkit_result` whose body is an
/// `FfiResult<()>`: `Err` becomes its code plus the thread's last error.
#[macro_export]
#[doc(hidden)]
macro_rules! ffi_result {
    ($($body:tt)*) => {
        $crate::ffi::guarded(move || {
            let outcome: $crate::error::FfiResult<()> = (move || { $($body)* })();
            match outcome {
                Ok(()) => $crate::error::mqttkit_result::MQTTKIT_RESULT_OK,
                Err(failure) => $crate::error::fail(failure),
            }
        })
    };
}

/// Checks a pointer argument and borrows it: `NULL` fails with `MQTTKIT_RESULT_NULL_PARAMETER`
/// naming the argument. Use inside `ffi_result!` bodies.
#[macro_export]
#[doc(hidden)]
macro_rules! check_ref {
    ($ptr:ident) => {
        $crate::ffi::arg_ref($ptr, stringify!($ptr))?
    };
}

/// Checks a `const char *` argument: not NULL and UTF-8.
#[macro_export]
#[doc(hidden)]
macro_rules! check_str {
    ($ptr:ident) => {
        $crate::ffi::arg_str($ptr, stringify!($ptr))?
    };
}

/// Checks a `(const uint8_t *, size_t)` pair: NULL only with length 0.
#[macro_export]
#[doc(hidden)]
macro_rules! check_bytes {
    ($ptr:ident, $len:ident) => {
        $crate::ffi::arg_bytes($ptr, $len, stringify!($ptr))?
    };
}

fn null(name: &str) -> Failure {
    Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, format!("argument `{name}` is NULL"))
}

/// Borrows `ptr`, failing on NULL.
pub(crate) fn arg_ref<'a, T>(ptr: *const T, name: &str) -> FfiResult<&'a T> {
    // SAFETY: the C caller promises that a non-NULL pointer points to a live object of the
    // type the header names; NULL is checked here.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// Borrows a NUL-terminated UTF-8 string.
pub(crate) fn arg_str<'a>(ptr: *const c_char, name: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|_| Failure::invalid(format!("argument `{name}` is not valid UTF-8")))
}

/// Borrows an optional string: NULL is `None`.
pub(crate) fn arg_opt_str<'a>(ptr: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() { Ok(None) } else { arg_str(ptr, name).map(Some) }
}

/// Borrows `len` bytes at `ptr`; `ptr` may be NULL only when `len` is 0.
pub(crate) fn arg_bytes<'a>(ptr: *const u8, len: usize, name: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(name));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!("argument `{name}`: length {len} is too large")));
    }
    // SAFETY: non-NULL, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `value` to an optional out-parameter.
pub(crate) fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller promises that a non-NULL out-parameter is writable.
        unsafe { out.write(value) };
    }
}

/// The QoS from a C integer.
pub(crate) fn arg_qos(qos: i32) -> FfiResult<mqttkit::protocol::QoS> {
    u8::try_from(qos)
        .ok()
        .and_then(mqttkit::protocol::QoS::from_u8)
        .ok_or_else(|| Failure::invalid(format!("QoS must be 0, 1 or 2, got {qos}")))
}

/// A `void *user_data` handed back to C, possibly on another thread. The C caller owns what
/// it points to and promises it may be used from mqttkit's threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: mqttkit never dereferences user_data; it only hands it back to the caller's
// callbacks, which the header documents as running on mqttkit's dispatch thread.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// Marks the current thread as a dispatch thread for the panic hook.
pub(crate) fn enter_dispatch_thread() {
    install_panic_hook();
    INSIDE.with(|inside| inside.set(inside.get() + 1));
}
