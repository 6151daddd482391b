//! MQTT 5 enhanced authentication configured on `mqttkit_client_options_t`: an
//! authenticator written in C (`mqttkit_authenticator_t`) or the built-in SCRAM-SHA-256.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use bytes::Bytes;
use mqttkit::client::{AuthExchange, Authenticator, ScramSha256};

use crate::error::{Failure, mqttkit_result};
use crate::ffi::UserData;
use crate::options::{mqttkit_client_options_t, opts_mut};
use crate::{check_bytes, check_ref, check_str, ffi_result};

/// Authentication data written by an authenticator callback with `mqttkit_auth_data_set`.
/// Opaque; only valid during the callback that received it.
pub struct mqttkit_auth_data_t {
    data: Option<Bytes>,
}

/// Sets the authentication data an authenticator callback answers with (copied; `data` may
/// be NULL when `len` is 0, for empty data). Not calling it means "no data".
///
/// # Safety
/// `out` is the pointer the callback received; `data` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_auth_data_set(
    out: *mut mqttkit_auth_data_t,
    data: *const u8,
    len: usize,
) -> mqttkit_result {
    ffi_result! {
        // SAFETY: the pointer handed to the callback, live during it.
        let out = unsafe { out.as_mut() }
            .ok_or_else(|| Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `out` is NULL"))?;
        out.data = Some(Bytes::copy_from_slice(check_bytes!(data, len)));
        Ok(())
    }
}

/// MQTT 5 enhanced authentication implemented in C (SCRAM, Kerberos, ...): the client sends
/// the method in CONNECT (and on re-authentication) and lets these callbacks produce the
/// data. Unlike event callbacks, they run on mqttkit's runtime threads, synchronously in the
/// connection's task: keep them short, never block, and never call mqttkit client functions
/// from them. A callback returning anything but `MQTTKIT_RESULT_OK` fails the attempt with
/// `MQTTKIT_RESULT_AUTH_FAILED`. Any callback may be NULL (no data / accept).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mqttkit_authenticator_t {
    /// Starts one exchange (each connect or re-authentication): may write the initial data.
    pub start:
        Option<unsafe extern "C" fn(user_data: *mut c_void, out: *mut mqttkit_auth_data_t) -> mqttkit_result>,
    /// Answers the server's challenge (`challenge` valid during the call): may write data.
    pub respond: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            challenge: *const u8,
            len: usize,
            out: *mut mqttkit_auth_data_t,
        ) -> mqttkit_result,
    >,
    /// Checks the server's final data (CONNACK or AUTH Success; valid during the call).
    pub finish:
        Option<unsafe extern "C" fn(user_data: *mut c_void, data: *const u8, len: usize) -> mqttkit_result>,
}

struct CAuthenticator {
    method: String,
    callbacks: mqttkit_authenticator_t,
    user_data: UserData,
}

// SAFETY: the callbacks are plain function pointers; user_data is the caller's, who is told
// the callbacks run on mqttkit's runtime threads.
unsafe impl Send for CAuthenticator {}
// SAFETY: as above.
unsafe impl Sync for CAuthenticator {}

struct CExchange {
    callbacks: mqttkit_authenticator_t,
    user_data: UserData,
}

// SAFETY: as for CAuthenticator.
unsafe impl Send for CExchange {}

fn c_failure(what: &str, result: mqttkit_result) -> String {
    format!("the authenticator's {what} callback returned {result:?}")
}

impl Authenticator for CAuthenticator {
    fn method(&self) -> &str {
        &self.method
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        Box::new(CExchange { callbacks: self.callbacks, user_data: self.user_data })
    }
}

impl AuthExchange for CExchange {
    fn initial_data(&mut self) -> Option<Bytes> {
        let f = self.callbacks.start?;
        let mut out = mqttkit_auth_data_t { data: None };
        // SAFETY: registered by the C caller for this signature; `out` lives during the call.
        let result = unsafe { f(self.user_data.0, &mut out) };
        if result == mqttkit_result::MQTTKIT_RESULT_OK { out.data } else { None }
    }

    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        let Some(f) = self.callbacks.respond else { return Ok(None) };
        let challenge = challenge.unwrap_or(&[]);
        let mut out = mqttkit_auth_data_t { data: None };
        // SAFETY: as above; `challenge` lives during the call.
        let result = unsafe { f(self.user_data.0, challenge.as_ptr(), challenge.len(), &mut out) };
        if result == mqttkit_result::MQTTKIT_RESULT_OK {
            Ok(out.data)
        } else {
            Err(c_failure("respond", result))
        }
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        let Some(f) = self.callbacks.finish else { return Ok(()) };
        let data = data.unwrap_or(&[]);
        // SAFETY: as above.
        let result = unsafe { f(self.user_data.0, data.as_ptr(), data.len()) };
        if result == mqttkit_result::MQTTKIT_RESULT_OK { Ok(()) } else { Err(c_failure("finish", result)) }
    }
}

/// Runs enhanced authentication with `method` (copied) and the C `authenticator` callbacks
/// (copied; `user_data` is passed to them) at every connect and on
/// `mqttkit_client_auth(..., reauthenticate = true, method = NULL, ...)`. MQTT 5 only. See
/// `mqttkit_authenticator_t` for the threads these callbacks run on.
///
/// # Safety
/// `options` live; `method` NUL-terminated; `authenticator` NULL or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_authenticator(
    options: *mut mqttkit_client_options_t,
    method: *const c_char,
    authenticator: *const mqttkit_authenticator_t,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let method = check_str!(method).to_owned();
        let callbacks = *check_ref!(authenticator);
        let authenticator = Arc::new(CAuthenticator { method, callbacks, user_data: UserData(user_data) });
        options.push(move |b| b.authenticator(SharedAuthenticator(authenticator.clone())));
        Ok(())
    }
}

/// One C authenticator shared by every client built from the same options.
struct SharedAuthenticator(Arc<CAuthenticator>);

impl Authenticator for SharedAuthenticator {
    fn method(&self) -> &str {
        self.0.method()
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        self.0.start()
    }
}

/// Runs SCRAM-SHA-256 enhanced authentication (RFC 5802 / 7677, method "SCRAM-SHA-256")
/// with `username` and `password` (both copied) at every connect and on
/// `mqttkit_client_auth(..., reauthenticate = true, method = NULL, ...)`: the server proves
/// it knows the password too. MQTT 5 only. Replaces an authenticator set before.
///
/// # Safety
/// `options` NULL or live; `username` and `password` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_scram_sha256(
    options: *mut mqttkit_client_options_t,
    username: *const c_char,
    password: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let (username, password) = (check_str!(username).to_owned(), check_str!(password).to_owned());
        options.push(move |b| b.authenticator(ScramSha256::new(username.clone(), password.clone())));
        Ok(())
    }
}
