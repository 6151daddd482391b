//! The embedded broker: `mqttkit_broker_config_t`, `mqttkit_broker_t`. Present in every
//! build of the header; a library built without the `broker` feature returns
//! `MQTTKIT_RESULT_UNSUPPORTED` from these functions.
#![cfg_attr(not(feature = "broker"), allow(unused_imports, dead_code, unused_variables))]

use std::ffi::c_char;

use crate::error::{Failure, mqttkit_result};
use crate::ffi::write_out;
use crate::{check_ref, check_str, ffi_result};

#[cfg(feature = "broker")]
use mqttkit::broker::{Broker, BrokerConfig, BrokerHandle, ListenerConfig};
#[cfg(feature = "broker")]
use mqttkit::runtime::RuntimeUser;

/// Configuration of an embedded broker. Opaque; create with `mqttkit_broker_config_new`
/// (defaults: one listener on 127.0.0.1:1883, anonymous access, memory storage) or
/// `mqttkit_broker_config_from_toml` (the format of `mqttkit broker --config`), change
/// with the `mqttkit_broker_config_set_*` / `_add_*` functions, free with
/// `mqttkit_broker_config_free`. Not thread-safe.
pub struct mqttkit_broker_config_t {
    #[cfg(feature = "broker")]
    pub(crate) inner: BrokerConfig,
}

/// A running embedded broker. Opaque; create with `mqttkit_broker_start`, stop and free
/// with `mqttkit_broker_free`. Its connections run on mqttkit's shared runtime threads.
/// Thread-safe: `mqttkit_broker_port` and `mqttkit_broker_stats` may be called from any
/// thread.
pub struct mqttkit_broker_t {
    #[cfg(feature = "broker")]
    handle: Option<BrokerHandle>,
    #[cfg(feature = "broker")]
    runtime: RuntimeUser,
}

/// Counters of a running broker (`mqttkit_broker_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mqttkit_broker_stats_t {
    /// Connections currently open.
    pub connections: u64,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// PUBLISH packets received from clients (wills included).
    pub messages_in: u64,
    /// PUBLISH packets sent to clients.
    pub messages_out: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Subscriptions currently held by sessions.
    pub subscriptions: u64,
    /// Retained messages currently stored.
    pub retained: u64,
    /// Messages waiting in session queues.
    pub queued: u64,
    /// Messages not delivered (queue full, too large, retained store full).
    pub dropped: u64,
    /// Messages discarded because they expired while queued.
    pub expired: u64,
    /// Pauses imposed by the rate limits (`limits.max_publish_rate`,
    /// `max_publish_bytes_rate`, `max_connection_rate`).
    pub throttled: u64,
    /// PUBLISH packets and wills refused because their client may not write the topic
    /// (ACL).
    pub publish_denied: u64,
    /// SUBSCRIBE topic filters refused because their client may not read what they match
    /// (ACL).
    pub subscribe_denied: u64,
}

/// The failure of every broker function in a build without the broker.
#[cfg(not(feature = "broker"))]
pub(crate) fn unsupported() -> Failure {
    Failure::new(
        mqttkit_result::MQTTKIT_RESULT_UNSUPPORTED,
        "this libmqttkit was built without the embedded broker (cargo feature \"broker\")",
    )
}

fn config_error(message: String) -> Failure {
    Failure::new(mqttkit_result::MQTTKIT_RESULT_INVALID_CONFIGURATION, message)
}

