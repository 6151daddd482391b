//! [`ClientOptions`] and its builder: everything a client is configured with, validated
//! once at build time.

use std::time::Duration;

use bytes::Bytes;

use super::url::BrokerUrl;
use crate::error::{Error, Result};
use crate::protocol::{ProtocolVersion, Subscription, UserProperty, Will, topic};

/// How long each wait-for-acknowledgement operation waits by default. `None` waits forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect + CONNECT → CONNACK (default 30 s).
    pub connect: Option<Duration>,
    /// PUBLISH → PUBACK / PUBCOMP (default 10 s).
    pub publish: Option<Duration>,
    /// SUBSCRIBE → SUBACK (default 10 s).
    pub subscribe: Option<Duration>,
    /// UNSUBSCRIBE → UNSUBACK (default 10 s).
    pub unsubscribe: Option<Duration>,
    /// PINGREQ → PINGRESP (default 5 s); also how long keep-alive waits for PINGRESP.
    pub ping: Option<Duration>,
    /// AUTH exchange steps and DISCONNECT (default 10 s).
    pub auth: Option<Duration>,
}

impl Timeouts {
    /// Internet / cloud defaults: connect 30 s, acknowledgements 10 s, ping 5 s.
    pub const INTERNET: Timeouts = Timeouts {
        connect: Some(Duration::from_secs(30)),
        publish: Some(Duration::from_secs(10)),
        subscribe: Some(Duration::from_secs(10)),
        unsubscribe: Some(Duration::from_secs(10)),
        ping: Some(Duration::from_secs(5)),
        auth: Some(Duration::from_secs(10)),
    };

    /// Local network: connect 5 s, acknowledgements 2 s, ping 2 s.
    pub const LOCAL_NETWORK: Timeouts = Timeouts {
        connect: Some(Duration::from_secs(5)),
        publish: Some(Duration::from_secs(2)),
        subscribe: Some(Duration::from_secs(2)),
        unsubscribe: Some(Duration::from_secs(2)),
        ping: Some(Duration::from_secs(2)),
        auth: Some(Duration::from_secs(2)),
    };

    /// Satellite / high latency: connect 120 s, acknowledgements 60 s, ping 30 s.
    pub const SATELLITE: Timeouts = Timeouts {
        connect: Some(Duration::from_secs(120)),
        publish: Some(Duration::from_secs(60)),
        subscribe: Some(Duration::from_secs(60)),
        unsubscribe: Some(Duration::from_secs(60)),
        ping: Some(Duration::from_secs(30)),
        auth: Some(Duration::from_secs(60)),
    };

    /// No timeouts at all (development).
    pub const NONE: Timeouts =
        Timeouts { connect: None, publish: None, subscribe: None, unsubscribe: None, ping: None, auth: None };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::INTERNET
    }
}

/// When and how often a lost connection is re-established.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    /// Reconnect at all (default true).
    pub enabled: bool,
    /// Delay before the first attempt (default 1 s).
    pub initial_delay: Duration,
    /// Upper bound of the delay (default 30 s).
    pub max_delay: Duration,
    /// Factor the delay grows by after each failed attempt (default 2.0, at least 1.0).
    pub multiplier: f64,
    /// Random spread as a fraction of the delay, 0.0..=1.0 (default 0.2: ±20 %).
    pub jitter: f64,
    /// Attempts before giving up; 0 = forever (default 0). The count (and the delay) start
    /// over once a connection has lasted 10 s, so that a server accepting and dropping the
    /// client at once is retried ever more slowly.
    pub max_attempts: u32,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
            max_attempts: 0,
        }
    }
}

impl ReconnectPolicy {
    /// No reconnection.
    pub fn disabled() -> Self {
        ReconnectPolicy { enabled: false, ..Default::default() }
    }

    /// The delay before attempt number `attempt` (1-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = self.multiplier.powi(attempt.saturating_sub(1).min(64) as i32);
        let delay = self.initial_delay.as_secs_f64() * factor;
        Duration::from_secs_f64(delay.min(self.max_delay.as_secs_f64()))
    }

    /// The delay before attempt `attempt`, with jitter drawn from `unit` (a number in
    /// 0.0..1.0).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.base_delay(attempt).as_secs_f64();
        let spread = base * self.jitter * (2.0 * unit - 1.0);
        Duration::from_secs_f64((base + spread).max(0.0))
    }
}

