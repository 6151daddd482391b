//! Connect, disconnect, publish, ping and auth, each in its asynchronous form (completion
//! callback, or fire-and-forget with a NULL callback) and its blocking `_sync` form, with a
//! per-call timeout in both. Subscriptions are in `subscriptions.rs`.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use mqttkit::Operation;
use mqttkit::client::{NO_TIMEOUT, PublishOptions};
use mqttkit::protocol::{DisconnectProperties, ReasonCode};

use crate::call_options::mqttkit_disconnect_options_t;
use crate::client::{Outcome, mqttkit_client_t, mqttkit_completion_cb};
use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::ffi::{arg_bytes, arg_opt_str, arg_qos, write_out};
use crate::options::mqttkit_publish_options_t;
use crate::{check_bytes, check_ref, check_str, ffi_result};

/// `timeout_ms` value meaning "no limit": the operation waits as long as it takes. (0 means
/// the client's configured timeout for that operation; anything else is milliseconds.)
pub const MQTTKIT_NO_TIMEOUT: u32 = u32::MAX;

/// The limit of one call: `default` for 0, none for `MQTTKIT_NO_TIMEOUT`, else `ms`.
pub(crate) fn call_limit(ms: u32, default: Option<Duration>) -> Option<Duration> {
    match ms {
        0 => default,
        MQTTKIT_NO_TIMEOUT => None,
        ms => Some(Duration::from_millis(ms.into())),
    }
}

/// A limit as the core's per-call option (`NO_TIMEOUT` for none).
pub(crate) fn as_option(limit: Option<Duration>) -> Option<Duration> {
    Some(limit.unwrap_or(NO_TIMEOUT))
}

/// The outcome of an operation that returns nothing but success.
pub(crate) fn fill_nothing(_: &mut Outcome, _: ()) {}

/// Connects and reports the CONNACK to `callback` (`session_present`, `reason_code`), at
/// most `timeout_ms` after the call (0: the client's connect timeout, `MQTTKIT_NO_TIMEOUT`:
/// no limit). With `callback` NULL it is fire-and-forget (`timeout_ms` is not used): the
/// result arrives as a connected or error event, and failed attempts are retried according
/// to the reconnect policy.
///
/// Asynchronous functions return `MQTTKIT_RESULT_OK` once the operation was handed to the
/// connection (operations go out in call order; while the client's command queue is full
/// the call waits for room, at most 10 s): the callback then runs exactly once, on the
/// client's dispatch thread (possibly before the function has returned to its caller, never
/// inside it). Only invalid arguments (`MQTTKIT_RESULT_NULL_PARAMETER`,
/// `MQTTKIT_RESULT_INVALID_ARGUMENT`) and a shut-down client
/// (`MQTTKIT_RESULT_CHANNEL_CLOSED`) are returned directly, and then the callback never
/// runs; every other failure (network, timeout, refusal, ...) goes to the callback.
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_connect(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().connect);
        match callback {
            None => handle.enqueue(Operation::Connect, client.connect_nowait()),
            Some(_) => handle.start(Operation::Connect, client.submit_connect(limit), callback, user_data, |o, r| {
                o.session_present = r.session_present;
                o.reason_code = r.reason_code as u8;
            }),
        }
    }
}

/// Connects and waits for the CONNACK, at most `timeout_ms` (0: the client's connect
/// timeout, `MQTTKIT_NO_TIMEOUT`: no limit). On success writes `*session_present` (may be
/// NULL). A refusal is `MQTTKIT_RESULT_CONNECTION_REFUSED`, an unreachable server
/// `MQTTKIT_RESULT_NETWORK`.
///
/// Blocking functions (`_sync`) may be called from any thread, including callbacks; inside
/// a callback, events queue up meanwhile and a full event queue holds the connection until
/// the call times out, so prefer the asynchronous forms there.
///
/// # Safety
/// `client` NULL or live; `session_present` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_connect_sync(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
    session_present: *mut bool,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().connect);
        let result = handle.wait(Operation::Connect, limit, client.connect_with_timeout(limit))?;
        write_out(session_present, result.session_present);
        Ok(())
    }
}

fn disconnect_reason(reason_code: u8) -> FfiResult<ReasonCode> {
    ReasonCode::from_u8(reason_code)
        .ok_or_else(|| Failure::invalid(format!("0x{reason_code:02X} is not an MQTT reason code")))
}

