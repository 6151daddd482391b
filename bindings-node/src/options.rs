//! Options as they cross from JavaScript (already normalized by `index.js`: camelCase,
//! milliseconds, Buffers, user properties as a flat `[name, value, ...]` list) into the
//! core's builders.

use std::time::Duration;

use bytes::Bytes;
use mqttkit::Error;
use mqttkit::client::{ClientOptions, NO_TIMEOUT, OfflineBuffer, PublishOptions, ReconnectPolicy, Timeouts};
use mqttkit::protocol::{
    PayloadFormat, ProtocolVersion, PublishProperties, QoS, RetainHandling, Subscription,
    SubscriptionOptions, UserProperty, Will, WillProperties,
};
use mqttkit::transport::TlsOptions;
use napi::bindgen_prelude::Buffer;

use crate::auth::JsAuthenticator;
use napi_derive::napi;

/// Will message.
#[napi(object)]
pub struct NativeWill {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Option<Buffer>,
    /// QoS 0, 1 or 2.
    pub qos: Option<u32>,
    /// Retain flag.
    pub retain: Option<bool>,
    /// Will Delay Interval in seconds (MQTT 5).
    pub will_delay_interval: Option<u32>,
    /// MQTT 5 publish properties of the will.
    pub properties: Option<NativePublishProperties>,
}

/// One subscription: filter and options.
#[napi(object)]
pub struct NativeSubscription {
    /// Topic filter.
    pub topic: String,
    /// Maximum QoS.
    pub qos: Option<u32>,
    /// No Local (MQTT 5).
    pub no_local: Option<bool>,
    /// Retain As Published (MQTT 5).
    pub retain_as_published: Option<bool>,
    /// Retain Handling 0, 1 or 2 (MQTT 5).
    pub retain_handling: Option<u32>,
}

/// Reconnect policy; delays in milliseconds.
#[napi(object)]
pub struct NativeReconnect {
    /// Reconnect at all.
    pub enabled: Option<bool>,
    /// First delay (ms).
    pub initial_delay: Option<f64>,
    /// Largest delay (ms).
    pub max_delay: Option<f64>,
    /// Growth factor.
    pub multiplier: Option<f64>,
    /// Random spread, 0..1.
    pub jitter: Option<f64>,
    /// Attempts before giving up (0: forever).
    pub max_attempts: Option<u32>,
}

/// Operation timeouts in milliseconds; `Infinity` waits forever.
#[napi(object)]
pub struct NativeTimeouts {
    /// Preset to start from: `internet` (default), `localNetwork`, `satellite`, `none`.
    pub preset: Option<String>,
    /// Connect timeout.
    pub connect: Option<f64>,
    /// Publish acknowledgement timeout.
    pub publish: Option<f64>,
    /// SUBACK timeout.
    pub subscribe: Option<f64>,
    /// UNSUBACK timeout.
    pub unsubscribe: Option<f64>,
    /// PINGRESP timeout.
    pub ping: Option<f64>,
    /// AUTH / DISCONNECT timeout.
    pub auth: Option<f64>,
}

/// Offline buffer policy.
#[napi(object)]
pub struct NativeOfflineBuffer {
    /// Buffer while reconnecting.
    pub enabled: Option<bool>,
    /// Capacity.
    pub capacity: Option<u32>,
}

/// Every client option of the core.
#[napi(object)]
pub struct NativeClientOptions {
    /// Client identifier.
    pub client_id: Option<String>,
    /// 4 (3.1.1) or 5.
    pub protocol_version: Option<u32>,
    /// Clean Start.
    pub clean_start: Option<bool>,
    /// Keep alive (s).
    pub keep_alive: Option<u32>,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Buffer>,
    /// Will.
    pub will: Option<NativeWill>,
    /// Session Expiry Interval (s).
    pub session_expiry_interval: Option<u32>,
    /// No session state at all.
    pub sessionless: Option<bool>,
    /// Subscriptions made after each connect without a session.
    pub auto_subscribe: Option<Vec<NativeSubscription>>,
    /// Acknowledge received messages automatically.
    pub auto_ack: Option<bool>,
    /// Maximum Packet Size.
    pub maximum_packet_size: Option<u32>,
    /// Request Response Information.
    pub request_response_information: Option<bool>,
    /// Request Problem Information.
    pub request_problem_information: Option<bool>,
    /// Receive Maximum.
    pub receive_maximum: Option<u32>,
    /// Largest number of own QoS 1/2 publications in flight.
    pub max_inflight: Option<u32>,
    /// Topic Alias Maximum.
    pub topic_alias_maximum: Option<u32>,
    /// Automatic topic aliases.
    pub auto_topic_alias: Option<bool>,
    /// CONNECT user properties, flat `[name, value, ...]`.
    pub user_properties: Option<Vec<String>>,
    /// Reconnect policy.
    pub reconnect: Option<NativeReconnect>,
    /// Timeouts.
    pub timeouts: Option<NativeTimeouts>,
    /// Offline buffer.
    pub offline_buffer: Option<NativeOfflineBuffer>,
    /// Command queue size.
    pub command_queue_size: Option<u32>,
    /// TCP_NODELAY.
    pub tcp_no_delay: Option<bool>,
    /// SCRAM-SHA-256 enhanced authentication (MQTT 5; builds with the `broker` feature).
    pub scram: Option<NativeScram>,
    /// TLS settings for `mqtts://` and `wss://`.
    pub tls: Option<NativeTls>,
}

