//! Events: the C callback types, their registration, the received-message handle with its
//! accessors, and the one conversion of core [`Event`]s into callback calls.

use std::ffi::{CString, c_char, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use mqttkit::client::Message;
use mqttkit::dispatch::Event;

use crate::client::mqttkit_client_t;
use crate::error::{Failure, mqttkit_result};
use crate::ffi::{UserData, write_out};
use crate::{check_ref, ffi_result};

/// Connected: a CONNACK Success arrived. `assigned_client_id` is the identifier the server
/// assigned (MQTT 5, when the client sent none) or NULL; valid during the call only.
pub type mqttkit_connected_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, session_present: bool, assigned_client_id: *const c_char),
>;
/// Disconnected: the connection ended at the application's request (`by_server` false,
/// reason 0) or the server sent DISCONNECT with `reason_code`.
pub type mqttkit_disconnected_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, reason_code: u8, by_server: bool)>;
/// A message arrived. `message` and everything read from it are valid during the call only;
/// keep it with `mqttkit_message_copy`.
pub type mqttkit_message_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, message: *const mqttkit_message_t)>;
/// A fire-and-forget publish (QoS 1/2) was acknowledged; `reason_code` 0 is success.
pub type mqttkit_published_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, packet_id: u16, reason_code: u8)>;
/// A fire-and-forget subscribe or unsubscribe was acknowledged: one reason code per filter
/// (`reason_codes` valid during the call only; may be empty for MQTT 3.1.1 UNSUBACK).
pub type mqttkit_subscribed_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, packet_id: u16, reason_codes: *const u8, count: usize),
>;
/// A fire-and-forget ping was answered after `round_trip_us` microseconds.
pub type mqttkit_ping_cb = Option<unsafe extern "C" fn(user_data: *mut c_void, round_trip_us: u64)>;
/// An error nobody waits for (a fire-and-forget operation failed, a reconnect failed), or a
/// lost connection. `message` is NUL-terminated and valid during the call only.
pub type mqttkit_error_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, result: mqttkit_result, message: *const c_char)>;
/// A reconnect attempt starts after `delay_ms`.
pub type mqttkit_reconnect_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, attempt: u32, delay_ms: u64)>;
/// `count` operations were failed because the server had no session after a reconnect.
pub type mqttkit_cleared_cb = Option<unsafe extern "C" fn(user_data: *mut c_void, count: usize)>;
/// The server sent AUTH (MQTT 5 enhanced authentication). `method` (NUL-terminated, may be
/// NULL) and `data` are valid during the call only.
pub type mqttkit_auth_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        reason_code: u8,
        method: *const c_char,
        data: *const u8,
        len: usize,
    ),
>;
/// The TLS peer certificate (DER) of a new connection; valid during the call only.
pub type mqttkit_certificate_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, der: *const u8, len: usize)>;

/// One registered callback: the function and its user data.
#[derive(Clone, Copy)]
struct Slot<F: Copy> {
    callback: F,
    user_data: UserData,
}

impl<F: Copy + Default> Default for Slot<F> {
    fn default() -> Self {
        Slot { callback: F::default(), user_data: UserData(std::ptr::null_mut()) }
    }
}

/// The event callbacks of one client.
#[derive(Clone, Copy, Default)]
pub(crate) struct Callbacks {
    connected: Slot<mqttkit_connected_cb>,
    disconnected: Slot<mqttkit_disconnected_cb>,
    message: Slot<mqttkit_message_cb>,
    published: Slot<mqttkit_published_cb>,
    subscribed: Slot<mqttkit_subscribed_cb>,
    unsubscribed: Slot<mqttkit_subscribed_cb>,
    ping: Slot<mqttkit_ping_cb>,
    error: Slot<mqttkit_error_cb>,
    connection_lost: Slot<mqttkit_error_cb>,
    reconnect: Slot<mqttkit_reconnect_cb>,
    cleared: Slot<mqttkit_cleared_cb>,
    auth: Slot<mqttkit_auth_cb>,
    certificate: Slot<mqttkit_certificate_cb>,
}

/// What a client's dispatch thread shares with the handle.
#[derive(Default)]
pub(crate) struct DispatchState {
    callbacks: Mutex<Callbacks>,
    /// Set when the client is being freed: no event callback runs any more.
    pub(crate) closed: AtomicBool,
}

