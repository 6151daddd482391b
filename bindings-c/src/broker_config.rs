//! Per-field setters of `mqttkit_broker_config_t` (the fields of the core's
//! `BrokerConfig`, named as in its TOML format). Values that are wrong on their own are
//! refused by the setter (`MQTTKIT_RESULT_INVALID_ARGUMENT`); combinations (keep-alive
//! bounds, durability without a data directory) are checked by `mqttkit_broker_start`
//! (`MQTTKIT_RESULT_INVALID_CONFIGURATION` naming the field). A library built without the
//! broker returns `MQTTKIT_RESULT_UNSUPPORTED` from all of them.
#![cfg_attr(not(feature = "broker"), allow(unused_imports, unused_variables))]

use std::ffi::c_char;

use crate::broker::mqttkit_broker_config_t;
use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::ffi::{arg_opt_str, arg_str};
use crate::ffi_result;

#[cfg(feature = "broker")]
use mqttkit::broker::{Durability, ListenerConfig, UserConfig};

/// Durability policy of the broker's storage (`mqttkit_broker_config_set_storage`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqttkit_durability {
    /// No storage: everything lives in memory and is lost on exit (the default).
    MQTTKIT_DURABILITY_MEMORY = 0,
    /// Acknowledged QoS 1/2 and retained messages are on disk before the acknowledgement
    /// (group commit).
    MQTTKIT_DURABILITY_SYNC = 1,
    /// Changes are committed every commit interval; a crash can lose the last interval.
    MQTTKIT_DURABILITY_BATCHED = 2,
}

fn config_mut<'a>(config: *mut mqttkit_broker_config_t) -> FfiResult<&'a mut mqttkit_broker_config_t> {
    // SAFETY: NULL or live, per the contract; not used concurrently.
    unsafe { config.as_mut() }.ok_or_else(|| {
        Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `config` is NULL")
    })
}

fn at_least_one(value: u64, field: &str) -> FfiResult<()> {
    if value == 0 { Err(Failure::invalid(format!("{field} must be at least 1"))) } else { Ok(()) }
}

/// Runs `$body` with `$c` bound to the core configuration; unsupported without the broker.
macro_rules! update {
    ($config:ident, |$c:ident| $body:expr) => {{
        let config = config_mut($config)?;
        #[cfg(feature = "broker")]
        {
            let $c = &mut config.inner;
            $body;
            Ok(())
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = config;
            Err(crate::broker::unsupported())
        }
    }};
}

/// Adds a TCP listener on `address` ("0.0.0.0:1883"; port 0 picks a free port, see
/// `mqttkit_broker_port`) after the existing ones (`mqttkit_broker_config_set_listener`
/// replaces them all).
///
/// # Safety
/// `config` NULL or live; `address` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_add_listener(
    config: *mut mqttkit_broker_config_t,
    address: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let address = arg_str(address, "address")?;
        let bind: std::net::SocketAddr =
            address.parse().map_err(|e| Failure::invalid(format!("listener address {address:?}: {e}")))?;
        update!(config, |c| c.listeners.push(ListenerConfig::tcp(bind)))
    }
}

/// `limits.max_connections`: connections accepted at once (default 100000); further ones
/// are refused in CONNACK.
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_max_connections(
    config: *mut mqttkit_broker_config_t,
    max: usize,
) -> mqttkit_result {
    ffi_result! { update!(config, |c| c.limits.max_connections = max) }
}

/// `limits.max_packet_size`: largest packet accepted from a client, in bytes (at least 64;
/// default 1 MiB).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_max_packet_size(
    config: *mut mqttkit_broker_config_t,
    bytes: u32,
) -> mqttkit_result {
    ffi_result! {
        if bytes < 64 {
            return Err(Failure::invalid(format!("max_packet_size must be at least 64, got {bytes}")));
        }
        update!(config, |c| c.limits.max_packet_size = bytes)
    }
}

/// `limits.receive_maximum`: QoS 2 publications a client may have unreleased at once
/// (at least 1; default 1024).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_receive_maximum(
    config: *mut mqttkit_broker_config_t,
    maximum: u16,
) -> mqttkit_result {
    ffi_result! {
        at_least_one(maximum.into(), "receive_maximum")?;
        update!(config, |c| c.limits.receive_maximum = maximum)
    }
}

/// `limits.max_inflight`: QoS 1/2 messages in flight towards one client (at least 1;
/// default 64).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_max_inflight(
    config: *mut mqttkit_broker_config_t,
    maximum: u16,
) -> mqttkit_result {
    ffi_result! {
        at_least_one(maximum.into(), "max_inflight")?;
        update!(config, |c| c.limits.max_inflight = maximum)
    }
}