/// Creates a broker configuration with the defaults and writes it to `*config_out`. The
/// caller owns it and frees it with `mqttkit_broker_config_free`.
///
/// # Safety
/// `config_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_new(
    config_out: *mut *mut mqttkit_broker_config_t,
) -> mqttkit_result {
    ffi_result! {
        if config_out.is_null() {
            return Err(Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `config_out` is NULL"));
        }
        #[cfg(feature = "broker")]
        {
            let config = mqttkit_broker_config_t { inner: BrokerConfig::default() };
            write_out(config_out, Box::into_raw(Box::new(config)));
            Ok(())
        }
        #[cfg(not(feature = "broker"))]
        Err(unsupported())
    }
}

/// Parses a TOML configuration (`toml`, NUL-terminated) and writes it to `*config_out`.
/// `MQTTKIT_RESULT_INVALID_CONFIGURATION` with line, column and reason in
/// `mqttkit_last_error` when it is invalid.
///
/// # Safety
/// `toml` NUL-terminated; `config_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_from_toml(
    toml: *const c_char,
    config_out: *mut *mut mqttkit_broker_config_t,
) -> mqttkit_result {
    ffi_result! {
        let toml = check_str!(toml);
        if config_out.is_null() {
            return Err(Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `config_out` is NULL"));
        }
        #[cfg(feature = "broker")]
        {
            let inner = BrokerConfig::from_toml_str(toml, "toml").map_err(|e| config_error(e.to_string()))?;
            write_out(config_out, Box::into_raw(Box::new(mqttkit_broker_config_t { inner })));
            Ok(())
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = toml;
            Err(unsupported())
        }
    }
}

/// Frees a broker configuration. NULL is a no-op.
///
/// # Safety
/// `config` NULL or live, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_free(config: *mut mqttkit_broker_config_t) {
    crate::ffi_boundary! {
        if !config.is_null() {
            // SAFETY: made by Box::into_raw in this module; freed once.
            drop(unsafe { Box::from_raw(config) });
        }
    }
}

/// Replaces the listeners by one TCP listener on `address` ("127.0.0.1:1883"; port 0 picks
/// a free port, see `mqttkit_broker_port`).
///
/// # Safety
/// `config` NULL or live; `address` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_listener(
    config: *mut mqttkit_broker_config_t,
    address: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        // SAFETY: NULL or live, per the contract; not used concurrently.
        let config = unsafe { config.as_mut() }
            .ok_or_else(|| Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `config` is NULL"))?;
        let address = check_str!(address);
        let bind: std::net::SocketAddr =
            address.parse().map_err(|e| Failure::invalid(format!("listener address {address:?}: {e}")))?;
        #[cfg(feature = "broker")]
        {
            config.inner.listeners = vec![ListenerConfig::tcp(bind)];
            Ok(())
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = (config, bind);
            Err(unsupported())
        }
    }
}

/// Starts a broker with `config` (copied; may be freed afterwards): binds every listener,
/// then returns with the broker serving on mqttkit's runtime threads. Writes it to
/// `*broker_out`; the caller stops and frees it with `mqttkit_broker_free`.
/// `MQTTKIT_RESULT_INVALID_CONFIGURATION` for a configuration that cannot work,
/// `MQTTKIT_RESULT_NETWORK` when a listener cannot bind (address in use, ...). Blocks
/// until bound; do not call from a callback of a client of this process if it could wait.
///
/// # Safety
/// `config` NULL or live; `broker_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_start(
    config: *const mqttkit_broker_config_t,
    broker_out: *mut *mut mqttkit_broker_t,
) -> mqttkit_result {
    ffi_result! {
        let config = check_ref!(config);
        if broker_out.is_null() {
            return Err(Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `broker_out` is NULL"));
        }
        #[cfg(feature = "broker")]
        {
            let runtime = RuntimeUser::acquire().map_err(|e| {
                Failure::new(mqttkit_result::MQTTKIT_RESULT_INTERNAL, format!("cannot start the runtime: {e}"))
            })?;
            let builder = Broker::builder().config(config.inner.clone());
            let started = runtime
                .try_block_on(builder.start())
                .ok_or_else(|| Failure::new(mqttkit_result::MQTTKIT_RESULT_INTERNAL, "called on a runtime thread"))?;
            let handle = started.map_err(|error| match &error {
                mqttkit::broker::BrokerError::Io { .. } => {
                    Failure::new(mqttkit_result::MQTTKIT_RESULT_NETWORK, error.to_string())
                }
                _ => config_error(error.to_string()),
            })?;
            let broker = mqttkit_broker_t { handle: Some(handle), runtime };
            write_out(broker_out, Box::into_raw(Box::new(broker)));
            Ok(())
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = config;
            Err(unsupported())
        }
    }
}

/// The port of listener number `index` (0-based, in configuration order), e.g. the free port
/// picked for port 0; 0 when `broker` is NULL or `index` is out of range.
///
/// # Safety
/// `broker` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_port(broker: *const mqttkit_broker_t, index: usize) -> u16 {
    crate::ffi_boundary! {
        // SAFETY: NULL or live, per the contract.
        let Some(broker) = (unsafe { broker.as_ref() }) else { return 0 };
        #[cfg(feature = "broker")]
        {
            broker.handle.as_ref().and_then(|h| h.local_addrs().get(index)).map_or(0, |a| a.port())
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = (broker, index);
            0
        }
    }
}

