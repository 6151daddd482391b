//! `NativeBroker`: the embedded broker (`mqttkit.Broker`) on the shared runtime.

use std::net::SocketAddr;
use std::sync::Mutex;

use mqttkit::Error;
use mqttkit::broker::{Broker, BrokerConfig, BrokerError, BrokerHandle};
use mqttkit::runtime::RuntimeUser;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::runtime::Handle;

use crate::bridge::run;
use crate::errors::{invalid_configuration, to_py_err};

fn broker_error(error: BrokerError) -> Error {
    match error {
        BrokerError::Io { context, source } => {
            Error::Network { kind: source.kind(), message: format!("{context}: {source}") }
        }
        other => Error::InvalidConfiguration(other.to_string()),
    }
}

/// A running broker.
#[pyclass(frozen, weakref, module = "mqttkit._mqttkit")]
pub(crate) struct NativeBroker {
    broker: Mutex<Option<BrokerHandle>>,
    addrs: Vec<SocketAddr>,
    handle: Handle,
    runtime: Mutex<Option<RuntimeUser>>,
}

fn started(py: Python<'_>, (broker, runtime): (BrokerHandle, RuntimeUser)) -> PyResult<Py<PyAny>> {
    let addrs = broker.local_addrs().to_vec();
    let handle = runtime.handle().clone();
    let native =
        NativeBroker { broker: Mutex::new(Some(broker)), addrs, handle, runtime: Mutex::new(Some(runtime)) };
    Ok(Py::new(py, native)?.into_any())
}

/// Starts a broker from a TOML configuration (`config`, may be empty) listening on `bind`
/// (`host:port`, port 0 for a free one); relative file paths in it are taken relative to
/// `base_dir` when given. Returns an awaitable (or, when `blocking`, the broker) of a
/// `NativeBroker`.
#[pyfunction]
#[pyo3(signature = (config, bind, blocking, base_dir=None))]
pub(crate) fn start_broker(
    py: Python<'_>,
    config: &str,
    bind: &str,
    blocking: bool,
    base_dir: Option<std::path::PathBuf>,
) -> PyResult<Py<PyAny>> {
    let mut config = BrokerConfig::from_toml_str(config, "mqttkit.Broker options")
        .map_err(|error| to_py_err(broker_error(error)))?;
    if let Some(dir) = base_dir {
        config.resolve_relative_to(&dir);
    }
    let bind: SocketAddr =
        bind.parse().map_err(|error| invalid_configuration(format!("broker address {bind:?}: {error}")))?;
    let runtime = py
        .detach(RuntimeUser::acquire)
        .map_err(|error| to_py_err(Error::Internal(format!("cannot start the runtime: {error}"))))?;
    let handle = runtime.handle().clone();
    let future = async move {
        let broker = Broker::builder().config(config).bind(bind).start().await.map_err(broker_error)?;
        Ok((broker, runtime))
    };
    run(py, &handle, blocking, future, started)
}

#[pymethods]
impl NativeBroker {
    /// The addresses the broker listens on, as `(host, port)`.
    #[getter]
    fn addresses(&self) -> Vec<(String, u16)> {
        self.addrs.iter().map(|addr| (addr.ip().to_string(), addr.port())).collect()
    }

    /// A snapshot of the broker's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.broker.lock().unwrap_or_else(|p| p.into_inner());
        let stats = guard.as_ref().map(BrokerHandle::stats).unwrap_or_default();
        drop(guard);
        let dict = PyDict::new(py);
        dict.set_item("connections", stats.connections)?;
        dict.set_item("connections_total", stats.connections_total)?;
        dict.set_item("messages_in", stats.messages_in)?;
        dict.set_item("messages_out", stats.messages_out)?;
        dict.set_item("bytes_in", stats.bytes_in)?;
        dict.set_item("bytes_out", stats.bytes_out)?;
        dict.set_item("subscriptions", stats.subscriptions)?;
        dict.set_item("retained", stats.retained)?;
        dict.set_item("queued", stats.queued)?;
        dict.set_item("dropped", stats.dropped)?;
        dict.set_item("expired", stats.expired)?;
        dict.set_item("throttled", stats.throttled)?;
        dict.set_item("publish_denied", stats.publish_denied)?;
        dict.set_item("subscribe_denied", stats.subscribe_denied)?;
        Ok(dict)
    }

    /// Reads the password file and the ACL file again and puts them in force
    /// (`BrokerHandle::reload_auth`); a bad file raises and changes nothing.
    fn reload_auth(&self, py: Python<'_>) -> PyResult<()> {
        let guard = self.broker.lock().unwrap_or_else(|p| p.into_inner());
        let Some(broker) = guard.as_ref() else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err("the broker is closed"));
        };
        py.detach(|| broker.reload_auth())
            .map_err(|error| to_py_err(Error::InvalidConfiguration(error.to_string())))
    }

    /// Whether the broker is running.
    #[getter]
    fn running(&self) -> bool {
        self.broker.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Stops gracefully (DISCONNECT to MQTT 5 clients, storage flushed, tasks joined).
    /// Idempotent. Awaitable unless `blocking`; call `release()` afterwards.
    fn close(&self, py: Python<'_>, blocking: bool) -> PyResult<Py<PyAny>> {
        let broker = self.broker.lock().unwrap_or_else(|p| p.into_inner()).take();
        let future = async move {
            if let Some(broker) = broker {
                broker.shutdown().await;
            }
            Ok(())
        };
        run(py, &self.handle, blocking, future, |py, ()| Ok(py.None()))
    }

    /// Releases the runtime once the broker is closed (the last release stops the runtime
    /// threads and joins them, GIL released).
    fn release(&self, py: Python<'_>) {
        let runtime = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(runtime) = runtime {
            py.detach(move || drop(runtime));
        }
    }
}

impl Drop for NativeBroker {
    fn drop(&mut self) {
        // Dropping the handle stops the broker without waiting.
        drop(self.broker.get_mut().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(runtime) = self.runtime.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            if crate::bridge::closing() {
                std::mem::forget(runtime);
            } else {
                Python::attach(|py| py.detach(move || drop(runtime)));
            }
        }
    }
}
