//! Broker configuration: listeners, limits, features, authentication and storage, readable
//! from a TOML file (errors name the file, line and reason) or built in code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::acl::{self, AclAccess, AclDefault};
use super::bridge::{self, BridgeConfig, Invalid, Step};
use super::error::BrokerError;
use super::sys_topics::SysConfig;
use crate::protocol::QoS;

/// Everything a broker needs to start. `BrokerConfig::default()` is safe: one listener on
/// `127.0.0.1:1883`, anonymous access, memory-only storage.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// TCP listeners (`[[listener]]` tables in TOML). Port 0 binds an ephemeral port.
    #[serde(rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    /// Resource limits.
    pub limits: Limits,
    /// Optional MQTT features announced in CONNACK.
    pub features: Features,
    /// Authentication.
    pub auth: AuthConfig,
    /// Authorization (`[acl]`).
    pub acl: AclConfig,
    /// Storage and durability.
    pub storage: StorageConfig,
    /// The `$SYS` topics (`[sys]`).
    pub sys: SysConfig,
    /// Bridges to other brokers (`[[bridge]]` tables).
    #[serde(rename = "bridge")]
    pub bridges: Vec<BridgeConfig>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listeners: vec![ListenerConfig::default()],
            limits: Limits::default(),
            features: Features::default(),
            auth: AuthConfig::default(),
            acl: AclConfig::default(),
            storage: StorageConfig::default(),
            sys: SysConfig::default(),
            bridges: Vec::new(),
        }
    }
}

impl BrokerConfig {
    /// Parses a TOML configuration. `origin` names the source in error messages.
    ///
    /// # Errors
    /// [`BrokerError::Config`] naming `origin`, the line and column, and the reason.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, BrokerError> {
        let config: BrokerConfig = toml::from_str(text).map_err(|error| {
            let (line, column) = match error.span() {
                Some(span) => line_and_column(text, span.start),
                None => (1, 1),
            };
            BrokerError::Config {
                origin: origin.to_owned(),
                line,
                column,
                reason: error.message().trim().to_owned(),
            }
        })?;
        if let Err(invalid) = config.check() {
            let (line, column) = line_and_column(text, invalid.offset_in(text).unwrap_or(0));
            return Err(BrokerError::Config {
                origin: origin.to_owned(),
                line,
                column,
                reason: invalid.reason,
            });
        }
        Ok(config)
    }

    /// Reads and parses a TOML configuration file. Relative `auth.password_file` and
    /// `acl.file` paths are taken relative to the file's directory.
    ///
    /// # Errors
    /// [`BrokerError::Io`] if the file cannot be read, [`BrokerError::Config`] if it is
    /// invalid.
    pub fn from_toml_file(path: &Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| BrokerError::Io { context: format!("reading {}", path.display()), source })?;
        let mut config = Self::from_toml_str(&text, &path.display().to_string())?;
        config.resolve_relative_to(path.parent().unwrap_or(Path::new("")));
        Ok(config)
    }

    /// Makes relative `auth.password_file` and `acl.file` paths relative to `dir` (what
    /// [`BrokerConfig::from_toml_file`] does with the file's directory), for a
    /// configuration parsed from text that came from a file.
    pub fn resolve_relative_to(&mut self, dir: &Path) {
        for file in [&mut self.auth.password_file, &mut self.acl.file].into_iter().flatten() {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
    }

    /// Checks values that the type system cannot: returns the reason for the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        self.check().map_err(|invalid| invalid.reason)
    }

    /// [`BrokerConfig::validate`], with where the bad value is (for the file's line).
    fn check(&self) -> Result<(), Invalid> {
        let at = |table: &'static str, key: &'static str, reason: String| Invalid {
            path: vec![Step::Key(table), Step::Key(key)],
            reason,
        };
        let limits = &self.limits;
        if self.listeners.is_empty() {
            return Err(Invalid {
                path: vec![Step::Key("listener")],
                reason: "at least one listener is required".into(),
            });
        }
        if limits.max_packet_size < 64 {
            let reason =
                format!("limits.max_packet_size = {} is below the minimum of 64", limits.max_packet_size);
            return Err(at("limits", "max_packet_size", reason));
        }
        for (key, value) in [
            ("receive_maximum", usize::from(limits.receive_maximum)),
            ("max_inflight", usize::from(limits.max_inflight)),
            ("max_queued_messages", limits.max_queued_messages),
        ] {
            if value == 0 {
                return Err(at("limits", key, format!("limits.{key} must be at least 1")));
            }
        }
        if let (Some(min), Some(max)) = (limits.keep_alive_min, limits.keep_alive_max)
            && min > max
        {
            let reason = format!("limits.keep_alive_min ({min}) is above limits.keep_alive_max ({max})");
            return Err(at("limits", "keep_alive_min", reason));
        }
        for (key, rate) in [
            ("max_publish_rate", limits.max_publish_rate),
            ("max_publish_bytes_rate", limits.max_publish_bytes_rate),
            ("max_connection_rate", limits.max_connection_rate),
        ] {
            if rate == Some(0) {
                return Err(at(
                    "limits",
                    key,
                    format!("limits.{key} must be at least 1 (leave it out for no limit)"),
                ));
            }
        }
        if limits.keep_alive_max == Some(0) {
            return Err(at("limits", "keep_alive_max", "limits.keep_alive_max must be at least 1".into()));
        }
        if self.features.maximum_qos > 2 {
            let reason = format!("features.maximum_qos = {} is not 0, 1 or 2", self.features.maximum_qos);
            return Err(at("features", "maximum_qos", reason));
        }
        if self.storage.durability != Durability::Memory && self.storage.data_dir.is_none() {
            let reason = "storage.data_dir is required unless storage.durability = \"memory\"".into();
            return Err(at("storage", "durability", reason));
        }
        bridge::validate(&self.bridges)?;
        validate_acl_rules(&self.acl)
    }

    /// The maximum QoS as a [`QoS`].
    pub fn maximum_qos(&self) -> QoS {
        QoS::from_u8(self.features.maximum_qos.min(2)).unwrap_or(QoS::ExactlyOnce)
    }
}

