//! MQTT 5 properties of one SUBSCRIBE, UNSUBSCRIBE or DISCONNECT:
//! `mqttkit_subscribe_options_t`, `mqttkit_unsubscribe_options_t`,
//! `mqttkit_disconnect_options_t` (the core's `SubscribeOptions`, `UnsubscribeOptions` and
//! `DisconnectProperties`). Each is opaque, created by its `_new` (never NULL unless out of
//! memory), freed by its `_free` (NULL is a no-op), copied by the calls that take it (it may
//! be freed or reused right after), and not thread-safe.

use std::ffi::c_char;

use mqttkit::client::{SubscribeOptions, UnsubscribeOptions};
use mqttkit::protocol::{DisconnectProperties, UserProperty};

use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::{check_str, ffi_result};

/// Properties of one SUBSCRIBE (`mqttkit_client_subscribe_many[_sync]`).
pub struct mqttkit_subscribe_options_t {
    pub(crate) inner: SubscribeOptions,
}

/// Properties of one UNSUBSCRIBE (`mqttkit_client_unsubscribe_many[_sync]`).
pub struct mqttkit_unsubscribe_options_t {
    pub(crate) inner: UnsubscribeOptions,
}

/// Properties of one DISCONNECT (`mqttkit_client_disconnect_with_reason[_sync]`).
pub struct mqttkit_disconnect_options_t {
    pub(crate) inner: DisconnectProperties,
}

fn live<'a, T>(options: *mut T) -> FfiResult<&'a mut T> {
    // SAFETY: the caller passes NULL or a live object it does not use concurrently.
    unsafe { options.as_mut() }.ok_or_else(|| {
        Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `options` is NULL")
    })
}

/// Frees an object made by `Box::into_raw`; NULL is a no-op.
fn free<T>(options: *mut T) {
    if !options.is_null() {
        // SAFETY: made by Box::into_raw in the matching _new; freed once, per the contract.
        drop(unsafe { Box::from_raw(options) });
    }
}

fn user_property(name: *const c_char, value: *const c_char) -> FfiResult<UserProperty> {
    Ok((check_str!(name).to_owned().into(), check_str!(value).to_owned().into()))
}

/// Creates empty subscribe options. Free with `mqttkit_subscribe_options_free`.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_subscribe_options_new() -> *mut mqttkit_subscribe_options_t {
    crate::ffi_boundary! {
        Box::into_raw(Box::new(mqttkit_subscribe_options_t { inner: SubscribeOptions::default() }))
    }
}

/// Frees subscribe options. NULL is a no-op.
///
/// # Safety
/// `options` NULL or live, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_subscribe_options_free(options: *mut mqttkit_subscribe_options_t) {
    crate::ffi_boundary! { free(options) }
}

/// Subscription Identifier (1..=268435455), echoed in every message matching these
/// subscriptions (`mqttkit_message_subscription_identifier`). Out of range is
/// `MQTTKIT_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_subscribe_options_set_subscription_identifier(
    options: *mut mqttkit_subscribe_options_t,
    identifier: u32,
) -> mqttkit_result {
    ffi_result! {
        let options = live(options)?;
        if identifier == 0 || identifier > mqttkit::protocol::MAX_VAR_INT {
            return Err(Failure::invalid(format!("subscription identifier must be within 1..=268435455, got {identifier}")));
        }
        options.inner.subscription_identifier = Some(identifier);
        Ok(())
    }
}

/// Adds a user property to the SUBSCRIBE (both strings copied; sent in call order).
///
/// # Safety
/// `options` NULL or live; `name` and `value` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_subscribe_options_add_user_property(
    options: *mut mqttkit_subscribe_options_t,
    name: *const c_char,
    value: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = live(options)?;
        options.inner.user_properties.push(user_property(name, value)?);
        Ok(())
    }
}

/// Creates empty unsubscribe options. Free with `mqttkit_unsubscribe_options_free`.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_unsubscribe_options_new() -> *mut mqttkit_unsubscribe_options_t {
    crate::ffi_boundary! {
        Box::into_raw(Box::new(mqttkit_unsubscribe_options_t { inner: UnsubscribeOptions::default() }))
    }
}

/// Frees unsubscribe options. NULL is a no-op.
///
/// # Safety
/// `options` NULL or live, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_unsubscribe_options_free(options: *mut mqttkit_unsubscribe_options_t) {
    crate::ffi_boundary! { free(options) }
}

/// Adds a user property to the UNSUBSCRIBE (both strings copied; sent in call order).
///
/// # Safety
/// `options` NULL or live; `name` and `value` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_unsubscribe_options_add_user_property(
    options: *mut mqttkit_unsubscribe_options_t,
    name: *const c_char,
    value: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = live(options)?;
        options.inner.user_properties.push(user_property(name, value)?);
        Ok(())
    }
}

/// Creates empty disconnect options. Free with `mqttkit_disconnect_options_free`.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_disconnect_options_new() -> *mut mqttkit_disconnect_options_t {
    crate::ffi_boundary! {
        Box::into_raw(Box::new(mqttkit_disconnect_options_t { inner: DisconnectProperties::default() }))
    }
}

/// Frees disconnect options. NULL is a no-op.
///
/// # Safety
/// `options` NULL or live, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_disconnect_options_free(options: *mut mqttkit_disconnect_options_t) {
    crate::ffi_boundary! { free(options) }
}

/// New Session Expiry Interval in seconds, replacing the one sent in CONNECT. MQTT 5
/// forbids it when CONNECT had 0 (the server then closes with Protocol Error).
///
/// # Safety
/// `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_disconnect_options_set_session_expiry_interval(
    options: *mut mqttkit_disconnect_options_t,
    seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        live(options)?.inner.session_expiry_interval = Some(seconds);
        Ok(())
    }
}

/// Reason String: a human-readable diagnostic for the server (copied).
///
/// # Safety
/// `options` NULL or live; `reason` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_disconnect_options_set_reason_string(
    options: *mut mqttkit_disconnect_options_t,
    reason: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = live(options)?;
        options.inner.reason_string = Some(check_str!(reason).to_owned().into());
        Ok(())
    }
}

/// Server Reference (copied): another server to use, as MQTT 5 allows in DISCONNECT.
///
/// # Safety
/// `options` NULL or live; `server` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_disconnect_options_set_server_reference(
    options: *mut mqttkit_disconnect_options_t,
    server: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = live(options)?;
        options.inner.server_reference = Some(check_str!(server).to_owned().into());
        Ok(())
    }
}

/// Adds a user property to the DISCONNECT (both strings copied; sent in call order).
///
/// # Safety
/// `options` NULL or live; `name` and `value` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_disconnect_options_add_user_property(
    options: *mut mqttkit_disconnect_options_t,
    name: *const c_char,
    value: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = live(options)?;
        options.inner.user_properties.push(user_property(name, value)?);
        Ok(())
    }
}