fn disconnect_properties(options: *const mqttkit_disconnect_options_t) -> DisconnectProperties {
    // SAFETY: NULL or live, per the caller's contract.
    unsafe { options.as_ref() }.map(|o| o.inner.clone()).unwrap_or_default()
}

/// Starts a disconnect in either form.
fn disconnect(
    handle: &mqttkit_client_t,
    reason: ReasonCode,
    properties: DisconnectProperties,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> FfiResult<()> {
    let client = handle.core();
    let limit = call_limit(timeout_ms, client.options().timeouts().auth);
    match callback {
        None => handle.enqueue(Operation::Disconnect, client.disconnect_with_nowait(reason, properties)),
        Some(_) => handle.start(
            Operation::Disconnect,
            client.submit_disconnect_with(reason, properties, limit),
            callback,
            user_data,
            fill_nothing,
        ),
    }
}

/// Disconnects (normal DISCONNECT, no will, no reconnect) and reports to `callback` once the
/// connection is closed, at most `timeout_ms` after the call (0: the client's auth timeout,
/// 10 s by default; `MQTTKIT_NO_TIMEOUT`: no limit). NULL `callback`: fire-and-forget (a
/// disconnected event follows). The client may connect again afterwards. Allowed from
/// inside any callback.
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        disconnect(handle, ReasonCode::Success, DisconnectProperties::default(), timeout_ms, callback, user_data)
    }
}

/// Disconnects and waits until the connection is closed, at most `timeout_ms` (0: the
/// client's auth timeout, 10 s by default; `MQTTKIT_NO_TIMEOUT`: no limit).
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect_sync(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().auth);
        handle.wait(Operation::Disconnect, limit, client.disconnect_with_timeout(ReasonCode::Success, DisconnectProperties::default(), limit))
    }
}

/// Disconnects with an MQTT 5 DISCONNECT reason code (e.g. 0x04, Disconnect with Will
/// Message: the server publishes the will) and the properties in `options` (NULL for none;
/// copied: Session Expiry Interval, Reason String, User Properties, Server Reference), and
/// reports to `callback` once the connection is closed, at most `timeout_ms` after the call
/// (as `mqttkit_client_disconnect`). A code DISCONNECT cannot carry is
/// `MQTTKIT_RESULT_INVALID_ARGUMENT`. NULL `callback`: fire-and-forget (a disconnected
/// event follows).
///
/// # Safety
/// `client` NULL or live; `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect_with_reason(
    client: *const mqttkit_client_t,
    reason_code: u8,
    options: *const mqttkit_disconnect_options_t,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let reason = disconnect_reason(reason_code)?;
        disconnect(handle, reason, disconnect_properties(options), timeout_ms, callback, user_data)
    }
}

/// `mqttkit_client_disconnect_with_reason`, blocking at most `timeout_ms` (0: the client's
/// auth timeout; `MQTTKIT_NO_TIMEOUT`: no limit).
///
/// # Safety
/// `client` NULL or live; `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect_with_reason_sync(
    client: *const mqttkit_client_t,
    reason_code: u8,
    options: *const mqttkit_disconnect_options_t,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let reason = disconnect_reason(reason_code)?;
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().auth);
        handle.wait(Operation::Disconnect, limit, client.disconnect_with_timeout(reason, disconnect_properties(options), limit))
    }
}

/// Builds the core publish arguments from C arguments, with the limit of this call.
#[allow(clippy::too_many_arguments)]
unsafe fn publish_args(
    handle: &mqttkit_client_t,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: bool,
    options: *const mqttkit_publish_options_t,
    timeout_ms: u32,
) -> FfiResult<(ByteString, Bytes, PublishOptions, Option<Duration>)> {
    let topic = ByteString::from(check_str!(topic).to_owned());
    let payload = Bytes::copy_from_slice(check_bytes!(payload, payload_len));
    // SAFETY: NULL or live, per the caller's contract.
    let mut publish = unsafe { options.as_ref() }.map(|o| o.inner.clone()).unwrap_or_default();
    publish.qos = arg_qos(qos)?;
    publish.retain = retain;
    let limit = call_limit(timeout_ms, handle.core().options().timeouts().publish);
    publish.timeout = as_option(limit);
    Ok((topic, payload, publish, limit))
}