/// `limits.max_queued_messages` and `limits.max_queued_bytes`: messages and payload bytes
/// waiting in one session's queue (messages at least 1; defaults 1000 and 64 MiB). When
/// full, QoS 0 messages are dropped oldest first and new QoS 1/2 messages are refused.
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_max_queued(
    config: *mut mqttkit_broker_config_t,
    messages: usize,
    bytes: usize,
) -> mqttkit_result {
    ffi_result! {
        at_least_one(messages as u64, "max_queued_messages")?;
        update!(config, |c| {
            c.limits.max_queued_messages = messages;
            c.limits.max_queued_bytes = bytes;
        })
    }
}

/// `limits.max_retained_messages`: retained messages stored at once (default 100000).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_max_retained_messages(
    config: *mut mqttkit_broker_config_t,
    max: usize,
) -> mqttkit_result {
    ffi_result! { update!(config, |c| c.limits.max_retained_messages = max) }
}

/// `limits.max_session_expiry` and `limits.max_message_expiry`: caps on the Session and
/// Message Expiry Intervals, in seconds (`UINT32_MAX`: no cap, the default).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_max_expiry(
    config: *mut mqttkit_broker_config_t,
    session_seconds: u32,
    message_seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        let cap = |seconds: u32| (seconds != u32::MAX).then_some(seconds);
        update!(config, |c| {
            c.limits.max_session_expiry = cap(session_seconds);
            c.limits.max_message_expiry = cap(message_seconds);
        })
    }
}

/// `limits.keep_alive_min` and `limits.keep_alive_max`, in seconds (0: no bound, the
/// default): a client's keep-alive outside them is adjusted and announced as Server Keep
/// Alive to MQTT 5 clients; an MQTT 3.1.1 client asking for more than `max` (or for none)
/// is refused with return code 0x02, as by Mosquitto. `min` above `max` fails at
/// `mqttkit_broker_start`.
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_keep_alive_bounds(
    config: *mut mqttkit_broker_config_t,
    min: u16,
    max: u16,
) -> mqttkit_result {
    ffi_result! {
        update!(config, |c| {
            c.limits.keep_alive_min = (min > 0).then_some(min);
            c.limits.keep_alive_max = (max > 0).then_some(max);
        })
    }
}

/// `limits.topic_alias_maximum`: highest Topic Alias a client may use towards the broker
/// (0 disables; default 64).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_topic_alias_maximum(
    config: *mut mqttkit_broker_config_t,
    maximum: u16,
) -> mqttkit_result {
    ffi_result! { update!(config, |c| c.limits.topic_alias_maximum = maximum) }
}

/// `limits.connect_timeout_secs`: seconds a new connection has to send CONNECT (at least 1;
/// default 10).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_connect_timeout(
    config: *mut mqttkit_broker_config_t,
    seconds: u32,
) -> mqttkit_result {
    ffi_result! {
        at_least_one(seconds.into(), "connect_timeout_secs")?;
        update!(config, |c| c.limits.connect_timeout_secs = seconds.into())
    }
}

/// The rate limits, each 0 for none (the default): `limits.max_publish_rate` (PUBLISH
/// packets per second one connection may send), `limits.max_publish_bytes_rate` (bytes per
/// second read from one connection) and `limits.max_connection_rate` (connections each
/// listener accepts per second). Over a limit the broker pauses reading from that
/// connection (or accepting) until the rate allows: nothing is dropped; each pause counts
/// in `mqttkit_broker_stats_t.throttled`.
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_rate_limits(
    config: *mut mqttkit_broker_config_t,
    publishes_per_second: u32,
    bytes_per_second: u32,
    connections_per_second: u32,
) -> mqttkit_result {
    ffi_result! {
        update!(config, |c| {
            c.limits.max_publish_rate = (publishes_per_second > 0).then_some(publishes_per_second);
            c.limits.max_publish_bytes_rate = (bytes_per_second > 0).then_some(bytes_per_second);
            c.limits.max_connection_rate = (connections_per_second > 0).then_some(connections_per_second);
        })
    }
}

/// `limits.max_client_id_len`: longest client identifier accepted, in bytes (default 1024).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_max_client_id_len(
    config: *mut mqttkit_broker_config_t,
    bytes: usize,
) -> mqttkit_result {
    ffi_result! { update!(config, |c| c.limits.max_client_id_len = bytes) }
}