fn validate_acl_rules(config: &AclConfig) -> Result<(), Invalid> {
    acl::validate_inline(&config.rules).map_err(|(index, reason)| Invalid {
        path: vec![Step::Key("acl"), Step::Key("rules"), Step::Index(index), Step::Key("topic")],
        reason,
    })
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// One listener: an address, the protocol spoken on it, and optionally TLS.
///
/// ```toml
/// [[listener]]
/// bind = "127.0.0.1:8883"
/// protocol = "mqtt"            # or "websocket" (MQTT over WebSocket, any path)
/// [listener.tls]
/// cert_file = "server.pem"     # certificate chain, leaf first
/// key_file = "server.key"
/// client_ca_file = "ca.pem"    # optional: ask clients for a certificate from this CA
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address and port to bind, e.g. `127.0.0.1:1883` (the default) or `0.0.0.0:1883`.
    pub bind: SocketAddr,
    /// What clients speak on it: MQTT straight over TCP (the default) or over WebSocket.
    pub protocol: ListenerProtocol,
    /// TLS on this listener (`mqtts://`, or `wss://` with `protocol = "websocket"`).
    pub tls: Option<ListenerTls>,
}

impl ListenerConfig {
    /// A plain MQTT-over-TCP listener on `bind`.
    pub fn tcp(bind: SocketAddr) -> Self {
        ListenerConfig { bind, protocol: ListenerProtocol::Mqtt, tls: None }
    }
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig::tcp(SocketAddr::from(([127, 0, 0, 1], 1883)))
    }
}

/// The protocol a listener speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ListenerProtocol {
    /// MQTT over TCP (or TLS): `"mqtt"`.
    #[default]
    #[serde(rename = "mqtt")]
    Mqtt,
    /// MQTT over WebSocket (MQTT 5.0 §6, subprotocol `mqtt`): `"websocket"`.
    #[serde(rename = "websocket")]
    WebSocket,
}

/// A listener's TLS certificate and key files, and the CA for client certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// The server certificate's private key (PEM).
    pub key_file: PathBuf,
    /// CA certificates (PEM) client certificates must chain to; without it clients are
    /// not asked for one.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// With `client_ca_file`: let clients without a certificate in (default: refuse them).
    #[serde(default)]
    pub client_cert_optional: bool,
}

#[cfg(feature = "tls")]
impl ListenerTls {
    /// Reads the files into the options a TLS acceptor is built from.
    ///
    /// # Errors
    /// A message naming the file that cannot be read.
    pub fn options(&self) -> Result<crate::transport::TlsServerOptions, String> {
        let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
        Ok(crate::transport::TlsServerOptions {
            cert_chain_pem: read(&self.cert_file)?,
            key_pem: read(&self.key_file)?,
            client_ca_pem: self.client_ca_file.as_deref().map(read).transpose()?,
            client_cert_optional: self.client_cert_optional,
            alpn: Vec::new(),
        })
    }
}