/// Publishes `payload_len` bytes at `payload` (copied; NULL allowed with length 0) to
/// `topic` (copied) with `qos` 0..2 and `retain`, plus optional MQTT 5 properties from
/// `options` (may be NULL; copied). `callback` gets the acknowledgement (PUBACK for QoS 1,
/// PUBCOMP for QoS 2, hand-over to the connection for QoS 0) with `packet_id` and
/// `reason_code`, or `MQTTKIT_RESULT_TIMEOUT` when none came within `timeout_ms` (0: the
/// client's publish timeout, `MQTTKIT_NO_TIMEOUT`: no limit). NULL `callback`:
/// fire-and-forget (`timeout_ms` not used) — QoS 1/2 acknowledgements arrive as published
/// events, failures as error events. Messages are sent in call order. While the client
/// reconnects, messages wait in the offline buffer.
///
/// # Safety
/// `client` NULL or live; `topic` NUL-terminated; `payload` readable for `payload_len`;
/// `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_publish(
    client: *const mqttkit_client_t,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: bool,
    options: *const mqttkit_publish_options_t,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        // SAFETY: forwarded caller contract.
        let (topic, payload, publish, _) =
            unsafe { publish_args(handle, topic, payload, payload_len, qos, retain, options, timeout_ms) }?;
        let client = handle.core();
        match callback {
            None => handle.enqueue(Operation::Publish, client.publish_with_nowait(topic, payload, publish)),
            Some(_) => handle.start(Operation::Publish, client.submit_publish_with(topic, payload, publish), callback, user_data, |o, r| {
                o.packet_id = r.packet_id.unwrap_or(0);
                o.reason_code = r.reason_code as u8;
            }),
        }
    }
}

/// Publishes and waits for the acknowledgement, at most `timeout_ms` (0: the client's
/// publish timeout, `MQTTKIT_NO_TIMEOUT`: no limit). On success writes the packet
/// identifier to `*packet_id` (0 for QoS 0; may be NULL). A refusal by the server is
/// `MQTTKIT_RESULT_PUBLISH_FAILED`.
///
/// # Safety
/// As `mqttkit_client_publish`; `packet_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_publish_sync(
    client: *const mqttkit_client_t,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: bool,
    options: *const mqttkit_publish_options_t,
    timeout_ms: u32,
    packet_id: *mut u16,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        // SAFETY: forwarded caller contract.
        let (topic, payload, publish, limit) =
            unsafe { publish_args(handle, topic, payload, payload_len, qos, retain, options, timeout_ms) }?;
        let result = handle.wait(Operation::Publish, limit, handle.core().publish_with(topic, payload, publish))?;
        write_out(packet_id, result.packet_id.unwrap_or(0));
        Ok(())
    }
}

fn round_trip_us(round_trip: Duration) -> u64 {
    u64::try_from(round_trip.as_micros()).unwrap_or(u64::MAX)
}

/// Sends PINGREQ and reports the PINGRESP to `callback` (`round_trip_us`), or
/// `MQTTKIT_RESULT_TIMEOUT` when none came within `timeout_ms` (0: the client's ping
/// timeout, `MQTTKIT_NO_TIMEOUT`: no limit). NULL `callback`: fire-and-forget (ping event).
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_ping(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().ping);
        match callback {
            None => handle.enqueue(Operation::Ping, client.ping_nowait()),
            Some(_) => handle.start(Operation::Ping, client.submit_ping(limit), callback, user_data, |o, r| {
                o.round_trip_us = round_trip_us(r.round_trip);
            }),
        }
    }
}

/// Pings and waits for the PINGRESP, at most `timeout_ms` (0: the client's ping timeout,
/// `MQTTKIT_NO_TIMEOUT`: no limit). On success writes the round trip in microseconds to
/// `*round_trip_us` (may be NULL).
///
/// # Safety
/// `client` NULL or live; `round_trip_us` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_ping_sync(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
    round_trip_us: *mut u64,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().ping);
        let result = handle.wait(Operation::Ping, limit, client.ping_with_timeout(limit))?;
        write_out(round_trip_us, self::round_trip_us(result.round_trip));
        Ok(())
    }
}

/// What an auth call asks for.
enum AuthRequest {
    /// AUTH Continue authentication (0x18) with this method and data.
    Continue(String, Option<Bytes>),
    /// AUTH Re-authenticate (0x19) by hand, with this method and data.
    ReAuthenticateWith(String, Option<Bytes>),
    /// Re-authentication run by the configured authenticator.
    ReAuthenticate,
}

