//! Subscribe and unsubscribe, for one filter or many (with MQTT 5 options and properties),
//! each in its asynchronous and its blocking `_sync` form with a per-call timeout.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use bytestring::ByteString;
use mqttkit::Operation;
use mqttkit::client::{SubscribeOptions, SubscribeResult, UnsubscribeOptions, UnsubscribeResult};
use mqttkit::protocol::{ReasonCode, RetainHandling, Subscription};

use crate::call_options::{mqttkit_subscribe_options_t, mqttkit_unsubscribe_options_t};
use crate::client::{Outcome, mqttkit_client_t, mqttkit_completion_cb};
use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::ffi::{arg_qos, arg_str, write_out};
use crate::operations::{as_option, call_limit};
use crate::{check_ref, check_str, ffi_result};

/// One subscription of `mqttkit_client_subscribe_many`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mqttkit_subscription_t {
    /// Topic filter (NUL-terminated UTF-8, copied).
    pub filter: *const c_char,
    /// Maximum QoS, 0..2.
    pub qos: i32,
    /// MQTT 5 No Local: do not receive this client's own publications.
    pub no_local: bool,
    /// MQTT 5 Retain As Published: keep the RETAIN flag of forwarded messages.
    pub retain_as_published: bool,
    /// MQTT 5 Retain Handling: 0 send retained messages at subscribe, 1 only for a new
    /// subscription, 2 never.
    pub retain_handling: u8,
}

/// The core subscriptions of `count` C entries at `items`.
pub(crate) fn subscriptions(
    items: *const mqttkit_subscription_t,
    count: usize,
) -> FfiResult<Vec<Subscription>> {
    if count == 0 {
        return Err(Failure::invalid("subscribe needs at least one subscription"));
    }
    if items.is_null() {
        return Err(Failure::new(
            mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER,
            "argument `subscriptions` is NULL",
        ));
    }
    // SAFETY: non-NULL, and the caller promises `count` readable entries.
    let items = unsafe { std::slice::from_raw_parts(items, count) };
    items
        .iter()
        .map(|item| {
            let filter = arg_str(item.filter, "subscriptions[].filter")?;
            let mut subscription = Subscription::new(ByteString::from(filter.to_owned()), arg_qos(item.qos)?);
            subscription.options.no_local = item.no_local;
            subscription.options.retain_as_published = item.retain_as_published;
            subscription.options.retain_handling = match item.retain_handling {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendIfNewSubscription,
                2 => RetainHandling::DoNotSend,
                other => {
                    return Err(Failure::invalid(format!("retain_handling must be 0, 1 or 2, got {other}")));
                }
            };
            Ok(subscription)
        })
        .collect()
}

fn filters(filters: *const *const c_char, count: usize) -> FfiResult<Vec<String>> {
    if count == 0 {
        return Err(Failure::invalid("unsubscribe needs at least one topic filter"));
    }
    if filters.is_null() {
        return Err(Failure::new(
            mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER,
            "argument `filters` is NULL",
        ));
    }
    // SAFETY: non-NULL, and the caller promises `count` readable pointers.
    let items = unsafe { std::slice::from_raw_parts(filters, count) };
    items.iter().map(|filter| arg_str(*filter, "filters[]").map(str::to_owned)).collect()
}

/// The core's subscribe options of one call: `options` (NULL for none) with its limit.
fn subscribe_options(
    handle: &mqttkit_client_t,
    options: *const mqttkit_subscribe_options_t,
    timeout_ms: u32,
) -> (SubscribeOptions, Option<Duration>) {
    // SAFETY: NULL or live, per the caller's contract.
    let mut options = unsafe { options.as_ref() }.map(|o| o.inner.clone()).unwrap_or_default();
    let limit = call_limit(timeout_ms, handle.core().options().timeouts().subscribe);
    options.timeout = as_option(limit);
    (options, limit)
}

/// The core's unsubscribe options of one call: `options` (NULL for none) with its limit.
fn unsubscribe_options(
    handle: &mqttkit_client_t,
    options: *const mqttkit_unsubscribe_options_t,
    timeout_ms: u32,
) -> (UnsubscribeOptions, Option<Duration>) {
    // SAFETY: NULL or live, per the caller's contract.
    let mut options = unsafe { options.as_ref() }.map(|o| o.inner.clone()).unwrap_or_default();
    let limit = call_limit(timeout_ms, handle.core().options().timeouts().unsubscribe);
    options.timeout = as_option(limit);
    (options, limit)
}