/// Resource limits. Each has a safe default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Connections accepted at once; further ones get CONNACK 0x97 (v5) / 0x03 (3.1.1).
    pub max_connections: usize,
    /// Largest packet accepted from a client, in bytes (announced as Maximum Packet Size).
    pub max_packet_size: u32,
    /// QoS 2 publications a client may have unreleased at once (announced as Receive
    /// Maximum); one more is a protocol violation (DISCONNECT 0x93).
    pub receive_maximum: u16,
    /// Most QoS 1/2 messages in flight towards one client (further capped by the client's
    /// own Receive Maximum).
    pub max_inflight: u16,
    /// Messages waiting in one session's queue (not yet in flight). When full: the oldest
    /// QoS 0 message is dropped to make room; if there is none, a new QoS 0 message is
    /// dropped and a new QoS 1/2 message is refused for this session (counted in
    /// `dropped`, logged, and answered with PUBACK/PUBREC 0x97 Quota exceeded to an MQTT 5
    /// publisher).
    pub max_queued_messages: usize,
    /// Bytes (topic and payload) waiting in one session's queue; same policy as
    /// `max_queued_messages`. An empty queue takes one message even if it is larger, so that
    /// every message the broker accepts can reach every session. Expired messages are
    /// dropped first to make room, for either limit.
    pub max_queued_bytes: usize,
    /// Retained messages stored at once; a retained message on a new topic beyond this is
    /// delivered but not retained (counted in `dropped` and logged).
    pub max_retained_messages: usize,
    /// Cap on Session Expiry Interval, in seconds (`None`: no cap; 3.1.1 persistent
    /// sessions then never expire).
    pub max_session_expiry: Option<u32>,
    /// Cap on Message Expiry Interval, in seconds (`None`: no cap).
    pub max_message_expiry: Option<u32>,
    /// Smallest keep-alive accepted (seconds); a smaller non-zero one is raised (and
    /// announced as Server Keep Alive to MQTT 5 clients).
    pub keep_alive_min: Option<u16>,
    /// Largest keep-alive accepted (seconds); a larger one, or 0, is lowered and announced
    /// as Server Keep Alive to MQTT 5 clients. MQTT 3.1.1 has no way to tell the client,
    /// so a 3.1.1 CONNECT asking for more (or 0) is refused with return code 0x02, as
    /// Mosquitto's `max_keepalive` does.
    pub keep_alive_max: Option<u16>,
    /// Highest Topic Alias a client may use towards the broker (0 disables).
    pub topic_alias_maximum: u16,
    /// Seconds a new connection has to send CONNECT.
    pub connect_timeout_secs: u64,
    /// Longest client identifier accepted, in bytes (longer: CONNACK 0x85 / 0x02).
    pub max_client_id_len: usize,
    /// PUBLISH packets per second one connection may send (`None`: no limit). A faster
    /// client is not read from until its rate falls back under the limit (a burst of one
    /// second's worth passes at once): it is slowed down, nothing is dropped.
    pub max_publish_rate: Option<u32>,
    /// Bytes per second read from one connection (`None`: no limit); paced like
    /// `max_publish_rate`, on average: a read (at most 64 KiB) is handled before its
    /// bytes are paid for.
    pub max_publish_bytes_rate: Option<u32>,
    /// Connections each listener accepts per second (`None`: no limit); further ones wait
    /// in the listen backlog until the rate allows.
    pub max_connection_rate: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100_000,
            max_packet_size: 1024 * 1024,
            receive_maximum: 1024,
            max_inflight: 64,
            max_queued_messages: 1000,
            max_queued_bytes: 64 * 1024 * 1024,
            max_retained_messages: 100_000,
            max_session_expiry: None,
            max_message_expiry: None,
            keep_alive_min: None,
            keep_alive_max: None,
            topic_alias_maximum: 64,
            connect_timeout_secs: 10,
            max_client_id_len: 1024,
            max_publish_rate: None,
            max_publish_bytes_rate: None,
            max_connection_rate: None,
        }
    }
}

impl Limits {
    /// How long a connection may take to send CONNECT.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }
}

