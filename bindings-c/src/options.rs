//! `mqttkit_client_options_t` (every core client option) and `mqttkit_publish_options_t`.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqttkit::client::{
    ClientOptions, ClientOptionsBuilder, OfflineBuffer, PublishOptions, ReconnectPolicy, Timeouts,
};
use mqttkit::protocol::{PayloadFormat, ProtocolVersion, Subscription, Will, WillProperties};
use mqttkit::transport::TlsOptions;

use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::ffi::{arg_bytes, arg_qos};
use crate::{check_bytes, check_ref, check_str, ffi_result};

type Step = Arc<dyn Fn(ClientOptionsBuilder) -> ClientOptionsBuilder + Send + Sync>;

/// Client options: the broker URL and every setting of a client. Opaque; create with
/// `mqttkit_client_options_new`, free with `mqttkit_client_options_free`. Setters may be
/// called in any order; the combination is validated by `mqttkit_client_options_validate`
/// and by `mqttkit_client_new`. Not thread-safe: do not use one options object from two
/// threads at once. A client copies what it needs: the options may be freed right after
/// `mqttkit_client_new`.
pub struct mqttkit_client_options_t {
    url: String,
    steps: Vec<Step>,
    /// The will message, without its properties (`mqttkit_client_options_set_will`).
    will: Option<Will>,
    /// The will's MQTT 5 properties (`will.rs`), applied to the will at build time.
    pub(crate) will_properties: WillProperties,
    /// TLS settings (`tls.rs`), applied at build time.
    pub(crate) tls: Option<TlsOptions>,
}

impl mqttkit_client_options_t {
    /// Adds a change of the core builder, applied in call order at build time.
    pub(crate) fn push(
        &mut self,
        step: impl Fn(ClientOptionsBuilder) -> ClientOptionsBuilder + Send + Sync + 'static,
    ) {
        self.steps.push(Arc::new(step));
    }

    /// Builds validated core options.
    pub(crate) fn build(&self) -> FfiResult<ClientOptions> {
        let mut builder = self.steps.iter().fold(ClientOptions::builder(self.url.clone()), |b, step| step(b));
        match (&self.will, self.will_properties == WillProperties::default()) {
            (Some(will), _) => {
                let mut will = will.clone();
                will.properties = self.will_properties.clone();
                builder = builder.will(will);
            }
            (None, true) => {}
            (None, false) => {
                return Err(Failure::new(
                    mqttkit_result::MQTTKIT_RESULT_INVALID_CONFIGURATION,
                    "will properties are set but there is no will: call mqttkit_client_options_set_will",
                ));
            }
        }
        if let Some(tls) = &self.tls {
            builder = builder.tls(tls.clone());
        }
        let options = builder.build()?;
        if options.protocol_version() == ProtocolVersion::V311
            && self.will_properties != WillProperties::default()
        {
            return Err(Failure::new(
                mqttkit_result::MQTTKIT_RESULT_INVALID_CONFIGURATION,
                "will properties are an MQTT 5 option; protocol_version is 3.1.1",
            ));
        }
        Ok(options)
    }
}

/// Borrows live client options mutably: NULL fails with `MQTTKIT_RESULT_NULL_PARAMETER`.
pub(crate) fn opts_mut<'a>(
    options: *mut mqttkit_client_options_t,
) -> FfiResult<&'a mut mqttkit_client_options_t> {
    // SAFETY: the caller passes a live options object it does not use concurrently.
    unsafe { options.as_mut() }.ok_or_else(|| {
        Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `options` is NULL")
    })
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

/// Creates options for a client of the broker at `url` (`mqtt://host:port`; `host:port`
/// alone means `mqtt://`; user name and password may be given in the URL). Returns NULL when
/// `url` is NULL or not UTF-8 (see `mqttkit_last_error`); the URL itself is checked by
/// `mqttkit_client_options_validate` / `mqttkit_client_new`. The caller owns the result and
/// frees it with `mqttkit_client_options_free`. `url` is copied.
///
/// # Safety
/// `url` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_new(url: *const c_char) -> *mut mqttkit_client_options_t {
    crate::ffi_boundary! {
        match crate::ffi::arg_str(url, "url") {
            Ok(url) => Box::into_raw(Box::new(mqttkit_client_options_t {
                url: url.to_owned(),
                steps: Vec::new(),
                will: None,
                will_properties: WillProperties::default(),
                tls: None,
            })),
            Err(failure) => {
                crate::error::fail(failure);
                std::ptr::null_mut()
            }
        }
    }
}

