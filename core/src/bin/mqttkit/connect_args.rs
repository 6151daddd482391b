//! Where and how `mqttkit pub` and `mqttkit sub` connect: the options both share, in the
//! spirit of `mosquitto_pub` / `mosquitto_sub`.

use std::path::PathBuf;
use std::time::Duration;

use mqttkit::client::{ClientOptions, ClientOptionsBuilder, Timeouts};
use mqttkit::protocol::ProtocolVersion;
use mqttkit::transport::TlsOptions;

/// Connection options of the client commands.
#[derive(Debug, clap::Args)]
pub(crate) struct ConnectArgs {
    /// Broker URL: mqtt://, mqtts://, ws:// or wss://, with host and port.
    #[arg(long, short = 'L', value_name = "URL", default_value = "mqtt://127.0.0.1:1883")]
    url: String,
    /// Client identifier (default: assigned by the broker).
    #[arg(long = "id", short = 'i', value_name = "ID")]
    client_id: Option<String>,
    /// MQTT version: 5 or 3.1.1.
    #[arg(long = "protocol-version", short = 'V', value_name = "VERSION", default_value = "5", value_parser = parse_version)]
    protocol_version: ProtocolVersion,
    /// User name.
    #[arg(long, short = 'u')]
    username: Option<String>,
    /// Password.
    #[arg(long, short = 'P')]
    password: Option<String>,
    /// Keep-alive interval in seconds (0: off).
    #[arg(long = "keepalive", short = 'k', value_name = "SECS", default_value_t = 60)]
    keep_alive: u16,
    /// Seconds to wait for the broker's answer to each operation.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_seconds)]
    timeout: f64,
    /// CA certificates (PEM) to verify an mqtts:// or wss:// broker with, instead of the
    /// Mozilla roots.
    #[arg(long, value_name = "FILE")]
    cafile: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of the client certificate.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Accept any server certificate (encrypted, not authenticated: for tests only).
    #[arg(long)]
    insecure: bool,
}

fn parse_version(text: &str) -> Result<ProtocolVersion, String> {
    match text {
        "5" | "5.0" | "mqttv5" => Ok(ProtocolVersion::V5),
        "3.1.1" | "4" | "311" | "mqttv311" => Ok(ProtocolVersion::V311),
        other => Err(format!("`{other}` is not an MQTT version: use 5 or 3.1.1")),
    }
}

/// A positive, finite number of seconds.
pub(crate) fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(seconds),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

impl ConnectArgs {
    /// The client options these arguments describe; `clean_start` and
    /// `session_expiry_interval` are the command's own.
    pub(crate) fn builder(&self) -> Result<ClientOptionsBuilder, String> {
        let limit = Duration::from_secs_f64(self.timeout);
        let limit = Some(limit);
        let timeouts = Timeouts {
            connect: limit,
            publish: limit,
            subscribe: limit,
            unsubscribe: limit,
            ping: limit,
            auth: limit,
        };
        let mut builder = ClientOptions::builder(self.url.as_str())
            .protocol_version(self.protocol_version)
            .keep_alive(Duration::from_secs(self.keep_alive.into()))
            .timeouts(timeouts);
        if let Some(id) = &self.client_id {
            builder = builder.client_id(id.as_str());
        }
        if let Some(username) = &self.username {
            builder = builder.username(username.as_str());
        }
        if let Some(password) = &self.password {
            builder = builder.password(password.clone().into_bytes());
        }
        if self.cafile.is_some() || self.cert.is_some() || self.insecure {
            builder = builder.tls(TlsOptions {
                ca_pem: self.cafile.as_ref().map(read).transpose()?,
                client_cert_pem: self.cert.as_ref().map(read).transpose()?,
                client_key_pem: self.key.as_ref().map(read).transpose()?,
                insecure_skip_verify: self.insecure,
                ..TlsOptions::default()
            });
        }
        Ok(builder)
    }

    /// The broker URL, for messages.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Whether the connection speaks MQTT 5.
    pub(crate) fn is_v5(&self) -> bool {
        self.protocol_version == ProtocolVersion::V5
    }
}