/// What happens to publications made while the client is reconnecting.
///
/// Policy: messages wait in order, up to `capacity`, and are sent on reconnect. When the
/// buffer is full, the oldest QoS 0 message is dropped (and counted in
/// [`Client::dropped_messages`](super::Client::dropped_messages)) to make room; if there is
/// no QoS 0 message to drop, the new message is refused with [`Error::BufferFull`]. QoS 1/2
/// messages are never dropped silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineBuffer {
    /// Buffer at all (default true). When false, operations while disconnected fail with
    /// [`Error::NotConnected`].
    pub enabled: bool,
    /// Maximum number of buffered operations (default 1000).
    pub capacity: usize,
}

impl Default for OfflineBuffer {
    fn default() -> Self {
        OfflineBuffer { enabled: true, capacity: 1000 }
    }
}

/// Everything a [`Client`](super::Client) is configured with. Build with
/// [`ClientOptions::builder`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub(crate) url: BrokerUrl,
    pub(crate) client_id: String,
    pub(crate) protocol_version: ProtocolVersion,
    pub(crate) clean_start: bool,
    pub(crate) keep_alive: u16,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Bytes>,
    pub(crate) will: Option<Will>,
    pub(crate) session_expiry_interval: u32,
    pub(crate) sessionless: bool,
    pub(crate) auto_subscribe: Vec<Subscription>,
    pub(crate) auto_ack: bool,
    pub(crate) maximum_packet_size: Option<u32>,
    pub(crate) request_response_information: bool,
    pub(crate) request_problem_information: bool,
    pub(crate) receive_maximum: u16,
    pub(crate) max_inflight: u16,
    pub(crate) topic_alias_maximum: u16,
    pub(crate) auto_topic_alias: bool,
    pub(crate) user_properties: Vec<UserProperty>,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) timeouts: Timeouts,
    pub(crate) offline_buffer: OfflineBuffer,
    pub(crate) command_queue_size: usize,
    pub(crate) tcp_nodelay: bool,
    pub(crate) authenticator: Option<std::sync::Arc<dyn super::Authenticator>>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::transport::connect::TlsSettings>,
}

impl std::fmt::Debug for dyn super::Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authenticator({:?})", self.method())
    }
}

impl ClientOptions {
    /// A builder for a client of the broker at `url` (`mqtt://host:port`, `mqtts://`,
    /// `ws://`, `wss://`; `host:port` alone means `mqtt://`).
    pub fn builder(url: impl Into<String>) -> ClientOptionsBuilder {
        ClientOptionsBuilder { url: url.into(), options: Default::default() }
    }

    /// The broker URL.
    pub fn url(&self) -> &BrokerUrl {
        &self.url
    }
    /// The client identifier (empty: the server assigns one).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The protocol version.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol_version
    }
    /// Keep alive in seconds.
    pub fn keep_alive(&self) -> u16 {
        self.keep_alive
    }
    /// Default operation timeouts.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }
    /// The reconnect policy.
    pub fn reconnect(&self) -> &ReconnectPolicy {
        &self.reconnect
    }
    /// The offline buffer policy.
    pub fn offline_buffer(&self) -> &OfflineBuffer {
        &self.offline_buffer
    }
    /// Whether received QoS 1/2 messages are acknowledged automatically.
    pub fn auto_ack(&self) -> bool {
        self.auto_ack
    }
}