/// A SUBACK or UNSUBACK as a completion: its packet id and one reason code per filter.
fn fill_acked(o: &mut Outcome, packet_id: u16, codes: &[ReasonCode]) {
    o.packet_id = packet_id;
    o.reason_codes = codes.iter().map(|c| *c as u8).collect();
    o.reason_code = o.reason_codes.first().copied().unwrap_or(0);
}

fn fill_subscribed(o: &mut Outcome, r: SubscribeResult) {
    fill_acked(o, r.packet_id, &r.reason_codes);
}

fn fill_unsubscribed(o: &mut Outcome, r: UnsubscribeResult) {
    fill_acked(o, r.packet_id, &r.reason_codes);
}

/// Starts a subscribe in either form.
fn subscribe(
    handle: &mqttkit_client_t,
    list: Vec<Subscription>,
    options: SubscribeOptions,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> FfiResult<()> {
    let client = handle.core();
    match callback {
        None => handle.enqueue(Operation::Subscribe, client.subscribe_with_nowait(list, options)),
        Some(_) => handle.start(
            Operation::Subscribe,
            client.submit_subscribe_with(list, options),
            callback,
            user_data,
            fill_subscribed,
        ),
    }
}

/// Starts an unsubscribe in either form.
fn unsubscribe(
    handle: &mqttkit_client_t,
    list: Vec<String>,
    options: UnsubscribeOptions,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> FfiResult<()> {
    let client = handle.core();
    match callback {
        None => handle.enqueue(Operation::Unsubscribe, client.unsubscribe_with_nowait(list, options)),
        Some(_) => handle.start(
            Operation::Unsubscribe,
            client.submit_unsubscribe_with(list, options),
            callback,
            user_data,
            fill_unsubscribed,
        ),
    }
}

/// Subscribes to `filter` (copied) with maximum `qos` and reports the SUBACK to `callback`
/// (`reason_codes[0]`: the granted QoS), or `MQTTKIT_RESULT_TIMEOUT` when none came within
/// `timeout_ms` (0: the client's subscribe timeout, `MQTTKIT_NO_TIMEOUT`: no limit). A
/// refusal completes with `MQTTKIT_RESULT_SUBSCRIBE_FAILED`. NULL `callback`:
/// fire-and-forget (subscribed event).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    qos: i32,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = vec![Subscription::new(ByteString::from(check_str!(filter).to_owned()), arg_qos(qos)?)];
        let (options, _) = subscribe_options(handle, std::ptr::null(), timeout_ms);
        subscribe(handle, list, options, callback, user_data)
    }
}

/// Subscribes and waits for the SUBACK, at most `timeout_ms` (0: the client's subscribe
/// timeout, `MQTTKIT_NO_TIMEOUT`: no limit). On success writes the granted QoS to
/// `*granted_qos` (may be NULL).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated; `granted_qos` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe_sync(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    qos: i32,
    timeout_ms: u32,
    granted_qos: *mut u8,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = vec![Subscription::new(ByteString::from(check_str!(filter).to_owned()), arg_qos(qos)?)];
        let (options, limit) = subscribe_options(handle, std::ptr::null(), timeout_ms);
        let result = handle.wait(Operation::Subscribe, limit, handle.core().subscribe_with(list, options))?;
        write_out(granted_qos, result.reason_codes.first().map_or(0, |c| *c as u8));
        Ok(())
    }
}

/// Unsubscribes from `filter` (copied) and reports the UNSUBACK to `callback`, or
/// `MQTTKIT_RESULT_TIMEOUT` when none came within `timeout_ms` (0: the client's unsubscribe
/// timeout, `MQTTKIT_NO_TIMEOUT`: no limit). NULL `callback`: fire-and-forget
/// (unsubscribed event).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = vec![check_str!(filter).to_owned()];
        let (options, _) = unsubscribe_options(handle, std::ptr::null(), timeout_ms);
        unsubscribe(handle, list, options, callback, user_data)
    }
}

/// Unsubscribes and waits for the UNSUBACK, at most `timeout_ms` (0: the client's
/// unsubscribe timeout, `MQTTKIT_NO_TIMEOUT`: no limit).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe_sync(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = vec![check_str!(filter).to_owned()];
        let (options, limit) = unsubscribe_options(handle, std::ptr::null(), timeout_ms);
        handle.wait(Operation::Unsubscribe, limit, handle.core().unsubscribe_with(list, options)).map(drop)
    }
}

