//! Bridge configuration: the `[[bridge]]` tables and their topic rules, in the manner of
//! Mosquitto's `topic pattern direction qos local_prefix remote_prefix` line.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::protocol::{ProtocolVersion, QoS};

/// One bridge: a client of a remote broker that forwards messages both ways by topic rules.
///
/// ```toml
/// [[bridge]]
/// name = "cloud"
/// address = "mqtts://broker.example.com:8883"
/// client_id = "edge-1"             # default "mqttkit-bridge-{name}"
/// username = "edge"
/// password = "secret"
/// protocol_version = "5"           # or "3.1.1"
/// clean_start = false              # keep the remote session (default)
/// session_expiry_secs = 3600       # MQTT 5
/// keep_alive_secs = 60
/// [bridge.tls]
/// ca_file = "ca.pem"
/// cert_file = "client.pem"         # mutual TLS
/// key_file = "client.key"
/// [[bridge.topic]]
/// pattern = "sensors/#"
/// direction = "out"                # "in", "out" or "both"
/// qos = 1
/// local_prefix = "site/"           # local topic = local_prefix + topic
/// remote_prefix = "edge-1/"        # remote topic = remote_prefix + topic
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Name of the bridge in logs, stats and `$SYS/broker/connection/{name}/state`: letters,
    /// digits, `-`, `_` and `.`.
    pub name: String,
    /// The remote broker: `mqtt://host:port`, `mqtts://host:port` (also `ws://`, `wss://`).
    pub address: String,
    /// Client identifier at the remote broker (default `mqttkit-bridge-{name}`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// User name at the remote broker.
    #[serde(default)]
    pub username: Option<String>,
    /// Password at the remote broker.
    #[serde(default)]
    pub password: Option<String>,
    /// Protocol spoken with the remote broker: `"5"` (default) or `"3.1.1"`.
    #[serde(default)]
    pub protocol_version: BridgeProtocol,
    /// Start a new remote session at every start of the broker (default false: the remote
    /// keeps the bridge's subscriptions and queued messages while it is away).
    #[serde(default)]
    pub clean_start: bool,
    /// How long the remote keeps the session after a disconnection, in seconds (MQTT 5;
    /// default 3600).
    #[serde(default = "defaults::session_expiry_secs")]
    pub session_expiry_secs: u32,
    /// Keep alive towards the remote, in seconds (default 60; 0 turns it off).
    #[serde(default = "defaults::keep_alive_secs")]
    pub keep_alive_secs: u16,
    /// First delay before reconnecting, in milliseconds (default 1000); it doubles after
    /// every failed attempt up to `reconnect_max_delay_ms`.
    #[serde(default = "defaults::reconnect_delay_ms")]
    pub reconnect_delay_ms: u64,
    /// Longest delay between reconnection attempts, in milliseconds (default 30000).
    #[serde(default = "defaults::reconnect_max_delay_ms")]
    pub reconnect_max_delay_ms: u64,
    /// QoS 1/2 messages in flight in each direction (default 64): forwarded and not yet
    /// acknowledged by the remote, and received from it and not yet routed here.
    #[serde(default = "defaults::max_inflight")]
    pub max_inflight: u16,
    /// TLS settings for `mqtts://` and `wss://` (without them the Mozilla roots are trusted).
    #[serde(default)]
    pub tls: Option<BridgeTls>,
    /// Topic rules (`[[bridge.topic]]`); at least one.
    #[serde(default, rename = "topic")]
    pub topics: Vec<BridgeTopic>,
}

mod defaults {
    pub(super) fn session_expiry_secs() -> u32 {
        3600
    }
    pub(super) fn keep_alive_secs() -> u16 {
        60
    }
    pub(super) fn reconnect_delay_ms() -> u64 {
        1000
    }
    pub(super) fn reconnect_max_delay_ms() -> u64 {
        30_000
    }
    pub(super) fn max_inflight() -> u16 {
        64
    }
}

impl std::fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConfig")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("client_id", &self.client_id())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("protocol_version", &self.protocol_version)
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl BridgeConfig {
    /// A bridge named `name` to the broker at `address`, with the defaults and no topic
    /// rule yet (add some with [`BridgeConfig::topic`]).
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        BridgeConfig {
            name: name.into(),
            address: address.into(),
            client_id: None,
            username: None,
            password: None,
            protocol_version: BridgeProtocol::default(),
            clean_start: false,
            session_expiry_secs: defaults::session_expiry_secs(),
            keep_alive_secs: defaults::keep_alive_secs(),
            reconnect_delay_ms: defaults::reconnect_delay_ms(),
            reconnect_max_delay_ms: defaults::reconnect_max_delay_ms(),
            max_inflight: defaults::max_inflight(),
            tls: None,
            topics: Vec::new(),
        }
    }

    /// Adds a topic rule.
    pub fn topic(mut self, topic: BridgeTopic) -> Self {
        self.topics.push(topic);
        self
    }

    /// The client identifier used at the remote broker.
    pub fn client_id(&self) -> String {
        self.client_id.clone().unwrap_or_else(|| format!("mqttkit-bridge-{}", self.name))
    }

    /// The first reconnection delay.
    pub fn reconnect_delay(&self) -> Duration {
        Duration::from_millis(self.reconnect_delay_ms)
    }

    /// The longest reconnection delay.
    pub fn reconnect_max_delay(&self) -> Duration {
        Duration::from_millis(self.reconnect_max_delay_ms)
    }
}