/// Optional features, announced in CONNACK to MQTT 5 clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Features {
    /// Highest QoS accepted (0, 1 or 2).
    pub maximum_qos: u8,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// Whether wildcard subscriptions are supported.
    pub wildcard_subscriptions: bool,
    /// Whether subscription identifiers are supported.
    pub subscription_identifiers: bool,
    /// Whether shared subscriptions are supported.
    pub shared_subscriptions: bool,
    /// Prefix of the Response Information sent to clients that request it; the client
    /// identifier is appended (`response/` gives `response/{client id}`).
    pub response_information_prefix: Option<String>,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            maximum_qos: 2,
            retain_available: true,
            wildcard_subscriptions: true,
            subscription_identifiers: true,
            shared_subscriptions: true,
            response_information_prefix: Some("response/".into()),
        }
    }
}

/// Authentication settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether a CONNECT without a user name is accepted.
    pub allow_anonymous: bool,
    /// Users allowed to connect (`[[auth.users]]` tables). They can authenticate with
    /// user name and password or with the SCRAM-SHA-256 enhanced authentication method.
    pub users: Vec<UserConfig>,
    /// A password file of argon2id hashes written by `mqttkit passwd` (see
    /// [`super::PasswordFile`]), read at start; its users authenticate with user name and
    /// password (not SCRAM), alongside the `users` above (a user may not be in both).
    pub password_file: Option<PathBuf>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { allow_anonymous: true, users: Vec::new(), password_file: None }
    }
}

/// Authorization: which topics each client may publish to and receive from.
///
/// ```toml
/// [acl]
/// file = "acl.conf"        # Mosquitto acl_file syntax (user / topic / pattern lines)
/// default = "deny"         # what no rule decides: "deny" (the default once a rule or a
///                          # file is configured) or "allow" (the default without any)
/// [[acl.rules]]
/// user = "alice"           # optional: only this user (otherwise every client)
/// client_id = "alice-phone" # optional: only this client identifier
/// access = "readwrite"     # "read", "write", "readwrite" or "deny"
/// topic = "home/%u/#"      # %u and %c are substituted by the user name and client id
/// ```
///
/// The rules are evaluated as [`super::Acl`] documents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AclConfig {
    /// An ACL file in Mosquitto's `acl_file` syntax, read at start.
    pub file: Option<PathBuf>,
    /// Inline rules (`[[acl.rules]]` tables), after the file's.
    pub rules: Vec<AclRuleConfig>,
    /// What is decided when no rule does; unset: `deny` if a file or a rule is configured,
    /// otherwise `allow` (and then nothing is checked).
    pub default: Option<AclDefault>,
}

/// One `[[acl.rules]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRuleConfig {
    /// Only for clients authenticated as this user (otherwise: every client, anonymous ones
    /// included).
    #[serde(default)]
    pub user: Option<String>,
    /// Only for the client with this identifier.
    #[serde(default)]
    pub client_id: Option<String>,
    /// What the rule grants, or `deny`.
    pub access: AclAccess,
    /// A topic filter; `%u` and `%c` in it are substituted by the client's user name and
    /// client identifier.
    pub topic: String,
}

/// One user of the in-config user list.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User name.
    pub username: String,
    /// Password (plain text in the config file; see `password_file` for hashed ones).
    pub password: String,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig").field("username", &self.username).field("password", &"***").finish()
    }
}

/// How durable acknowledged state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// No storage: everything lives in memory and is lost on exit.
    #[default]
    Memory,
    /// A QoS 1/2 message (and a retained message, and incoming QoS 2 state) is committed
    /// to disk before the PUBACK / PUBREC that acknowledges it. Concurrent writers share
    /// commits (group commit), so throughput does not pay one fsync per message.
    Sync,
    /// Changes are committed every `commit_interval_ms` without making acknowledgements
    /// wait: a crash can lose the last interval.
    Batched,
}