/// The values [`ClientOptionsBuilder`] starts from.
struct Draft {
    client_id: String,
    protocol_version: ProtocolVersion,
    clean_start: bool,
    keep_alive: Duration,
    username: Option<String>,
    password: Option<Bytes>,
    will: Option<Will>,
    session_expiry_interval: Option<u32>,
    sessionless: bool,
    auto_subscribe: Vec<Subscription>,
    auto_ack: bool,
    maximum_packet_size: Option<u32>,
    request_response_information: bool,
    request_problem_information: bool,
    receive_maximum: u16,
    max_inflight: u16,
    topic_alias_maximum: u16,
    auto_topic_alias: bool,
    user_properties: Vec<UserProperty>,
    reconnect: ReconnectPolicy,
    timeouts: Timeouts,
    offline_buffer: OfflineBuffer,
    command_queue_size: usize,
    tcp_nodelay: bool,
    authenticator: Option<std::sync::Arc<dyn super::Authenticator>>,
    #[cfg(feature = "tls")]
    tls: Option<crate::transport::TlsOptions>,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            client_id: String::new(),
            protocol_version: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: Duration::from_secs(60),
            username: None,
            password: None,
            will: None,
            session_expiry_interval: None,
            sessionless: false,
            auto_subscribe: Vec::new(),
            auto_ack: true,
            maximum_packet_size: None,
            request_response_information: false,
            request_problem_information: true,
            receive_maximum: 65_535,
            max_inflight: 65_535,
            topic_alias_maximum: 0,
            auto_topic_alias: false,
            user_properties: Vec::new(),
            reconnect: ReconnectPolicy::default(),
            timeouts: Timeouts::default(),
            offline_buffer: OfflineBuffer::default(),
            command_queue_size: 1000,
            tcp_nodelay: true,
            authenticator: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Builds [`ClientOptions`]; [`build`](ClientOptionsBuilder::build) rejects combinations that
/// cannot work, with a message naming the option.
#[must_use]
pub struct ClientOptionsBuilder {
    url: String,
    options: Draft,
}

macro_rules! setters {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty => $field:ident $(= $wrap:ident)?; )+) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.options.$field = setters!(@wrap value $(, $wrap)?);
                self
            }
        )+
    };
    (@wrap $value:ident) => { $value.into() };
    (@wrap $value:ident, Some) => { Some($value.into()) };
}

impl ClientOptionsBuilder {
    setters! {
        /// Client identifier; empty (the default) lets the server assign one.
        client_id: impl Into<String> => client_id;
        /// Protocol version (default MQTT 5.0).
        protocol_version: ProtocolVersion => protocol_version;
        /// Clean Start / Clean Session (default true).
        clean_start: bool => clean_start;
        /// Keep alive interval (default 60 s; whole seconds, at most 65,535 s; zero turns
        /// keep-alive off).
        keep_alive: Duration => keep_alive;
        /// User name.
        username: impl Into<String> => username = Some;
        /// Password.
        password: impl Into<Bytes> => password = Some;
        /// Will message, published by the server if this client disappears.
        will: Will => will = Some;
        /// Session Expiry Interval in seconds (MQTT 5; default 0: the session ends with the
        /// connection; `u32::MAX`: never expires).
        session_expiry_interval: u32 => session_expiry_interval = Some;
        /// Run without session state: always clean start, nothing resent after a reconnect.
        sessionless: bool => sessionless;
        /// Acknowledge received QoS 1/2 messages automatically (default true). When false,
        /// call [`Message::ack`](super::Message::ack) after processing each one.
        auto_ack: bool => auto_ack;
        /// Largest packet this client accepts (MQTT 5 Maximum Packet Size).
        maximum_packet_size: u32 => maximum_packet_size = Some;
        /// Ask the server for Response Information (MQTT 5).
        request_response_information: bool => request_response_information;
        /// Let the server send Reason Strings and User Properties on failures (MQTT 5,
        /// default true).
        request_problem_information: bool => request_problem_information;
        /// How many QoS 1/2 messages the server may have in flight to this client (MQTT 5,
        /// default 65,535).
        receive_maximum: u16 => receive_maximum;
        /// How many QoS 1/2 publications this client keeps in flight at most (default
        /// 65,535); the server's Receive Maximum lowers it further. More wait, in order, in
        /// the client.
        max_inflight: u16 => max_inflight;
        /// Highest topic alias this client accepts from the server (MQTT 5, default 0: none).
        topic_alias_maximum: u16 => topic_alias_maximum;
        /// Replace repeated topics by topic aliases automatically, within the server's Topic
        /// Alias Maximum (MQTT 5, default false).
        auto_topic_alias: bool => auto_topic_alias;
        /// Reconnect policy.
        reconnect: ReconnectPolicy => reconnect;
        /// Default operation timeouts (see [`Timeouts`] for presets).
        timeouts: Timeouts => timeouts;
        /// Offline buffer policy.
        offline_buffer: OfflineBuffer => offline_buffer;
        /// Capacity of the queue between the client handle and its connection task (default
        /// 1000).
        command_queue_size: usize => command_queue_size;
        /// TCP_NODELAY (default true).
        tcp_nodelay: bool => tcp_nodelay;
    }