/// Subscribes to `count` filters in one SUBSCRIBE, each with its own options, with the
/// MQTT 5 properties in `options` (NULL for none; copied: Subscription Identifier, echoed
/// in matching messages as `mqttkit_message_subscription_identifier`, and User
/// Properties), and reports the SUBACK to `callback` (`reason_codes`: one per filter), or
/// `MQTTKIT_RESULT_TIMEOUT` when none came within `timeout_ms` (0: the client's subscribe
/// timeout, `MQTTKIT_NO_TIMEOUT`: no limit). A refusal of any filter completes with
/// `MQTTKIT_RESULT_SUBSCRIBE_FAILED` (with every reason code). NULL `callback`:
/// fire-and-forget (subscribed event).
///
/// # Safety
/// `client` NULL or live; `subscriptions` readable for `count` entries whose filters are
/// NUL-terminated; `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe_many(
    client: *const mqttkit_client_t,
    subscriptions: *const mqttkit_subscription_t,
    count: usize,
    options: *const mqttkit_subscribe_options_t,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::subscriptions(subscriptions, count)?;
        let (options, _) = subscribe_options(handle, options, timeout_ms);
        subscribe(handle, list, options, callback, user_data)
    }
}

/// `mqttkit_client_subscribe_many`, blocking at most `timeout_ms` (0: the client's subscribe
/// timeout, `MQTTKIT_NO_TIMEOUT`: no limit). On success writes one reason code (granted
/// QoS) per filter to `reason_codes_out` (room for `count` bytes; may be NULL).
///
/// # Safety
/// As `mqttkit_client_subscribe_many`; `reason_codes_out` NULL or writable for `count` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe_many_sync(
    client: *const mqttkit_client_t,
    subscriptions: *const mqttkit_subscription_t,
    count: usize,
    options: *const mqttkit_subscribe_options_t,
    timeout_ms: u32,
    reason_codes_out: *mut u8,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::subscriptions(subscriptions, count)?;
        let (options, limit) = subscribe_options(handle, options, timeout_ms);
        let result = handle.wait(Operation::Subscribe, limit, handle.core().subscribe_with(list, options))?;
        if !reason_codes_out.is_null() {
            for (index, code) in result.reason_codes.iter().take(count).enumerate() {
                // SAFETY: the caller promises room for `count` bytes.
                unsafe { reason_codes_out.add(index).write(*code as u8) };
            }
        }
        Ok(())
    }
}

/// Unsubscribes from `count` filters (copied) in one UNSUBSCRIBE with the MQTT 5 User
/// Properties in `options` (NULL for none; copied), and reports the UNSUBACK to `callback`
/// (`reason_codes`: one per filter on MQTT 5), or `MQTTKIT_RESULT_TIMEOUT` when none came
/// within `timeout_ms` (0: the client's unsubscribe timeout, `MQTTKIT_NO_TIMEOUT`: no
/// limit). NULL `callback`: fire-and-forget (unsubscribed event).
///
/// # Safety
/// `client` NULL or live; `filters` readable for `count` NUL-terminated strings; `options`
/// NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe_many(
    client: *const mqttkit_client_t,
    filters: *const *const c_char,
    count: usize,
    options: *const mqttkit_unsubscribe_options_t,
    timeout_ms: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::filters(filters, count)?;
        let (options, _) = unsubscribe_options(handle, options, timeout_ms);
        unsubscribe(handle, list, options, callback, user_data)
    }
}

/// `mqttkit_client_unsubscribe_many`, blocking at most `timeout_ms` (0: the client's
/// unsubscribe timeout, `MQTTKIT_NO_TIMEOUT`: no limit).
///
/// # Safety
/// As `mqttkit_client_unsubscribe_many`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe_many_sync(
    client: *const mqttkit_client_t,
    filters: *const *const c_char,
    count: usize,
    options: *const mqttkit_unsubscribe_options_t,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::filters(filters, count)?;
        let (options, limit) = unsubscribe_options(handle, options, timeout_ms);
        handle.wait(Operation::Unsubscribe, limit, handle.core().unsubscribe_with(list, options)).map(drop)
    }
}