/// The protocol a bridge speaks with its remote broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum BridgeProtocol {
    /// MQTT 5.0: `"5"` (Mosquitto's `mqttv50` is accepted too).
    #[default]
    #[serde(rename = "5", alias = "5.0", alias = "mqttv50")]
    V5,
    /// MQTT 3.1.1: `"3.1.1"` (or `mqttv311`). It has no No Local: with `direction =
    /// "both"`, a message forwarded out comes back once from the remote.
    #[serde(rename = "3.1.1", alias = "mqttv311")]
    V311,
}

impl BridgeProtocol {
    /// As the codec names it.
    pub fn version(self) -> ProtocolVersion {
        match self {
            BridgeProtocol::V5 => ProtocolVersion::V5,
            BridgeProtocol::V311 => ProtocolVersion::V311,
        }
    }
}

/// TLS files of a bridge (`[bridge.tls]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeTls {
    /// CA certificates (PEM) to trust instead of the Mozilla roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM) of the client certificate.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Name to verify the server certificate against, when it differs from the address.
    #[serde(default)]
    pub server_name: Option<String>,
}

/// Which way a topic rule forwards messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BridgeDirection {
    /// Remote to local.
    In,
    /// Local to remote (the default, as in Mosquitto).
    #[default]
    Out,
    /// Both ways.
    Both,
}

impl BridgeDirection {
    /// Whether messages published locally go to the remote.
    pub fn outgoing(self) -> bool {
        matches!(self, BridgeDirection::Out | BridgeDirection::Both)
    }

    /// Whether messages published at the remote come here.
    pub fn incoming(self) -> bool {
        matches!(self, BridgeDirection::In | BridgeDirection::Both)
    }
}

/// A topic rule (`[[bridge.topic]]`): `local_prefix + pattern` here corresponds to
/// `remote_prefix + pattern` at the remote; an empty pattern maps the prefixes themselves
/// as topics.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeTopic {
    /// Topic filter below the prefixes (`#`, `sensors/+/temp`, ...).
    pub pattern: String,
    /// Which way messages go (default `"out"`).
    #[serde(default)]
    pub direction: BridgeDirection,
    /// Highest QoS of the forwarded messages (default 0, as in Mosquitto).
    #[serde(default)]
    pub qos: u8,
    /// Prefix of the local topics (no wildcards).
    #[serde(default)]
    pub local_prefix: String,
    /// Prefix of the remote topics (no wildcards).
    #[serde(default)]
    pub remote_prefix: String,
}

impl BridgeTopic {
    /// A rule for `pattern` in `direction`, QoS 0, without prefixes.
    pub fn new(pattern: impl Into<String>, direction: BridgeDirection) -> Self {
        BridgeTopic {
            pattern: pattern.into(),
            direction,
            qos: 0,
            local_prefix: String::new(),
            remote_prefix: String::new(),
        }
    }

    /// Sets the highest QoS.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos as u8;
        self
    }

    /// Sets the prefixes of the local and the remote topics.
    pub fn prefixes(mut self, local: impl Into<String>, remote: impl Into<String>) -> Self {
        self.local_prefix = local.into();
        self.remote_prefix = remote.into();
        self
    }

    /// The filter of the local topics this rule covers.
    pub fn local_filter(&self) -> String {
        format!("{}{}", self.local_prefix, self.pattern)
    }

    /// The filter of the remote topics this rule covers.
    pub fn remote_filter(&self) -> String {
        format!("{}{}", self.remote_prefix, self.pattern)
    }

    /// The highest QoS as a [`QoS`].
    pub fn max_qos(&self) -> QoS {
        QoS::from_u8(self.qos.min(2)).unwrap_or(QoS::ExactlyOnce)
    }
}

/// Replaces `from` at the start of `topic` by `to`; `None` if the result is no topic name.
/// A topic equal to `from` without its trailing `/` (matched by `prefix/#`) maps to `to`
/// without its trailing `/`.
pub(crate) fn map_topic(topic: &str, from: &str, to: &str) -> Option<String> {
    let mapped = match topic.strip_prefix(from) {
        Some(rest) => format!("{to}{rest}"),
        None if from.strip_suffix('/') == Some(topic) => to.strip_suffix('/').unwrap_or(to).to_owned(),
        None => return None,
    };
    (!mapped.is_empty()).then_some(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_map_between_the_prefixes() {
        assert_eq!(map_topic("a/b", "", "x/").as_deref(), Some("x/a/b"));
        assert_eq!(map_topic("x/a/b", "x/", "").as_deref(), Some("a/b"));
        assert_eq!(map_topic("local/t", "local/", "remote/").as_deref(), Some("remote/t"));
        assert_eq!(map_topic("local", "local/", "remote/").as_deref(), Some("remote"));
        assert_eq!(map_topic("other/t", "local/", "remote/"), None);
        assert_eq!(map_topic("local", "local/", ""), None, "an empty topic is no topic");
    }
}