/// TLS settings (the core's `TlsOptions`); PEM texts as bytes.
#[napi(object)]
pub struct NativeTls {
    /// Trusted CA certificates (PEM, one or more); without them the Mozilla roots.
    pub ca: Option<Buffer>,
    /// Client certificate chain (PEM) for mutual TLS.
    pub cert: Option<Buffer>,
    /// Private key (PEM) of the client certificate.
    pub key: Option<Buffer>,
    /// Name to verify the server certificate against instead of the URL's host.
    pub servername: Option<String>,
    /// ALPN protocols to offer.
    pub alpn_protocols: Option<Vec<Buffer>>,
    /// false: accept any server certificate (encrypted, not authenticated; tests only).
    pub reject_unauthorized: Option<bool>,
}

/// SCRAM-SHA-256 credentials.
#[napi(object)]
pub struct NativeScram {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// MQTT 5 PUBLISH properties.
#[napi(object)]
pub struct NativePublishProperties {
    /// true: UTF-8 payload.
    pub payload_format_indicator: Option<bool>,
    /// Message Expiry Interval (s).
    pub message_expiry_interval: Option<u32>,
    /// Content Type.
    pub content_type: Option<String>,
    /// Response Topic.
    pub response_topic: Option<String>,
    /// Correlation Data.
    pub correlation_data: Option<Buffer>,
    /// User properties, flat `[name, value, ...]`.
    pub user_properties: Option<Vec<String>>,
    /// Topic Alias.
    pub topic_alias: Option<u32>,
}

fn config(message: String) -> Error {
    Error::InvalidConfiguration(message)
}

/// A QoS from its number.
pub(crate) fn qos(value: Option<u32>) -> Result<QoS, Error> {
    let value = value.unwrap_or(0);
    u8::try_from(value)
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| Error::InvalidArgument(format!("qos must be 0, 1 or 2, got {value}")))
}

/// `[name, value, ...]` into user properties.
pub(crate) fn user_properties(flat: Option<Vec<String>>) -> Vec<UserProperty> {
    let mut flat = flat.unwrap_or_default().into_iter();
    let mut properties = Vec::new();
    while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
        properties.push((name.into(), value.into()));
    }
    properties
}

fn u16_option(name: &str, value: u32) -> Result<u16, Error> {
    u16::try_from(value).map_err(|_| config(format!("{name} must be at most 65535, got {value}")))
}