/// Frees options made by `mqttkit_client_options_new`. NULL is a no-op.
///
/// # Safety
/// `options` must be NULL or a live options object, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_free(options: *mut mqttkit_client_options_t) {
    crate::ffi_boundary! {
        if !options.is_null() {
            // SAFETY: made by Box::into_raw in mqttkit_client_options_new; freed once.
            drop(unsafe { Box::from_raw(options) });
        }
    }
}

/// Checks that the options can build a client: `MQTTKIT_RESULT_OK` or
/// `MQTTKIT_RESULT_INVALID_CONFIGURATION` with the reason in `mqttkit_last_error`.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_validate(
    options: *const mqttkit_client_options_t,
) -> mqttkit_result {
    ffi_result! {
        check_ref!(options).build().map(drop)
    }
}

/// Clean Start / Clean Session (default true).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_clean_start(
    options: *mut mqttkit_client_options_t,
    clean_start: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.clean_start(clean_start));
        Ok(())
    }
}

/// Keep alive in seconds (default 60; 0 turns keep-alive off).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_keep_alive(
    options: *mut mqttkit_client_options_t,
    seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.keep_alive(Duration::from_secs(seconds.into())));
        Ok(())
    }
}

/// Session Expiry Interval in seconds (MQTT 5; default 0; `UINT32_MAX`: never).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_session_expiry_interval(
    options: *mut mqttkit_client_options_t,
    seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.session_expiry_interval(seconds));
        Ok(())
    }
}

/// Run without session state: always clean start, nothing resent after a reconnect.
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_sessionless(
    options: *mut mqttkit_client_options_t,
    sessionless: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.sessionless(sessionless));
        Ok(())
    }
}

/// Acknowledge received QoS 1/2 messages automatically (default true). When false, call
/// `mqttkit_message_ack` for each message once it is processed.
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_auto_ack(
    options: *mut mqttkit_client_options_t,
    auto_ack: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.auto_ack(auto_ack));
        Ok(())
    }
}

/// Largest packet this client accepts (MQTT 5 Maximum Packet Size).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_maximum_packet_size(
    options: *mut mqttkit_client_options_t,
    bytes: u32,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.maximum_packet_size(bytes));
        Ok(())
    }
}

/// Ask the server for Response Information (MQTT 5, default false).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_request_response_information(
    options: *mut mqttkit_client_options_t,
    request: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.request_response_information(request));
        Ok(())
    }
}

/// Let the server send Reason Strings and User Properties on failures (MQTT 5, default true).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_request_problem_information(
    options: *mut mqttkit_client_options_t,
    request: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.request_problem_information(request));
        Ok(())
    }
}

/// How many QoS 1/2 messages the server may have in flight to this client (MQTT 5,
/// default 65535).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_receive_maximum(
    options: *mut mqttkit_client_options_t,
    maximum: u16,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.receive_maximum(maximum));
        Ok(())
    }
}

/// How many QoS 1/2 publications this client keeps in flight at most (default 65535).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_max_inflight(
    options: *mut mqttkit_client_options_t,
    maximum: u16,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.max_inflight(maximum));
        Ok(())
    }
}

/// Highest topic alias this client accepts from the server (MQTT 5, default 0).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_topic_alias_maximum(
    options: *mut mqttkit_client_options_t,
    maximum: u16,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.topic_alias_maximum(maximum));
        Ok(())
    }
}

/// Replace repeated topics by topic aliases automatically (MQTT 5, default false).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_auto_topic_alias(
    options: *mut mqttkit_client_options_t,
    enabled: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.auto_topic_alias(enabled));
        Ok(())
    }
}

/// Capacity of the queue between the client handle and its connection task (default 1000).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_command_queue_size(
    options: *mut mqttkit_client_options_t,
    size: usize,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.command_queue_size(size));
        Ok(())
    }
}

/// TCP_NODELAY (default true).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_tcp_nodelay(
    options: *mut mqttkit_client_options_t,
    nodelay: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.tcp_nodelay(nodelay));
        Ok(())
    }
}

/// Offline buffer: whether operations made while reconnecting wait (default true) and
/// how many (default 1000). See the core documentation for the drop policy.
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_offline_buffer(
    options: *mut mqttkit_client_options_t,
    enabled: bool,
    capacity: usize,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.offline_buffer(OfflineBuffer { enabled, capacity }));
        Ok(())
    }
}

