//! Node.js bindings for mqttkit (napi-rs).
//!
//! The native layer is deliberately small: `NativeClient` queues operations to the core's
//! client and hands events and completions to JavaScript in batches; `index.js` builds the
//! public API on top (Promises, EventEmitter, `for await`, `MqttError`).

mod auth;
mod client;
mod driver;
mod errors;
mod events;
mod inbox;
mod options;
mod publishing;

pub use auth::NativeAuthAnswer;
pub use client::NativeClient;
pub use errors::{ErrorInfo, ErrorKindInfo, error_kinds, sample_error};
pub use options::{
    NativeClientOptions, NativeOfflineBuffer, NativePublishProperties, NativeReconnect, NativeSubscription,
    NativeTimeouts, NativeWill,
};

#[cfg(feature = "broker")]
mod broker;
#[cfg(feature = "broker")]
pub use broker::{NativeBroker, NativeBrokerOptions, NativeBrokerStats, NativeBrokerUser, start_broker};
