//! `NativeBroker`: the embedded broker (feature `broker`).
//!
//! `startBroker(options, done)` binds and starts the broker on the shared runtime and calls
//! `done` once, on the JS thread, with the `NativeBroker` or an error message. `close(done)`
//! shuts it down gracefully and calls `done`. Each callback is a threadsafe function that is
//! released right after its one call, so nothing here keeps Node alive on its own; `index.js`
//! keeps the process alive while the broker is open, as a listening `net.Server` would.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use mqttkit::broker::{Broker, BrokerConfig, BrokerHandle, BrokerStats, UserConfig};
use mqttkit::runtime::RuntimeUser;
use napi::Status;
use napi::bindgen_prelude::{Either, Function, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

/// A user of the broker's built-in authentication.
#[napi(object)]
pub struct NativeBrokerUser {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Broker options.
#[napi(object)]
pub struct NativeBrokerOptions {
    /// Address to listen on (default 127.0.0.1).
    pub host: Option<String>,
    /// Port (default 1883; 0 picks a free one).
    pub port: Option<u32>,
    /// A whole configuration in the broker's TOML format; `host`/`port` override its
    /// listeners.
    pub config: Option<String>,
    /// Accept clients without credentials.
    pub allow_anonymous: Option<bool>,
    /// Users with passwords.
    pub users: Option<Vec<NativeBrokerUser>>,
    /// Maximum number of connections.
    pub max_connections: Option<u32>,
    /// Largest packet accepted.
    pub max_packet_size: Option<u32>,
    /// Messages queued per session.
    pub max_queued_messages: Option<u32>,
    /// Highest QoS granted (0..2).
    pub maximum_qos: Option<u32>,
    /// Retained messages allowed.
    pub retain_available: Option<bool>,
}

/// The broker's counters.
#[napi(object)]
pub struct NativeBrokerStats {
    /// Connections open now.
    pub connections: f64,
    /// Connections accepted since start.
    pub connections_total: f64,
    /// PUBLISH packets received.
    pub messages_in: f64,
    /// PUBLISH packets sent.
    pub messages_out: f64,
    /// Bytes read.
    pub bytes_in: f64,
    /// Bytes written.
    pub bytes_out: f64,
    /// Subscriptions held.
    pub subscriptions: f64,
    /// Retained messages stored.
    pub retained: f64,
    /// Messages queued in sessions.
    pub queued: f64,
    /// Messages dropped.
    pub dropped: f64,
    /// Messages expired while queued.
    pub expired: f64,
    /// Times a client was paused for going over a `[limits]` rate limit.
    pub throttled: f64,
    /// PUBLISH packets (and wills) refused by the ACL.
    pub publish_denied: f64,
    /// SUBSCRIBE topic filters refused by the ACL.
    pub subscribe_denied: f64,
}

impl From<BrokerStats> for NativeBrokerStats {
    fn from(s: BrokerStats) -> Self {
        NativeBrokerStats {
            connections: s.connections as f64,
            connections_total: s.connections_total as f64,
            messages_in: s.messages_in as f64,
            messages_out: s.messages_out as f64,
            bytes_in: s.bytes_in as f64,
            bytes_out: s.bytes_out as f64,
            subscriptions: s.subscriptions as f64,
            retained: s.retained as f64,
            queued: s.queued as f64,
            dropped: s.dropped as f64,
            expired: s.expired as f64,
            throttled: s.throttled as f64,
            publish_denied: s.publish_denied as f64,
            subscribe_denied: s.subscribe_denied as f64,
        }
    }
}

/// A running embedded broker.
#[napi]
pub struct NativeBroker {
    handle: Mutex<Option<BrokerHandle>>,
    addrs: Vec<String>,
    runtime: RuntimeUser,
}

type StartDone = ThreadsafeFunction<
    Either<NativeBroker, String>,
    Unknown<'static>,
    Either<NativeBroker, String>,
    Status,
    false,
>;
type CloseDone = ThreadsafeFunction<(), Unknown<'static>, (), Status, false>;

fn config_of(options: NativeBrokerOptions) -> Result<BrokerConfig, String> {
    let mut config = match &options.config {
        Some(text) => BrokerConfig::from_toml_str(text, "config").map_err(|e| e.to_string())?,
        None => BrokerConfig::default(),
    };
    if options.host.is_some() || options.port.is_some() || options.config.is_none() {
        let host: IpAddr = options
            .host
            .as_deref()
            .unwrap_or("127.0.0.1")
            .parse()
            .map_err(|e| format!("host must be an IP address: {e}"))?;
        let port = u16::try_from(options.port.unwrap_or(1883))
            .map_err(|_| "port must be at most 65535".to_owned())?;
        config.listeners = vec![mqttkit::broker::ListenerConfig::tcp(SocketAddr::new(host, port))];
    }
    if let Some(flag) = options.allow_anonymous {
        config.auth.allow_anonymous = flag;
    }
    for user in options.users.unwrap_or_default() {
        config.auth.users.push(UserConfig { username: user.username, password: user.password });
    }
    if let Some(value) = options.max_connections {
        config.limits.max_connections = value as usize;
    }
    if let Some(value) = options.max_packet_size {
        config.limits.max_packet_size = value;
    }
    if let Some(value) = options.max_queued_messages {
        config.limits.max_queued_messages = value as usize;
    }
    if let Some(value) = options.maximum_qos {
        config.features.maximum_qos =
            u8::try_from(value).map_err(|_| "maximumQos must be 0, 1 or 2".to_owned())?;
    }
    if let Some(flag) = options.retain_available {
        config.features.retain_available = flag;
    }
    Ok(config)
}

/// Starts a broker; `done` gets the `NativeBroker`, or a string saying what failed.
#[napi]
pub fn start_broker(
    options: NativeBrokerOptions,
    done: Function<'_, Either<NativeBroker, String>, Unknown<'static>>,
) -> napi::Result<()> {
    let done: StartDone = done.build_threadsafe_function().callee_handled::<false>().build()?;
    let runtime = RuntimeUser::acquire()
        .map_err(|e| napi::Error::from_reason(format!("cannot start the runtime: {e}")))?;
    let config = config_of(options);
    let handle = runtime.handle().clone();
    handle.spawn(async move {
        let result = match config {
            Err(reason) => Either::B(reason),
            Ok(config) => match Broker::builder().config(config).start().await {
                Ok(broker) => {
                    let addrs = broker.local_addrs().iter().map(ToString::to_string).collect();
                    Either::A(NativeBroker { handle: Mutex::new(Some(broker)), addrs, runtime })
                }
                Err(error) => Either::B(error.to_string()),
            },
        };
        done.call(result, ThreadsafeFunctionCallMode::NonBlocking);
    });
    Ok(())
}

#[napi]
impl NativeBroker {
    /// The listeners' addresses (`host:port`).
    #[napi(getter)]
    pub fn addresses(&self) -> Vec<String> {
        self.addrs.clone()
    }

    /// A snapshot of the counters (zeros once closed).
    #[napi]
    pub fn stats(&self) -> NativeBrokerStats {
        let guard = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map(BrokerHandle::stats).unwrap_or_default().into()
    }

    /// Reads the password file and the ACL file again and puts them in force
    /// (`BrokerHandle::reload_auth`); returns the error (file and line) of a bad file,
    /// in which case nothing changed.
    #[napi]
    pub fn reload_auth(&self) -> Option<String> {
        let guard = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(handle) => handle.reload_auth().err().map(|error| error.to_string()),
            None => Some("the broker is closed".into()),
        }
    }

    /// Shuts the broker down gracefully; `done` is called once it is stopped.
    #[napi]
    pub fn close(&self, done: Function<'_, (), Unknown<'static>>) -> napi::Result<()> {
        let done: CloseDone = done.build_threadsafe_function().callee_handled::<false>().build()?;
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.runtime.handle().spawn(async move {
            if let Some(handle) = handle {
                handle.shutdown().await;
            }
            done.call((), ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(())
    }
}
