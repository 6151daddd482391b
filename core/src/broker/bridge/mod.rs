//! Bridges: each one a client of a remote broker (our own [`Client`]) that forwards
//! messages by topic rules.
//!
//! - Out: an internal session subscribed in the local router (No Local, Retain As
//!   Published, one subscription identifier per rule) queues what local clients publish,
//!   within the broker's queue limits; [`outbound`] hands it to the client while the remote
//!   is connected, with at most `max_inflight` QoS 1/2 messages unacknowledged.
//! - In: the client subscribes at the remote (No Local on MQTT 5) and [`inbound`] routes
//!   what arrives into the local router under the internal session's name, acknowledging
//!   each QoS 1/2 message once it is queued here, so the remote never has more than
//!   `max_inflight` of them on their way.
//!
//! A message that came in over a bridge is not forwarded out over it again: its local
//! publisher is the bridge's internal session, whose subscriptions are No Local. The
//! client reconnects with exponential back-off and resends unacknowledged QoS 1 messages;
//! the internal session lives in memory (not in storage).

mod checks;
mod config;
mod inbound;
mod outbound;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) use checks::{Invalid, Step, validate};
pub use config::{BridgeConfig, BridgeDirection, BridgeProtocol, BridgeTls, BridgeTopic};

use super::Shared;
use super::error::BrokerError;
use super::session::{Owner, Session};
use crate::client::{Client, ClientOptions, OfflineBuffer, ReconnectPolicy};

/// Where a bridge's connection to its remote stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Connecting or reconnecting (the client's back-off).
    Connecting,
    /// Connected: messages are forwarded.
    Connected,
    /// The remote refused the bridge for good (credentials, ...): tried again after the
    /// longest reconnection delay.
    Refused,
}

/// A snapshot of one bridge ([`BrokerHandle::bridges`](super::BrokerHandle::bridges)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// The bridge's name.
    pub name: String,
    /// Whether it is connected to its remote broker now.
    pub connected: bool,
    /// Connections established since start.
    pub connects: u64,
    /// Messages forwarded to the remote (QoS 1/2 counted once acknowledged).
    pub messages_out: u64,
    /// Messages received from the remote and routed here.
    pub messages_in: u64,
    /// Forwarded QoS 1/2 messages the remote refused or that failed (logged).
    pub refused_out: u64,
    /// Messages not forwarded either way: no rule maps their topic, expired before they
    /// could be sent, or refused by full local queues (logged).
    pub dropped: u64,
    /// Local messages waiting to be forwarded.
    pub queued: u64,
}

/// A running bridge's state and counters, shared by its tasks, the broker handle and the
/// `$SYS` task.
#[derive(Debug)]
pub(crate) struct BridgeStatus {
    name: Arc<str>,
    state: watch::Sender<LinkState>,
    connects: AtomicU64,
    messages_out: AtomicU64,
    messages_in: AtomicU64,
    refused_out: AtomicU64,
    dropped: AtomicU64,
    session: Arc<Session>,
}

impl BridgeStatus {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn is_connected(&self) -> bool {
        *self.state.borrow() == LinkState::Connected
    }

    fn set_state(&self, state: LinkState) {
        self.state.send_replace(state);
        self.session.set_online(state == LinkState::Connected);
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BridgeStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BridgeStats {
            name: self.name.to_string(),
            connected: self.is_connected(),
            connects: get(&self.connects),
            messages_out: get(&self.messages_out),
            messages_in: get(&self.messages_in),
            refused_out: get(&self.refused_out),
            dropped: get(&self.dropped),
            queued: self.session.lock().queue.len() as u64,
        }
    }
}

/// A bridge whose client options are built and checked, ready to start.
#[derive(Debug)]
pub(crate) struct Prepared {
    config: BridgeConfig,
    options: ClientOptions,
}

