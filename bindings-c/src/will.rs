//! The MQTT 5 properties of the will message, as setters on `mqttkit_client_options_t`.
//! They apply to the will set with `mqttkit_client_options_set_will` (in any order); setting
//! one without a will makes `mqttkit_client_new` fail with
//! `MQTTKIT_RESULT_INVALID_CONFIGURATION`, and so does any of them with protocol version 4
//! (MQTT 3.1.1 wills have no properties).

use std::ffi::c_char;

use bytes::Bytes;
use mqttkit::protocol::{PayloadFormat, WillProperties};

use crate::error::{FfiResult, mqttkit_result};
use crate::options::{mqttkit_client_options_t, opts_mut};
use crate::{check_bytes, check_str, ffi_result};

fn will_mut<'a>(options: *mut mqttkit_client_options_t) -> FfiResult<&'a mut WillProperties> {
    Ok(&mut opts_mut(options)?.will_properties)
}

/// Will Delay Interval: seconds the server waits after the connection ends before it
/// publishes the will (a reconnect within that time cancels it).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_will_delay_interval(
    options: *mut mqttkit_client_options_t,
    seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        will_mut(options)?.will_delay_interval = Some(seconds);
        Ok(())
    }
}

/// Payload Format Indicator of the will: true marks its payload as UTF-8 text.
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_will_payload_utf8(
    options: *mut mqttkit_client_options_t,
    utf8: bool,
) -> mqttkit_result {
    ffi_result! {
        will_mut(options)?.payload_format_indicator =
            Some(if utf8 { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified });
        Ok(())
    }
}

/// Message Expiry Interval of the will, in seconds.
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_will_message_expiry(
    options: *mut mqttkit_client_options_t,
    seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        will_mut(options)?.message_expiry_interval = Some(seconds);
        Ok(())
    }
}

/// Content Type of the will (copied).
///
/// # Safety
/// `options` NULL or live; `content_type` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_will_content_type(
    options: *mut mqttkit_client_options_t,
    content_type: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let properties = will_mut(options)?;
        properties.content_type = Some(check_str!(content_type).to_owned().into());
        Ok(())
    }
}

/// Response Topic of the will (copied).
///
/// # Safety
/// `options` NULL or live; `topic` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_will_response_topic(
    options: *mut mqttkit_client_options_t,
    topic: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let properties = will_mut(options)?;
        properties.response_topic = Some(check_str!(topic).to_owned().into());
        Ok(())
    }
}

/// Correlation Data of the will (`len` bytes at `data`, copied; NULL allowed with 0).
///
/// # Safety
/// `options` NULL or live; `data` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_will_correlation_data(
    options: *mut mqttkit_client_options_t,
    data: *const u8,
    len: usize,
) -> mqttkit_result {
    ffi_result! {
        let properties = will_mut(options)?;
        properties.correlation_data = Some(Bytes::copy_from_slice(check_bytes!(data, len)));
        Ok(())
    }
}

/// Adds a user property to the will (both strings copied; added in call order).
///
/// # Safety
/// `options` NULL or live; `name` and `value` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_add_will_user_property(
    options: *mut mqttkit_client_options_t,
    name: *const c_char,
    value: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let properties = will_mut(options)?;
        let (name, value) = (check_str!(name).to_owned(), check_str!(value).to_owned());
        properties.user_properties.push((name.into(), value.into()));
        Ok(())
    }
}