/// Registers the callback for new connections (CONNACK Success).
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_connected_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_connected_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.connected = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for ended connections (application or server DISCONNECT).
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_disconnected_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_disconnected_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.disconnected = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for received messages.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_message_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_message_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.message = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for acknowledgements of fire-and-forget publishes (no
/// completion callback given).
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_published_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_published_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.published = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for SUBACKs of fire-and-forget subscribes.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_subscribed_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_subscribed_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.subscribed = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for UNSUBACKs of fire-and-forget unsubscribes.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_unsubscribed_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_subscribed_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.unsubscribed = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for PINGRESPs of fire-and-forget pings.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_ping_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_ping_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.ping = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for errors nobody waits for.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_error_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_error_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.error = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for lost connections (the client then reconnects if its
/// policy says so).
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_connection_lost_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_error_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.connection_lost = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for reconnect attempts.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_reconnect_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_reconnect_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.reconnect = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for operations cleared after a reconnect without session.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_pending_cleared_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_cleared_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.cleared = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for AUTH packets from the server.
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_auth_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_auth_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.auth = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

/// Registers the callback for TLS peer certificates (`mqtts://`, `wss://`).
///
/// Replaces the previous callback of this kind; NULL `callback` removes it. Runs on the
/// client's dispatch thread. `user_data` is passed back unchanged and never dereferenced by
/// mqttkit. May be called from any thread, including from inside a callback; takes effect
/// from the next event.
///
/// # Safety
/// `client` must be NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_set_peer_certificate_callback(
    client: *const mqttkit_client_t,
    callback: mqttkit_certificate_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let client = check_ref!(client);
        let mut callbacks = client.state().callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.certificate = Slot { callback, user_data: UserData(user_data) };
        Ok(())
    }
}

fn cstring(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// Calls the registered callbacks for one event. Runs on the dispatch thread, with no lock
/// held while C code runs. `scratch` is reused for message topics.
pub(crate) fn deliver(state: &DispatchState, event: Event, scratch: &mut Vec<u8>) {
    if state.closed.load(Ordering::Acquire) {
        return;
    }
    let cb = *state.callbacks.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY (every call below): the C caller registered the function for this signature
    // and promised it may run on mqttkit's dispatch thread; every pointer passed stays valid
    // for the duration of the call.
    match event {
        Event::Connected(result) => {
            if let Some(f) = cb.connected.callback {
                let assigned = result.assigned_client_id.as_deref().map(cstring);
                let ptr = assigned.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
                unsafe { f(cb.connected.user_data.0, result.session_present, ptr) };
            }
        }
        Event::Disconnected(info) => {
            if let Some(f) = cb.disconnected.callback {
                unsafe { f(cb.disconnected.user_data.0, info.reason_code as u8, info.by_server) };
            }
        }
        Event::Message(message) => {
            if let Some(f) = cb.message.callback {
                let mut topic = std::mem::take(scratch);
                topic.clear();
                topic.extend_from_slice(message.topic.as_bytes());
                topic.push(0);
                let view = mqttkit_message_t { message, topic };
                unsafe { f(cb.message.user_data.0, &view) };
                *scratch = view.topic;
            }
        }
        Event::Published(result) => {
            if let Some(f) = cb.published.callback {
                unsafe {
                    f(cb.published.user_data.0, result.packet_id.unwrap_or(0), result.reason_code as u8)
                };
            }
        }
        Event::Subscribed(result) => {
            if let Some(f) = cb.subscribed.callback {
                let codes: Vec<u8> = result.reason_codes.iter().map(|c| *c as u8).collect();
                unsafe { f(cb.subscribed.user_data.0, result.packet_id, codes.as_ptr(), codes.len()) };
            }
        }
        Event::Unsubscribed(result) => {
            if let Some(f) = cb.unsubscribed.callback {
                let codes: Vec<u8> = result.reason_codes.iter().map(|c| *c as u8).collect();
                unsafe { f(cb.unsubscribed.user_data.0, result.packet_id, codes.as_ptr(), codes.len()) };
            }
        }
        Event::PingResponse(result) => {
            if let Some(f) = cb.ping.callback {
                let micros = u64::try_from(result.round_trip.as_micros()).unwrap_or(u64::MAX);
                unsafe { f(cb.ping.user_data.0, micros) };
            }
        }
        Event::Error(error) => {
            if let Some(f) = cb.error.callback {
                let text = cstring(&error.to_string());
                unsafe { f(cb.error.user_data.0, mqttkit_result::from_kind(error.kind()), text.as_ptr()) };
            }
        }
        Event::ConnectionLost(error) => {
            if let Some(f) = cb.connection_lost.callback {
                let text = cstring(&error.to_string());
                let code = mqttkit_result::from_kind(error.kind());
                unsafe { f(cb.connection_lost.user_data.0, code, text.as_ptr()) };
            }
        }
        Event::ReconnectAttempt { attempt, delay } => {
            if let Some(f) = cb.reconnect.callback {
                let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                unsafe { f(cb.reconnect.user_data.0, attempt, millis) };
            }
        }
        Event::PendingOperationsCleared { count } => {
            if let Some(f) = cb.cleared.callback {
                unsafe { f(cb.cleared.user_data.0, count) };
            }
        }
        Event::AuthReceived(result) => {
            if let Some(f) = cb.auth.callback {
                let method = result.properties.authentication_method.as_deref().map(cstring);
                let method_ptr = method.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
                let data = result.properties.authentication_data.as_deref().unwrap_or(&[]);
                unsafe {
                    f(cb.auth.user_data.0, result.reason_code as u8, method_ptr, data.as_ptr(), data.len())
                };
            }
        }
        Event::PeerCertificateReceived(der) => {
            if let Some(f) = cb.certificate.callback {
                unsafe { f(cb.certificate.user_data.0, der.as_ptr(), der.len()) };
            }
        }
    }
}

/// A received message. Inside a message callback it is borrowed (valid during the call
/// only, do not free); `mqttkit_message_copy` makes an owned copy that stays valid until
/// `mqttkit_message_free`. Accessors are thread-safe on an owned copy.
pub struct mqttkit_message_t {
    message: Message,
    /// The topic followed by a NUL.
    topic: Vec<u8>,
}

fn msg<'a>(message: *const mqttkit_message_t) -> Option<&'a Message> {
    // SAFETY: the caller passes NULL or a live message.
    unsafe { message.as_ref() }.map(|m| &m.message)
}

fn bytes_out(bytes: Option<&[u8]>, len: *mut usize) -> *const u8 {
    match bytes {
        Some(bytes) => {
            write_out(len, bytes.len());
            bytes.as_ptr()
        }
        None => {
            write_out(len, 0);
            std::ptr::null()
        }
    }
}

/// The topic, NUL-terminated (topic aliases already resolved). Valid as long as `message`.
/// NULL when `message` is NULL.
///
/// # Safety
/// `message` must be NULL or a live message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_topic(message: *const mqttkit_message_t) -> *const c_char {
    crate::ffi_boundary! {
        // SAFETY: NULL or live, per the contract.
        match unsafe { message.as_ref() } {
            Some(m) => m.topic.as_ptr().cast::<c_char>(),
            None => std::ptr::null(),
        }
    }
}