fn auth_request(
    reauthenticate: bool,
    method: *const c_char,
    data: *const u8,
    len: usize,
) -> FfiResult<AuthRequest> {
    let method = arg_opt_str(method, "method")?.map(str::to_owned);
    let data = if data.is_null() && len == 0 {
        None
    } else {
        Some(Bytes::copy_from_slice(arg_bytes(data, len, "data")?))
    };
    match (reauthenticate, method) {
        (false, None) => Err(Failure::new(
            mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER,
            "argument `method` is NULL (only a re-authentication may leave it to the authenticator)",
        )),
        (false, Some(method)) => Ok(AuthRequest::Continue(method, data)),
        (true, Some(method)) => Ok(AuthRequest::ReAuthenticateWith(method, data)),
        (true, None) if data.is_none() => Ok(AuthRequest::ReAuthenticate),
        (true, None) => Err(Failure::invalid("authentication data without a method")),
    }
}

/// MQTT 5 enhanced authentication: sends AUTH with reason Re-authenticate (0x19) when
/// `reauthenticate` is true, else Continue authentication (0x18), with `method` (copied)
/// and optional `data` (copied; NULL with `len` 0 for none), and reports the server's
/// answer to `callback` (`reason_code`; an AUTH Continue also arrives as an auth event),
/// or `MQTTKIT_RESULT_TIMEOUT` when none came within `timeout_ms` (0: the client's auth
/// timeout, `MQTTKIT_NO_TIMEOUT`: no limit). A re-authentication with `method` NULL (and no
/// data) is run by the authenticator of the client options
/// (`mqttkit_client_options_set_authenticator`), which answers every challenge; it
/// completes on the server's AUTH Success. MQTT 3.1.1 clients get
/// `MQTTKIT_RESULT_INVALID_ARGUMENT`. NULL `callback`: fire-and-forget (the server's
/// answers arrive as auth events, failures as error events).
///
/// # Safety
/// `client` NULL or live; `method` NULL or NUL-terminated; `data` readable for `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_auth(
    client: *const mqttkit_client_t,
    reauthenticate: bool,
    method: *const c_char,
    data: *const u8,
    len: usize,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let request = auth_request(reauthenticate, method, data, len)?;
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().auth);
        let fill = |o: &mut Outcome, r: mqttkit::client::AuthResult| o.reason_code = r.reason_code as u8;
        match (request, callback) {
            (AuthRequest::Continue(method, data), None) => handle.enqueue(Operation::Auth, client.auth_continue_nowait(method, data)),
            (AuthRequest::ReAuthenticateWith(method, data), None) => handle.enqueue(Operation::Auth, client.re_authenticate_with_nowait(method, data)),
            (AuthRequest::ReAuthenticate, None) => handle.enqueue(Operation::Auth, client.re_authenticate_nowait()),
            (AuthRequest::Continue(method, data), Some(_)) => {
                handle.start(Operation::Auth, client.submit_auth_continue(method, data, limit), callback, user_data, fill)
            }
            (AuthRequest::ReAuthenticateWith(method, data), Some(_)) => {
                handle.start(Operation::Auth, client.submit_re_authenticate_with(method, data, limit), callback, user_data, fill)
            }
            (AuthRequest::ReAuthenticate, Some(_)) => {
                handle.start(Operation::Auth, client.submit_re_authenticate(limit), callback, user_data, fill)
            }
        }
    }
}

/// `mqttkit_client_auth`, blocking at most `timeout_ms` (0: the client's auth timeout,
/// `MQTTKIT_NO_TIMEOUT`: no limit). On success writes the server's reason code to
/// `*reason_code` (may be NULL).
///
/// # Safety
/// As `mqttkit_client_auth`; `reason_code` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_auth_sync(
    client: *const mqttkit_client_t,
    reauthenticate: bool,
    method: *const c_char,
    data: *const u8,
    len: usize,
    timeout_ms: u32,
    reason_code: *mut u8,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let request = auth_request(reauthenticate, method, data, len)?;
        let client = handle.core();
        let limit = call_limit(timeout_ms, client.options().timeouts().auth);
        let result = handle.wait(Operation::Auth, limit, async move {
            match request {
                AuthRequest::Continue(method, data) => client.auth_continue_with_timeout(method, data, limit).await,
                AuthRequest::ReAuthenticateWith(method, data) => {
                    client.submit_re_authenticate_with(method, data, limit).await?.wait().await
                }
                AuthRequest::ReAuthenticate => client.re_authenticate_with_timeout(limit).await,
            }
        })?;
        write_out(reason_code, result.reason_code as u8);
        Ok(())
    }
}
