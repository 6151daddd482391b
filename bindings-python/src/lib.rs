//! `mqttkit._mqttkit`: the native module behind the `mqttkit` Python package.
//!
//! The public API is written in Python (`python/mqttkit`); this module provides the engine:
//! [`client::NativeClient`] (every operation, awaitable or blocking), the result and message
//! classes ([`types`]), the event sink ([`events`]), the error mapping ([`errors`]), the
//! asyncio bridge ([`bridge`]) and the `tracing` → `logging` forwarding ([`logging`]).
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod authenticator;
mod bridge;
#[cfg(feature = "broker")]
mod broker;
mod client;
mod errors;
mod events;
mod logging;
mod options;
mod payload;
mod resolver;
mod types;

use pyo3::prelude::*;

/// Whether `topic` matches the topic filter `filter` (MQTT wildcard rules).
#[pyfunction]
fn topic_matches(filter: &str, topic: &str) -> bool {
    mqttkit::protocol::topic_matches(filter, topic)
}

/// The spec's name of a reason code, e.g. `reason_code_name(0x87) == "Not authorized"`.
#[pyfunction]
fn reason_code_name(code: u8) -> Option<&'static str> {
    mqttkit::protocol::ReasonCode::from_u8(code).map(|reason| reason.name())
}

/// Whether the shared runtime is running in this process (for tests).
#[pyfunction]
fn runtime_running() -> bool {
    mqttkit::runtime::is_running()
}

/// Emits a `tracing` event at `level` ("error", "warn", "info", "debug", "trace"), as the
/// core does (for tests of the logging bridge).
#[pyfunction]
fn emit_log(level: &str, message: &str) {
    match level {
        "error" => tracing::error!(target: "mqttkit::python", "{message}"),
        "warn" => tracing::warn!(target: "mqttkit::python", "{message}"),
        "info" => tracing::info!(target: "mqttkit::python", "{message}"),
        "debug" => tracing::debug!(target: "mqttkit::python", "{message}"),
        _ => tracing::trace!(target: "mqttkit::python", "{message}"),
    }
}

/// The native module.
#[pymodule]
fn _mqttkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::NativeClient>()?;
    m.add_class::<types::ConnectResult>()?;
    m.add_class::<types::PublishResult>()?;
    m.add_class::<types::SubscribeResult>()?;
    m.add_class::<types::UnsubscribeResult>()?;
    m.add_class::<types::PingResult>()?;
    m.add_class::<types::AuthResult>()?;
    m.add_class::<types::DisconnectInfo>()?;
    m.add_class::<types::ReconnectAttempt>()?;
    m.add_class::<types::Message>()?;
    m.add_class::<types::MessageProperties>()?;
    m.add_class::<bridge::Ready>()?;
    m.add_function(wrap_pyfunction!(errors::register_errors, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(errors::sample_error, m)?)?;
    m.add_function(wrap_pyfunction!(events::event_names, m)?)?;
    m.add_function(wrap_pyfunction!(bridge::set_closing, m)?)?;
    m.add_function(wrap_pyfunction!(logging::refresh_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(topic_matches, m)?)?;
    m.add_function(wrap_pyfunction!(reason_code_name, m)?)?;
    m.add_function(wrap_pyfunction!(runtime_running, m)?)?;
    m.add_function(wrap_pyfunction!(emit_log, m)?)?;
    #[cfg(feature = "broker")]
    {
        m.add_class::<broker::NativeBroker>()?;
        m.add_function(wrap_pyfunction!(broker::start_broker, m)?)?;
    }
    m.add("EVENT_CREDITS", events::CREDITS)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    logging::install(m.py());
    Ok(())
}