impl Prepared {
    /// Builds the client options (reading the TLS files).
    ///
    /// # Errors
    /// [`BrokerError::Bridge`] naming the bridge and what is wrong.
    pub(crate) fn new(config: &BridgeConfig) -> Result<Self, BrokerError> {
        let bad = |reason: String| BrokerError::Bridge { name: config.name.clone(), reason };
        let v5 = config.protocol_version == BridgeProtocol::V5;
        let mut builder = ClientOptions::builder(config.address.clone())
            .client_id(config.client_id())
            .protocol_version(config.protocol_version.version())
            .clean_start(config.clean_start)
            .keep_alive(std::time::Duration::from_secs(config.keep_alive_secs.into()))
            .auto_ack(false)
            .max_inflight(config.max_inflight)
            .offline_buffer(OfflineBuffer { enabled: true, capacity: 4 * usize::from(config.max_inflight) })
            .reconnect(ReconnectPolicy {
                initial_delay: config.reconnect_delay(),
                max_delay: config.reconnect_max_delay(),
                ..ReconnectPolicy::default()
            });
        if v5 {
            builder = builder
                .session_expiry_interval(config.session_expiry_secs)
                .receive_maximum(config.max_inflight);
        }
        if let Some(username) = &config.username {
            builder = builder.username(username.clone());
        }
        if let Some(password) = &config.password {
            builder = builder.password(password.clone().into_bytes());
        }
        if let Some(tls) = &config.tls {
            builder = with_tls(builder, tls).map_err(bad)?;
        }
        let options = builder.build().map_err(|error| bad(error.to_string()))?;
        Ok(Prepared { config: config.clone(), options })
    }

    /// Subscribes the internal session locally, starts the client and the forwarding task.
    pub(crate) fn start(
        self,
        shared: &Arc<Shared>,
    ) -> Result<(Arc<BridgeStatus>, JoinHandle<()>), BrokerError> {
        let Prepared { config, options } = self;
        let local_id = Arc::from(format!("$bridge/{}", config.name));
        let session = Arc::new(Session::new(local_id, crate::protocol::ProtocolVersion::V5));
        session.lock().owner = Owner::Bridge;
        let (state, _) = watch::channel(LinkState::Connecting);
        let status = Arc::new(BridgeStatus {
            name: Arc::from(config.name.as_str()),
            state,
            connects: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            messages_in: AtomicU64::new(0),
            refused_out: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            session: session.clone(),
        });
        let sink = inbound::Inbound::new(shared.clone(), status.clone(), &config);
        let client = Client::new(options, sink)
            .map_err(|error| BrokerError::Bridge { name: config.name.clone(), reason: error.to_string() })?;
        let forwarder = outbound::Outbound::subscribe(shared.clone(), status.clone(), session, &config);
        let task = tokio::spawn(run(client, forwarder, config));
        Ok((status, task))
    }
}

#[cfg(feature = "tls")]
fn with_tls(
    builder: crate::client::ClientOptionsBuilder,
    tls: &BridgeTls,
) -> Result<crate::client::ClientOptionsBuilder, String> {
    let read = |path: &std::path::Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    Ok(builder.tls(crate::transport::TlsOptions {
        ca_pem: tls.ca_file.as_deref().map(read).transpose()?,
        client_cert_pem: tls.cert_file.as_deref().map(read).transpose()?,
        client_key_pem: tls.key_file.as_deref().map(read).transpose()?,
        server_name: tls.server_name.clone(),
        ..Default::default()
    }))
}

#[cfg(not(feature = "tls"))]
fn with_tls(
    _builder: crate::client::ClientOptionsBuilder,
    _tls: &BridgeTls,
) -> Result<crate::client::ClientOptionsBuilder, String> {
    Err("TLS settings need mqttkit built with the `tls` feature".into())
}

/// Connects, subscribes at the remote, forwards until the broker stops, then leaves the
/// router and disconnects.
async fn run(client: Client, forwarder: outbound::Outbound, config: BridgeConfig) {
    let subscriptions = inbound::remote_subscriptions(&config);
    if client.connect_nowait().await.is_ok() && !subscriptions.is_empty() {
        // Waits in the client's offline buffer until the first connection is up; the client
        // restores it itself whenever the remote has no session.
        let _ = client.subscribe_with_nowait(subscriptions, Default::default()).await;
    }
    forwarder.run(&client).await;
    let timeout = Some(std::time::Duration::from_secs(2));
    let reason = crate::protocol::ReasonCode::Success;
    let _ = client.disconnect_with_timeout(reason, Default::default(), timeout).await;
    let _ = client.shutdown().await;
    forwarder.finish().await;
    tracing::info!(bridge = config.name, "bridge stopped");
}