/// Storage settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Durability policy.
    pub durability: Durability,
    /// Directory of the database (required unless `durability = "memory"`).
    pub data_dir: Option<PathBuf>,
    /// Group-commit interval for `batched`, in milliseconds (default 10).
    pub commit_interval_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_localhost_only() {
        let config = BrokerConfig::default();
        assert_eq!(config.listeners[0].bind, "127.0.0.1:1883".parse().unwrap());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn parses_a_full_file() {
        let text = r#"
[[listener]]
bind = "0.0.0.0:1884"

[limits]
max_packet_size = 4096
keep_alive_max = 120

[features]
maximum_qos = 1

[auth]
allow_anonymous = false
[[auth.users]]
username = "alice"
password = "secret"
"#;
        let config = BrokerConfig::from_toml_str(text, "test.toml").unwrap();
        assert_eq!(config.listeners[0].bind.port(), 1884);
        assert_eq!(config.limits.max_packet_size, 4096);
        assert_eq!(config.maximum_qos(), QoS::AtLeastOnce);
        assert_eq!(config.auth.users[0].username, "alice");
        assert!(!format!("{:?}", config.auth.users[0]).contains("secret"));
    }

    #[test]
    fn errors_name_file_line_and_reason() {
        let text = "[limits]\nmax_packet_size = 4096\nmax_bogus = 3\n";
        let error = BrokerConfig::from_toml_str(text, "broker.toml").unwrap_err().to_string();
        assert!(error.starts_with("broker.toml:3:"), "{error}");
        assert!(error.contains("max_bogus"), "{error}");

        let text = "[limits]\nmax_packet_size = \"big\"\n";
        let error = BrokerConfig::from_toml_str(text, "b.toml").unwrap_err().to_string();
        assert!(error.starts_with("b.toml:2:"), "{error}");
    }

    #[test]
    fn values_out_of_range_name_their_line() {
        for (text, line, key) in [
            ("[limits]\nmax_inflight = 8\nmax_packet_size = 10\n", 3, "max_packet_size"),
            ("[features]\n\nmaximum_qos = 3\n", 3, "maximum_qos"),
            ("[limits]\nkeep_alive_max = 10\nkeep_alive_min = 60\n", 3, "keep_alive_min"),
            ("[sys]\ninterval_secs = 5\n[storage]\ndurability = \"sync\"\n", 4, "data_dir"),
        ] {
            let error = BrokerConfig::from_toml_str(text, "c.toml").unwrap_err().to_string();
            assert!(error.starts_with(&format!("c.toml:{line}:")), "{error}");
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn parses_acl_and_password_file_settings() {
        let text = r#"
[auth]
password_file = "passwd"

[acl]
file = "/etc/mqttkit/acl.conf"
default = "allow"
[[acl.rules]]
user = "alice"
access = "readwrite"
topic = "home/%u/#"
[[acl.rules]]
client_id = "sensor-1"
access = "write"
topic = "sensors/1"
"#;
        let config = BrokerConfig::from_toml_str(text, "b.toml").unwrap();
        assert_eq!(config.auth.password_file.as_deref(), Some(Path::new("passwd")));
        assert_eq!(config.acl.file.as_deref(), Some(Path::new("/etc/mqttkit/acl.conf")));
        assert_eq!(config.acl.default, Some(AclDefault::Allow));
        assert_eq!(config.acl.rules[0].user.as_deref(), Some("alice"));
        assert_eq!(config.acl.rules[1].access, AclAccess::Write);
        assert_eq!(config.acl.rules[1].client_id.as_deref(), Some("sensor-1"));
    }

    #[test]
    fn relative_auth_and_acl_paths_are_relative_to_the_config_file() {
        let dir = std::env::temp_dir().join(format!("mqttkit-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broker.toml");
        std::fs::write(&path, "[auth]\npassword_file = \"passwd\"\n[acl]\nfile = \"/abs/acl\"\n").unwrap();
        let config = BrokerConfig::from_toml_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(config.auth.password_file, Some(dir.join("passwd")));
        assert_eq!(config.acl.file.as_deref(), Some(Path::new("/abs/acl")));
    }

    #[test]
    fn bad_acl_rules_name_their_line() {
        let text = "[acl]\n[[acl.rules]]\naccess = \"read\"\ntopic = \"a/#/b\"\n";
        let error = BrokerConfig::from_toml_str(text, "b.toml").unwrap_err().to_string();
        assert!(error.starts_with("b.toml:4:"), "{error}");
        assert!(error.contains("[[acl.rules]] #1") && error.contains("a/#/b"), "{error}");
        let text = "[acl]\n[[acl.rules]]\naccess = \"all\"\ntopic = \"a\"\n";
        let error = BrokerConfig::from_toml_str(text, "b.toml").unwrap_err().to_string();
        assert!(error.starts_with("b.toml:3:"), "{error}");
    }

    #[test]
    fn semantic_errors_are_reported() {
        let error = BrokerConfig::from_toml_str("[features]\nmaximum_qos = 3\n", "c.toml").unwrap_err();
        assert!(error.to_string().contains("maximum_qos"), "{error}");
    }
}