    /// Adds a user property to CONNECT (MQTT 5).
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.user_properties.push((name.into().into(), value.into().into()));
        self
    }

    /// Runs enhanced authentication with `authenticator` at every connect (MQTT 5).
    pub fn authenticator(mut self, authenticator: impl super::Authenticator) -> Self {
        self.options.authenticator = Some(std::sync::Arc::new(authenticator));
        self
    }

    /// TLS settings for `mqtts://` (trusted CAs, client certificate, server name). Without
    /// them, `mqtts://` trusts the Mozilla root certificates.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::transport::TlsOptions) -> Self {
        self.options.tls = Some(tls);
        self
    }

    /// Subscribes to `subscription` after every connect that did not resume a session.
    pub fn auto_subscribe(mut self, subscription: Subscription) -> Self {
        self.options.auto_subscribe.push(subscription);
        self
    }

    /// Timeout preset for a local network.
    pub fn local_network_timeouts(self) -> Self {
        self.timeouts(Timeouts::LOCAL_NETWORK)
    }

    /// Timeout preset for the internet (the default).
    pub fn internet_timeouts(self) -> Self {
        self.timeouts(Timeouts::INTERNET)
    }

    /// Timeout preset for satellite and other high-latency links.
    pub fn satellite_timeouts(self) -> Self {
        self.timeouts(Timeouts::SATELLITE)
    }

    /// No timeouts.
    pub fn no_timeouts(self) -> Self {
        self.timeouts(Timeouts::NONE)
    }

    /// Validates and returns the options.
    ///
    /// # Errors
    /// [`Error::InvalidConfiguration`] naming the first option that is wrong.
    pub fn build(self) -> Result<ClientOptions> {
        let invalid = |message: String| Err(Error::InvalidConfiguration(message));
        let url = BrokerUrl::parse(&self.url)?;
        let d = self.options;
        let v5 = d.protocol_version == ProtocolVersion::V5;
        if d.keep_alive.as_secs() > u64::from(u16::MAX) || d.keep_alive.subsec_nanos() != 0 {
            return invalid(format!(
                "keep_alive must be whole seconds up to 65535 s, got {:?}",
                d.keep_alive
            ));
        }
        if !v5 {
            let v5_only = [
                (d.session_expiry_interval.is_some(), "session_expiry_interval"),
                (d.maximum_packet_size.is_some(), "maximum_packet_size"),
                (d.request_response_information, "request_response_information"),
                (d.receive_maximum != 65_535, "receive_maximum"),
                (d.topic_alias_maximum != 0, "topic_alias_maximum"),
                (d.auto_topic_alias, "auto_topic_alias"),
                (!d.user_properties.is_empty(), "user_property"),
                (d.authenticator.is_some(), "authenticator"),
            ];
            if let Some((_, name)) = v5_only.iter().find(|(set, _)| *set) {
                return invalid(format!("{name} is an MQTT 5 option; protocol_version is 3.1.1"));
            }
            if d.password.is_some() && d.username.is_none() && url.username.is_none() {
                return invalid("MQTT 3.1.1 does not allow a password without a username".into());
            }
            if d.client_id.is_empty() && !d.clean_start {
                return invalid(
                    "MQTT 3.1.1 needs a client_id when clean_start is false (MQTT-3.1.3-7)".into(),
                );
            }
        }
        if d.receive_maximum == 0 {
            return invalid("receive_maximum must be at least 1".into());
        }
        if d.max_inflight == 0 {
            return invalid("max_inflight must be at least 1".into());
        }
        if d.maximum_packet_size == Some(0) {
            return invalid("maximum_packet_size must be at least 1".into());
        }
        if d.sessionless && (!d.clean_start || d.session_expiry_interval.unwrap_or(0) != 0) {
            return invalid(
                "sessionless cannot be combined with clean_start(false) or a session expiry".into(),
            );
        }
        if let Some(will) = &d.will {
            topic::validate_topic_name(&will.topic)
                .map_err(|e| Error::InvalidConfiguration(format!("will topic {:?}: {e}", &*will.topic)))?;
        }
        for subscription in &d.auto_subscribe {
            topic::validate_topic_filter(&subscription.filter).map_err(|e| {
                Error::InvalidConfiguration(format!("auto_subscribe filter {:?}: {e}", &*subscription.filter))
            })?;
        }
        #[cfg(feature = "tls")]
        let tls = match (url.scheme, &d.tls) {
            (super::Scheme::Mqtts | super::Scheme::Wss, options) => {
                let options = options.clone().unwrap_or_default();
                let config = options
                    .client_config()
                    .map_err(|why| Error::InvalidConfiguration(format!("tls: {why}")))?;
                let name = options.server_name.clone().unwrap_or_else(|| url.host.clone());
                let server_name = rustls::pki_types::ServerName::try_from(name.clone())
                    .map_err(|e| Error::InvalidConfiguration(format!("tls server name {name:?}: {e}")))?;
                Some(crate::transport::connect::TlsSettings { config, server_name })
            }
            (_, Some(_)) => return invalid(format!("tls options need an mqtts:// or wss:// URL, got {url}")),
            (_, None) => None,
        };
        #[cfg(not(feature = "tls"))]
        if matches!(url.scheme, super::Scheme::Mqtts | super::Scheme::Wss) {
            return invalid(format!("{url} needs TLS: build mqttkit with the `tls` feature"));
        }
        #[cfg(not(feature = "websocket"))]
        if matches!(url.scheme, super::Scheme::Ws | super::Scheme::Wss) {
            return invalid(format!("{url} needs WebSocket: build mqttkit with the `websocket` feature"));
        }
        let r = &d.reconnect;
        if !(r.multiplier >= 1.0 && r.multiplier.is_finite()) {
            return invalid(format!("reconnect multiplier must be at least 1.0, got {}", r.multiplier));
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return invalid(format!("reconnect jitter must be within 0.0..=1.0, got {}", r.jitter));
        }
        if r.initial_delay > r.max_delay {
            return invalid("reconnect initial_delay is larger than max_delay".into());
        }
        if d.offline_buffer.enabled && d.offline_buffer.capacity == 0 {
            return invalid("offline_buffer capacity must be at least 1 when buffering is enabled".into());
        }
        if d.command_queue_size == 0 {
            return invalid("command_queue_size must be at least 1".into());
        }
        Ok(ClientOptions {
            username: d.username.or_else(|| url.username.clone()),
            password: d.password.or_else(|| url.password.clone().map(Bytes::from)),
            url,
            client_id: d.client_id,
            protocol_version: d.protocol_version,
            clean_start: d.clean_start,
            keep_alive: d.keep_alive.as_secs() as u16,
            will: d.will,
            session_expiry_interval: d.session_expiry_interval.unwrap_or(0),
            sessionless: d.sessionless,
            auto_subscribe: d.auto_subscribe,
            auto_ack: d.auto_ack,
            maximum_packet_size: d.maximum_packet_size,
            request_response_information: d.request_response_information,
            request_problem_information: d.request_problem_information,
            receive_maximum: d.receive_maximum,
            max_inflight: d.max_inflight,
            topic_alias_maximum: d.topic_alias_maximum,
            auto_topic_alias: d.auto_topic_alias,
            user_properties: d.user_properties,
            reconnect: d.reconnect,
            timeouts: d.timeouts,
            offline_buffer: d.offline_buffer,
            command_queue_size: d.command_queue_size,
            tcp_nodelay: d.tcp_nodelay,
            authenticator: d.authenticator,
            #[cfg(feature = "tls")]
            tls,
        })
    }
}

impl Default for ClientOptionsBuilder {
    fn default() -> Self {
        ClientOptions::builder("mqtt://127.0.0.1:1883")
    }
}