/// Reconnect policy: enabled (default true), first delay (default 1000 ms), maximum
/// delay (default 30000 ms), multiplier (default 2.0, at least 1.0), jitter (default
/// 0.2, within 0..1), attempts before giving up (default 0: forever).
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_reconnect(
    options: *mut mqttkit_client_options_t,
    enabled: bool,
    initial_delay_ms: u64,
    max_delay_ms: u64,
    multiplier: f64,
    jitter: f64,
    max_attempts: u32,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| b.reconnect(ReconnectPolicy { enabled, initial_delay: ms(initial_delay_ms), max_delay: ms(max_delay_ms), multiplier, jitter, max_attempts }));
        Ok(())
    }
}

/// Default timeouts of the wait-for-acknowledgement operations, in milliseconds; 0 means
/// "wait forever". Defaults: connect 30000, publish/subscribe/unsubscribe/auth 10000,
/// ping 5000.
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_timeouts(
    options: *mut mqttkit_client_options_t,
    connect_ms: u64,
    publish_ms: u64,
    subscribe_ms: u64,
    unsubscribe_ms: u64,
    ping_ms: u64,
    auth_ms: u64,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        options.push(move |b: ClientOptionsBuilder| {
        let t = |v: u64| (v > 0).then(|| ms(v));
        b.timeouts(Timeouts { connect: t(connect_ms), publish: t(publish_ms), subscribe: t(subscribe_ms), unsubscribe: t(unsubscribe_ms), ping: t(ping_ms), auth: t(auth_ms) })
        });
        Ok(())
    }
}

/// Protocol version: 5 (MQTT 5.0, the default) or 4 (MQTT 3.1.1); anything else is
/// `MQTTKIT_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` must be NULL or a live options object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_protocol_version(
    options: *mut mqttkit_client_options_t,
    version: u8,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let version = match version {
            4 => ProtocolVersion::V311,
            5 => ProtocolVersion::V5,
            other => return Err(Failure::invalid(format!("protocol version must be 4 or 5, got {other}"))),
        };
        options.push(move |b| b.protocol_version(version));
        Ok(())
    }
}

/// Client identifier (copied); empty (the default) lets the server assign one.
///
/// # Safety
/// `options` must be NULL or live; `client_id` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_client_id(
    options: *mut mqttkit_client_options_t,
    client_id: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let client_id = check_str!(client_id).to_owned();
        options.push(move |b| b.client_id(client_id.clone()));
        Ok(())
    }
}

/// User name and password (both copied). `username` may be NULL (password only, MQTT 5);
/// `password` may be NULL when `password_len` is 0 (no password).
///
/// # Safety
/// `options` live; `username` NULL or NUL-terminated; `password` readable for `password_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_credentials(
    options: *mut mqttkit_client_options_t,
    username: *const c_char,
    password: *const u8,
    password_len: usize,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let username = crate::ffi::arg_opt_str(username, "username")?.map(str::to_owned);
        let password = (!password.is_null()).then(|| arg_bytes(password, password_len, "password")).transpose()?
            .map(Bytes::copy_from_slice);
        options.push(move |mut b| {
            if let Some(username) = &username { b = b.username(username.clone()); }
            if let Some(password) = &password { b = b.password(password.clone()); }
            b
        });
        Ok(())
    }
}

/// Will message (topic and payload copied), published by the server if this client
/// disappears. `qos` 0..2. Replaces an earlier will; its MQTT 5 properties are set with the
/// `mqttkit_client_options_set_will_*` functions, in any order.
///
/// # Safety
/// `options` live; `topic` NUL-terminated; `payload` readable for `payload_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_will(
    options: *mut mqttkit_client_options_t,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: bool,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let mut will = Will::new(check_str!(topic).to_owned(), Bytes::copy_from_slice(check_bytes!(payload, payload_len)));
        will.qos = arg_qos(qos)?;
        will.retain = retain;
        options.will = Some(will);
        Ok(())
    }
}

/// Adds a user property to CONNECT (MQTT 5; both strings copied).
///
/// # Safety
/// `options` live; `name` and `value` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_add_user_property(
    options: *mut mqttkit_client_options_t,
    name: *const c_char,
    value: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let (name, value) = (check_str!(name).to_owned(), check_str!(value).to_owned());
        options.push(move |b| b.user_property(name.clone(), value.clone()));
        Ok(())
    }
}

/// Subscribes to `filter` (copied) with `qos` after every connect that did not resume a
/// session.
///
/// # Safety
/// `options` live; `filter` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_add_auto_subscribe(
    options: *mut mqttkit_client_options_t,
    filter: *const c_char,
    qos: i32,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let subscription = Subscription::new(check_str!(filter).to_owned(), arg_qos(qos)?);
        options.push(move |b| b.auto_subscribe(subscription.clone()));
        Ok(())
    }
}