/// Writes a snapshot of the broker's counters to `*stats`.
///
/// # Safety
/// `broker` NULL or live; `stats` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_stats(
    broker: *const mqttkit_broker_t,
    stats: *mut mqttkit_broker_stats_t,
) -> mqttkit_result {
    ffi_result! {
        let broker = check_ref!(broker);
        if stats.is_null() {
            return Err(Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `stats` is NULL"));
        }
        #[cfg(feature = "broker")]
        {
            let s = broker.handle.as_ref().map(BrokerHandle::stats).unwrap_or_default();
            write_out(stats, mqttkit_broker_stats_t {
                connections: s.connections,
                connections_total: s.connections_total,
                messages_in: s.messages_in,
                messages_out: s.messages_out,
                bytes_in: s.bytes_in,
                bytes_out: s.bytes_out,
                subscriptions: s.subscriptions,
                retained: s.retained,
                queued: s.queued,
                dropped: s.dropped,
                expired: s.expired,
                throttled: s.throttled,
                publish_denied: s.publish_denied,
                subscribe_denied: s.subscribe_denied,
            });
            Ok(())
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = broker;
            Err(unsupported())
        }
    }
}

/// Reads the password file and the ACL file of the broker's configuration again and puts
/// them in force, as Mosquitto does on SIGHUP: connected clients stay connected and are
/// checked against the new rules from now on. Returns
/// `MQTTKIT_RESULT_INVALID_CONFIGURATION` (the file and line in `mqttkit_last_error`) when
/// a file cannot be read or has a bad line; then nothing changes. Thread-safe.
///
/// # Safety
/// `broker` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_reload_auth(broker: *const mqttkit_broker_t) -> mqttkit_result {
    ffi_result! {
        let broker = check_ref!(broker);
        #[cfg(feature = "broker")]
        {
            let handle = broker.handle.as_ref().ok_or_else(|| config_error("the broker is stopped".into()))?;
            handle.reload_auth().map_err(|error| config_error(error.to_string()))
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = broker;
            Err(unsupported())
        }
    }
}

/// Stops the broker gracefully and frees it: stops accepting, sends DISCONNECT (Server
/// shutting down) to MQTT 5 clients, closes every connection, flushes storage and joins
/// the broker's tasks before returning. NULL is a no-op. Do not call from a callback of a
/// client connected to this broker if that client's callbacks could wait on the broker.
///
/// # Safety
/// `broker` NULL or live, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_free(broker: *mut mqttkit_broker_t) {
    crate::ffi_boundary! {
        if broker.is_null() {
            return;
        }
        // SAFETY: made by Box::into_raw in mqttkit_broker_start; freed once.
        let broker = unsafe { Box::from_raw(broker) };
        #[cfg(feature = "broker")]
        {
            let mqttkit_broker_t { handle, runtime } = *broker;
            if let Some(handle) = handle {
                let _ = runtime.try_block_on(handle.shutdown());
            }
            drop(runtime);
        }
        #[cfg(not(feature = "broker"))]
        drop(broker);
    }
}