fn duration_ms(name: &str, ms: f64) -> Result<Duration, Error> {
    if ms.is_nan() || ms < 0.0 || ms.is_infinite() {
        return Err(config(format!("{name} must be a finite number of milliseconds >= 0, got {ms}")));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

fn timeout_ms(name: &str, ms: Option<f64>, current: Option<Duration>) -> Result<Option<Duration>, Error> {
    match ms {
        None => Ok(current),
        Some(ms) if ms == f64::INFINITY => Ok(None),
        Some(ms) => duration_ms(name, ms).map(Some),
    }
}

/// A per-call timeout in milliseconds: `None` (not given) keeps the client's default,
/// `Some(None)` (`Infinity`) waits without limit.
fn call_timeout(ms: Option<f64>) -> Result<Option<Option<Duration>>, Error> {
    match ms {
        None => Ok(None),
        Some(ms) if ms == f64::INFINITY => Ok(Some(None)),
        Some(ms) => duration_ms("timeout", ms).map(|d| Some(Some(d))).map_err(|e| match e {
            Error::InvalidConfiguration(message) => Error::InvalidArgument(message),
            other => other,
        }),
    }
}

/// A per-call timeout as the core's per-call options spell it: `None` for the client's
/// default, [`NO_TIMEOUT`] for no limit.
pub(crate) fn option_timeout(ms: Option<f64>) -> Result<Option<Duration>, Error> {
    Ok(call_timeout(ms)?.map(|timeout| timeout.unwrap_or(NO_TIMEOUT)))
}

/// A per-call timeout as the core's explicit timeout parameters spell it (`None`: no
/// limit), `default` when not given.
pub(crate) fn explicit_timeout(
    ms: Option<f64>,
    default: Option<Duration>,
) -> Result<Option<Duration>, Error> {
    Ok(call_timeout(ms)?.unwrap_or(default))
}

/// Publish properties into the core's.
pub(crate) fn publish_properties(
    native: Option<NativePublishProperties>,
) -> Result<PublishProperties, Error> {
    let Some(p) = native else { return Ok(PublishProperties::default()) };
    Ok(PublishProperties {
        payload_format_indicator: p
            .payload_format_indicator
            .map(|utf8| if utf8 { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified }),
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: p
            .topic_alias
            .map(|alias| {
                u16::try_from(alias)
                    .map_err(|_| Error::InvalidArgument("topicAlias must be at most 65535".into()))
            })
            .transpose()?,
        response_topic: p.response_topic.map(Into::into),
        correlation_data: p.correlation_data.map(|data| Bytes::copy_from_slice(&data)),
        user_properties: user_properties(p.user_properties),
        subscription_identifiers: Vec::new(),
        content_type: p.content_type.map(Into::into),
    })
}

/// Publish options from their parts.
pub(crate) fn publish_options(
    qos_value: u32,
    retain: bool,
    properties: Option<NativePublishProperties>,
    timeout: Option<f64>,
) -> Result<PublishOptions, Error> {
    let mut options = PublishOptions::qos(qos(Some(qos_value))?).retain(retain);
    options.properties = publish_properties(properties)?;
    options.timeout = option_timeout(timeout)?;
    Ok(options)
}

/// A subscription into the core's.
pub(crate) fn subscription(native: NativeSubscription) -> Result<Subscription, Error> {
    let retain_handling = match native.retain_handling.unwrap_or(0) {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNewSubscription,
        2 => RetainHandling::DoNotSend,
        other => {
            return Err(Error::InvalidArgument(format!("retainHandling must be 0, 1 or 2, got {other}")));
        }
    };
    Ok(Subscription {
        filter: native.topic.into(),
        options: SubscriptionOptions {
            qos: qos(native.qos)?,
            no_local: native.no_local.unwrap_or(false),
            retain_as_published: native.retain_as_published.unwrap_or(false),
            retain_handling,
        },
    })
}

/// TLS settings into the core's (the core checks the PEM texts when the client is built).
fn tls_options(native: NativeTls) -> TlsOptions {
    let bytes = |buffer: Option<Buffer>| buffer.map(|b| b.to_vec());
    TlsOptions {
        ca_pem: bytes(native.ca),
        client_cert_pem: bytes(native.cert),
        client_key_pem: bytes(native.key),
        server_name: native.servername,
        alpn: native.alpn_protocols.unwrap_or_default().into_iter().map(|p| p.to_vec()).collect(),
        insecure_skip_verify: native.reject_unauthorized == Some(false),
    }
}

/// Builds the core's options.
pub(crate) fn client_options(
    url: String,
    o: NativeClientOptions,
    authenticator: Option<JsAuthenticator>,
) -> Result<ClientOptions, Error> {
    let mut b = ClientOptions::builder(url);
    if let Some(authenticator) = authenticator {
        if o.scram.is_some() {
            return Err(config("authenticator and scram cannot be combined: pick one method".into()));
        }
        b = b.authenticator(authenticator);
    }
    if let Some(id) = o.client_id {
        b = b.client_id(id);
    }
    if let Some(version) = o.protocol_version {
        b = b.protocol_version(match version {
            4 => ProtocolVersion::V311,
            5 => ProtocolVersion::V5,
            other => return Err(config(format!("protocolVersion must be 4 (3.1.1) or 5, got {other}"))),
        });
    }
    if let Some(clean) = o.clean_start {
        b = b.clean_start(clean);
    }
    if let Some(seconds) = o.keep_alive {
        b = b.keep_alive(Duration::from_secs(u64::from(seconds)));
    }
    if let Some(username) = o.username {
        b = b.username(username);
    }
    if let Some(password) = o.password {
        b = b.password(Bytes::copy_from_slice(&password));
    }
    if let Some(will) = o.will {
        let mut properties = WillProperties::default();
        if let Some(p) = will.properties {
            let p = publish_properties(Some(p))?;
            properties.payload_format_indicator = p.payload_format_indicator;
            properties.message_expiry_interval = p.message_expiry_interval;
            properties.content_type = p.content_type;
            properties.response_topic = p.response_topic;
            properties.correlation_data = p.correlation_data;
            properties.user_properties = p.user_properties;
        }
        properties.will_delay_interval = will.will_delay_interval;
        b = b.will(Will {
            topic: will.topic.into(),
            payload: will.payload.map(|p| Bytes::copy_from_slice(&p)).unwrap_or_default(),
            qos: qos(will.qos).map_err(|e| config(format!("will: {e}")))?,
            retain: will.retain.unwrap_or(false),
            properties,
        });
    }
    if let Some(seconds) = o.session_expiry_interval {
        b = b.session_expiry_interval(seconds);
    }
    if let Some(sessionless) = o.sessionless {
        b = b.sessionless(sessionless);
    }
    for native in o.auto_subscribe.unwrap_or_default() {
        b = b.auto_subscribe(subscription(native).map_err(|e| config(format!("autoSubscribe: {e}")))?);
    }
    if let Some(auto_ack) = o.auto_ack {
        b = b.auto_ack(auto_ack);
    }
    if let Some(size) = o.maximum_packet_size {
        b = b.maximum_packet_size(size);
    }
    if let Some(flag) = o.request_response_information {
        b = b.request_response_information(flag);
    }
    if let Some(flag) = o.request_problem_information {
        b = b.request_problem_information(flag);
    }
    if let Some(value) = o.receive_maximum {
        b = b.receive_maximum(u16_option("receiveMaximum", value)?);
    }
    if let Some(value) = o.max_inflight {
        b = b.max_inflight(u16_option("maxInflight", value)?);
    }
    if let Some(value) = o.topic_alias_maximum {
        b = b.topic_alias_maximum(u16_option("topicAliasMaximum", value)?);
    }
    if let Some(flag) = o.auto_topic_alias {
        b = b.auto_topic_alias(flag);
    }
    for (name, value) in user_properties(o.user_properties) {
        b = b.user_property(name.to_string(), value.to_string());
    }
    if let Some(r) = o.reconnect {
        let mut policy = ReconnectPolicy::default();
        if let Some(enabled) = r.enabled {
            policy.enabled = enabled;
        }
        if let Some(ms) = r.initial_delay {
            policy.initial_delay = duration_ms("reconnect.initialDelay", ms)?;
        }
        if let Some(ms) = r.max_delay {
            policy.max_delay = duration_ms("reconnect.maxDelay", ms)?;
        }
        if let Some(multiplier) = r.multiplier {
            policy.multiplier = multiplier;
        }
        if let Some(jitter) = r.jitter {
            policy.jitter = jitter;
        }
        if let Some(attempts) = r.max_attempts {
            policy.max_attempts = attempts;
        }
        b = b.reconnect(policy);
    }
    if let Some(t) = o.timeouts {
        let mut timeouts = match t.preset.as_deref() {
            None | Some("internet") => Timeouts::INTERNET,
            Some("localNetwork") => Timeouts::LOCAL_NETWORK,
            Some("satellite") => Timeouts::SATELLITE,
            Some("none") => Timeouts::NONE,
            Some(other) => {
                return Err(config(format!(
                    "timeouts preset must be internet, localNetwork, satellite or none, got {other:?}"
                )));
            }
        };
        timeouts.connect = timeout_ms("timeouts.connect", t.connect, timeouts.connect)?;
        timeouts.publish = timeout_ms("timeouts.publish", t.publish, timeouts.publish)?;
        timeouts.subscribe = timeout_ms("timeouts.subscribe", t.subscribe, timeouts.subscribe)?;
        timeouts.unsubscribe = timeout_ms("timeouts.unsubscribe", t.unsubscribe, timeouts.unsubscribe)?;
        timeouts.ping = timeout_ms("timeouts.ping", t.ping, timeouts.ping)?;
        timeouts.auth = timeout_ms("timeouts.auth", t.auth, timeouts.auth)?;
        b = b.timeouts(timeouts);
    }
    if let Some(buffer) = o.offline_buffer {
        let mut policy = OfflineBuffer::default();
        if let Some(enabled) = buffer.enabled {
            policy.enabled = enabled;
        }
        if let Some(capacity) = buffer.capacity {
            policy.capacity = capacity as usize;
        }
        b = b.offline_buffer(policy);
    }
    if let Some(size) = o.command_queue_size {
        b = b.command_queue_size(size as usize);
    }
    if let Some(flag) = o.tcp_no_delay {
        b = b.tcp_nodelay(flag);
    }
    if let Some(tls) = o.tls {
        b = b.tls(tls_options(tls));
    }
    if let Some(scram) = o.scram {
        #[cfg(feature = "broker")]
        {
            b = b.authenticator(mqttkit::client::ScramSha256::new(scram.username, scram.password));
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = scram;
            return Err(config("scram needs a build with the `broker` feature".into()));
        }
    }
    b.build()
}