/// `features.maximum_qos`: highest QoS accepted, 0..2 (default 2).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_maximum_qos(
    config: *mut mqttkit_broker_config_t,
    qos: u8,
) -> mqttkit_result {
    ffi_result! {
        if qos > 2 {
            return Err(Failure::invalid(format!("maximum_qos must be 0, 1 or 2, got {qos}")));
        }
        update!(config, |c| c.features.maximum_qos = qos)
    }
}

/// The optional features announced in CONNACK (all true by default):
/// `features.retain_available`, `features.wildcard_subscriptions`,
/// `features.subscription_identifiers`, `features.shared_subscriptions`.
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_features(
    config: *mut mqttkit_broker_config_t,
    retain_available: bool,
    wildcard_subscriptions: bool,
    subscription_identifiers: bool,
    shared_subscriptions: bool,
) -> mqttkit_result {
    ffi_result! {
        update!(config, |c| {
            c.features.retain_available = retain_available;
            c.features.wildcard_subscriptions = wildcard_subscriptions;
            c.features.subscription_identifiers = subscription_identifiers;
            c.features.shared_subscriptions = shared_subscriptions;
        })
    }
}

/// `features.response_information_prefix` (copied): prefix of the Response Information
/// sent to clients that request it (default "response/"); NULL sends none.
///
/// # Safety
/// `config` NULL or live; `prefix` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_response_information_prefix(
    config: *mut mqttkit_broker_config_t,
    prefix: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let prefix = arg_opt_str(prefix, "prefix")?.map(str::to_owned);
        update!(config, |c| c.features.response_information_prefix = prefix)
    }
}

/// `auth.allow_anonymous`: whether a CONNECT without a user name is accepted (default
/// true).
///
/// # Safety
/// `config` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_allow_anonymous(
    config: *mut mqttkit_broker_config_t,
    allow: bool,
) -> mqttkit_result {
    ffi_result! { update!(config, |c| c.auth.allow_anonymous = allow) }
}

/// Adds a user (`auth.users`; both strings copied) who can connect with this user name and
/// password, or with SCRAM-SHA-256 enhanced authentication. A user name given twice is
/// `MQTTKIT_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
/// `config` NULL or live; `username` and `password` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_add_user(
    config: *mut mqttkit_broker_config_t,
    username: *const c_char,
    password: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let username = arg_str(username, "username")?.to_owned();
        let password = arg_str(password, "password")?.to_owned();
        if username.is_empty() {
            return Err(Failure::invalid("a user needs a non-empty user name"));
        }
        let config = config_mut(config)?;
        #[cfg(feature = "broker")]
        {
            let users = &mut config.inner.auth.users;
            if users.iter().any(|user| user.username == username) {
                return Err(Failure::invalid(format!("user {username:?} is already configured")));
            }
            users.push(UserConfig { username, password });
            Ok(())
        }
        #[cfg(not(feature = "broker"))]
        {
            let _ = config;
            Err(crate::broker::unsupported())
        }
    }
}

/// Storage: `storage.durability` (a `mqttkit_durability` value), `storage.data_dir`
/// (copied; required unless the durability is `MQTTKIT_DURABILITY_MEMORY`, checked by
/// `mqttkit_broker_start`; NULL for none) and `storage.commit_interval_ms` for
/// `MQTTKIT_DURABILITY_BATCHED` (0: the default, 10 ms).
///
/// # Safety
/// `config` NULL or live; `data_dir` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_broker_config_set_storage(
    config: *mut mqttkit_broker_config_t,
    durability: i32,
    data_dir: *const c_char,
    commit_interval_ms: u32,
) -> mqttkit_result {
    use mqttkit_durability::*;
    ffi_result! {
        let data_dir = arg_opt_str(data_dir, "data_dir")?.map(std::path::PathBuf::from);
        let durability = match durability {
            d if d == MQTTKIT_DURABILITY_MEMORY as i32 => MQTTKIT_DURABILITY_MEMORY,
            d if d == MQTTKIT_DURABILITY_SYNC as i32 => MQTTKIT_DURABILITY_SYNC,
            d if d == MQTTKIT_DURABILITY_BATCHED as i32 => MQTTKIT_DURABILITY_BATCHED,
            other => return Err(Failure::invalid(format!("durability must be 0 (memory), 1 (sync) or 2 (batched), got {other}"))),
        };
        update!(config, |c| {
            c.storage.durability = match durability {
                MQTTKIT_DURABILITY_MEMORY => Durability::Memory,
                MQTTKIT_DURABILITY_SYNC => Durability::Sync,
                MQTTKIT_DURABILITY_BATCHED => Durability::Batched,
            };
            c.storage.data_dir = data_dir;
            c.storage.commit_interval_ms = (commit_interval_ms > 0).then_some(commit_interval_ms.into());
        })
    }
}