/// The payload bytes (not NUL-terminated); its length is written to `len` (may be NULL).
/// Valid as long as `message`. May return NULL or a dangling-but-non-NULL pointer when the
/// payload is empty; only `*len` bytes may be read.
///
/// # Safety
/// `message` NULL or live; `len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_payload(
    message: *const mqttkit_message_t,
    len: *mut usize,
) -> *const u8 {
    crate::ffi_boundary! { bytes_out(msg(message).map(|m| &m.payload[..]), len) }
}

/// The QoS the message was delivered with (0..2); 0 for NULL.
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_qos(message: *const mqttkit_message_t) -> u8 {
    crate::ffi_boundary! { msg(message).map_or(0, |m| m.qos as u8) }
}

/// Whether it is a retained message; false for NULL.
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_retain(message: *const mqttkit_message_t) -> bool {
    crate::ffi_boundary! { msg(message).is_some_and(|m| m.retain) }
}

/// Whether it may be a re-delivery (DUP); false for NULL.
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_dup(message: *const mqttkit_message_t) -> bool {
    crate::ffi_boundary! { msg(message).is_some_and(|m| m.dup) }
}

/// The packet identifier (0 for QoS 0 or NULL).
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_packet_id(message: *const mqttkit_message_t) -> u16 {
    crate::ffi_boundary! { msg(message).map_or(0, |m| m.packet_id) }
}

/// Content Type property (UTF-8, NOT NUL-terminated, length in `len`), or NULL if absent.
///
/// # Safety
/// `message` NULL or live; `len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_content_type(
    message: *const mqttkit_message_t,
    len: *mut usize,
) -> *const c_char {
    crate::ffi_boundary! {
        bytes_out(msg(message).and_then(|m| m.properties.content_type.as_deref()).map(str::as_bytes), len).cast()
    }
}

/// Response Topic property (UTF-8, NOT NUL-terminated, length in `len`), or NULL if absent.
///
/// # Safety
/// `message` NULL or live; `len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_response_topic(
    message: *const mqttkit_message_t,
    len: *mut usize,
) -> *const c_char {
    crate::ffi_boundary! {
        bytes_out(msg(message).and_then(|m| m.properties.response_topic.as_deref()).map(str::as_bytes), len).cast()
    }
}

/// Correlation Data property (length in `len`), or NULL if absent.
///
/// # Safety
/// `message` NULL or live; `len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_correlation_data(
    message: *const mqttkit_message_t,
    len: *mut usize,
) -> *const u8 {
    crate::ffi_boundary! {
        bytes_out(msg(message).and_then(|m| m.properties.correlation_data.as_deref()), len)
    }
}

