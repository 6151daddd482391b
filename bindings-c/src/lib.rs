//! libmqttkit: the C library of mqttkit.
//!
//! Every exported function runs inside the panic boundary of [`ffi`] and checks its pointer
//! arguments; results are [`error::mqttkit_result`] codes with a per-thread detailed
//! message. The header `include/mqttkit.h` is generated from this crate by cbindgen (see
//! `cbindgen.toml`, whose header text documents threads, ownership and reentrancy).
#![allow(non_camel_case_types)]

pub mod authenticator;
pub mod broker;
pub mod broker_config;
pub mod call_options;
pub mod client;
pub mod error;
pub mod events;
pub mod ffi;
pub mod operations;
pub mod options;
pub mod subscriptions;
pub mod tls;
pub mod version;
pub mod will;