/// Subscribes to `subscription` (its filter copied; with its No Local, Retain As Published
/// and Retain Handling options) after every connect that did not resume a session.
///
/// # Safety
/// `options` NULL or live; `subscription` NULL or readable, its filter NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_add_auto_subscription(
    options: *mut mqttkit_client_options_t,
    subscription: *const crate::subscriptions::mqttkit_subscription_t,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        check_ref!(subscription);
        let subscription = crate::subscriptions::subscriptions(subscription, 1)?.remove(0);
        options.push(move |b| b.auto_subscribe(subscription.clone()));
        Ok(())
    }
}

/// MQTT 5 properties of one publication. Opaque; create with
/// `mqttkit_publish_options_new`, free with `mqttkit_publish_options_free`. The publish
/// functions copy what they need: the object may be freed or reused right after the call.
/// Not thread-safe.
pub struct mqttkit_publish_options_t {
    pub(crate) inner: PublishOptions,
}

/// Creates empty publish options (never NULL unless out of memory). Free with
/// `mqttkit_publish_options_free`.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_publish_options_new() -> *mut mqttkit_publish_options_t {
    crate::ffi_boundary! {
        Box::into_raw(Box::new(mqttkit_publish_options_t { inner: PublishOptions::default() }))
    }
}

/// Frees publish options. NULL is a no-op.
///
/// # Safety
/// `options` must be NULL or live, and not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_free(options: *mut mqttkit_publish_options_t) {
    crate::ffi_boundary! {
        if !options.is_null() {
            // SAFETY: made by Box::into_raw in mqttkit_publish_options_new; freed once.
            drop(unsafe { Box::from_raw(options) });
        }
    }
}

fn pub_mut<'a>(options: *mut mqttkit_publish_options_t) -> FfiResult<&'a mut PublishOptions> {
    // SAFETY: the caller passes a live object it does not use concurrently.
    unsafe { options.as_mut() }.map(|o| &mut o.inner).ok_or_else(|| {
        Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `options` is NULL")
    })
}

/// Content Type property (copied).
///
/// # Safety
/// `options` live; `content_type` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_set_content_type(
    options: *mut mqttkit_publish_options_t,
    content_type: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = pub_mut(options)?;
        options.properties.content_type = Some(check_str!(content_type).to_owned().into());
        Ok(())
    }
}

/// Response Topic property (copied).
///
/// # Safety
/// `options` live; `topic` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_set_response_topic(
    options: *mut mqttkit_publish_options_t,
    topic: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = pub_mut(options)?;
        options.properties.response_topic = Some(check_str!(topic).to_owned().into());
        Ok(())
    }
}

/// Correlation Data property (copied).
///
/// # Safety
/// `options` live; `data` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_set_correlation_data(
    options: *mut mqttkit_publish_options_t,
    data: *const u8,
    len: usize,
) -> mqttkit_result {
    ffi_result! {
        let options = pub_mut(options)?;
        options.properties.correlation_data = Some(Bytes::copy_from_slice(check_bytes!(data, len)));
        Ok(())
    }
}

/// Message Expiry Interval property, in seconds.
///
/// # Safety
/// `options` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_set_message_expiry(
    options: *mut mqttkit_publish_options_t,
    seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        pub_mut(options)?.properties.message_expiry_interval = Some(seconds);
        Ok(())
    }
}

/// Payload Format Indicator: true marks the payload as UTF-8 text.
///
/// # Safety
/// `options` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_set_payload_utf8(
    options: *mut mqttkit_publish_options_t,
    utf8: bool,
) -> mqttkit_result {
    ffi_result! {
        pub_mut(options)?.properties.payload_format_indicator =
            Some(if utf8 { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified });
        Ok(())
    }
}

/// Topic Alias to use (within the server's Topic Alias Maximum).
///
/// # Safety
/// `options` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_set_topic_alias(
    options: *mut mqttkit_publish_options_t,
    alias: u16,
) -> mqttkit_result {
    ffi_result! {
        if alias == 0 {
            return Err(Failure::invalid("topic alias must be at least 1"));
        }
        pub_mut(options)?.properties.topic_alias = Some(alias);
        Ok(())
    }
}

/// Adds a user property (both strings copied).
///
/// # Safety
/// `options` live; `name` and `value` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_publish_options_add_user_property(
    options: *mut mqttkit_publish_options_t,
    name: *const c_char,
    value: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = pub_mut(options)?;
        let (name, value) = (check_str!(name).to_owned(), check_str!(value).to_owned());
        options.properties.user_properties.push((name.into(), value.into()));
        Ok(())
    }
}