/// Payload Format Indicator: 1 (UTF-8), 0 (unspecified bytes), or -1 when absent or NULL.
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_payload_format(message: *const mqttkit_message_t) -> i32 {
    crate::ffi_boundary! {
        msg(message).and_then(|m| m.properties.payload_format_indicator).map_or(-1, |f| f as i32)
    }
}

/// Message Expiry Interval: true and the seconds in `seconds` (may be NULL) when present.
///
/// # Safety
/// `message` NULL or live; `seconds` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_expiry(
    message: *const mqttkit_message_t,
    seconds: *mut u32,
) -> bool {
    crate::ffi_boundary! {
        match msg(message).and_then(|m| m.properties.message_expiry_interval) {
            Some(value) => { write_out(seconds, value); true }
            None => false,
        }
    }
}

/// How many Subscription Identifiers the message carries (0 for NULL).
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_subscription_identifier_count(
    message: *const mqttkit_message_t,
) -> usize {
    crate::ffi_boundary! { msg(message).map_or(0, |m| m.properties.subscription_identifiers.len()) }
}

/// Subscription Identifier number `index` (0-based); 0 when out of range or NULL.
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_subscription_identifier(
    message: *const mqttkit_message_t,
    index: usize,
) -> u32 {
    crate::ffi_boundary! {
        msg(message).and_then(|m| m.properties.subscription_identifiers.get(index).copied()).unwrap_or(0)
    }
}

/// How many user properties the message carries (0 for NULL).
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_user_property_count(message: *const mqttkit_message_t) -> usize {
    crate::ffi_boundary! { msg(message).map_or(0, |m| m.properties.user_properties.len()) }
}

/// User property number `index` (0-based, in received order): name and value as UTF-8
/// pointers (NOT NUL-terminated) with their lengths, valid as long as `message`. Every
/// out-parameter may be NULL. `MQTTKIT_RESULT_INVALID_ARGUMENT` when `index` is out of range.
///
/// # Safety
/// `message` NULL or live; out-parameters NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_user_property(
    message: *const mqttkit_message_t,
    index: usize,
    name: *mut *const c_char,
    name_len: *mut usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> mqttkit_result {
    ffi_result! {
        let message = &check_ref!(message).message;
        let (n, v) = message.properties.user_properties.get(index).ok_or_else(|| {
            Failure::invalid(format!("user property index {index} out of range (count {})", message.properties.user_properties.len()))
        })?;
        write_out(name, n.as_ptr().cast::<c_char>());
        write_out(name_len, n.len());
        write_out(value, v.as_ptr().cast::<c_char>());
        write_out(value_len, v.len());
        Ok(())
    }
}

/// Whether `mqttkit_message_ack` must be called for this message (QoS 1/2 received by a
/// client with auto-ack off).
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_needs_ack(message: *const mqttkit_message_t) -> bool {
    crate::ffi_boundary! { msg(message).is_some_and(Message::needs_ack) }
}

/// Acknowledges the message (PUBACK for QoS 1, PUBREC for QoS 2) when the client was built
/// with auto-ack off; does nothing (OK) for QoS 0 or with auto-ack on. Call it once, from
/// any thread, inside the callback or later on a copy. `MQTTKIT_RESULT_CHANNEL_CLOSED` when
/// the client was freed.
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_ack(message: *const mqttkit_message_t) -> mqttkit_result {
    ffi_result! {
        let message = &check_ref!(message).message;
        message.ack().map_err(Failure::from)
    }
}

/// Makes an owned copy of `message` (the payload is shared, not copied) that stays valid
/// until `mqttkit_message_free`, e.g. to process or acknowledge it after the callback.
/// NULL when `message` is NULL.
///
/// # Safety
/// `message` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_copy(message: *const mqttkit_message_t) -> *mut mqttkit_message_t {
    crate::ffi_boundary! {
        // SAFETY: NULL or live, per the contract.
        match unsafe { message.as_ref() } {
            Some(m) => Box::into_raw(Box::new(mqttkit_message_t { message: m.message.clone(), topic: m.topic.clone() })),
            None => std::ptr::null_mut(),
        }
    }
}

/// Frees a copy made by `mqttkit_message_copy`. NULL is a no-op. Never free the message a
/// callback received.
///
/// # Safety
/// `message` NULL or a copy from `mqttkit_message_copy`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_message_free(message: *mut mqttkit_message_t) {
    crate::ffi_boundary! {
        if !message.is_null() {
            // SAFETY: made by Box::into_raw in mqttkit_message_copy; freed once.
            drop(unsafe { Box::from_raw(message) });
        }
    }
}
