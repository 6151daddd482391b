//! `NativeClient`: one core [`Client`] on the shared runtime, with every operation callable
//! from asyncio (awaitable) or from a plain thread (blocking). The public classes
//! `mqttkit.Client` and `mqttkit.sync.Client` are thin Python wrappers around it.

use std::sync::{Arc, Mutex};

use mqttkit::Error;
use mqttkit::client::{Client, Pending, SubscribeOptions, UnsubscribeOptions};
use mqttkit::protocol::{DisconnectProperties, ProtocolVersion, ReasonCode, validate_topic_name};
use mqttkit::runtime::RuntimeUser;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{PyTraverseError, PyVisit};
use tokio::runtime::Handle;

use crate::authenticator::SharedObject;
use crate::bridge::{self, Lane, none};
use crate::errors::{invalid_argument, to_py_err};
use crate::events::{PySink, SinkShared};
use crate::options::{self, Limit, SubscriptionSpec, build_options, publish_options, seconds};
use crate::payload::{payload_bytes, topic_string};
use crate::types::{
    AuthResult, ConnectResult, PingResult, PublishResult, SubscribeResult, UnsubscribeResult,
};

fn connect_result(py: Python<'_>, result: mqttkit::client::ConnectResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, ConnectResult::new(py, &result))?.into_any())
}

fn publish_result(py: Python<'_>, result: mqttkit::client::PublishResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PublishResult::new(&result))?.into_any())
}

fn subscribe_result(py: Python<'_>, result: mqttkit::client::SubscribeResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, SubscribeResult::new(&result))?.into_any())
}

fn unsubscribe_result(py: Python<'_>, result: mqttkit::client::UnsubscribeResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, UnsubscribeResult::new(&result))?.into_any())
}

fn ping_result(py: Python<'_>, result: mqttkit::client::PingResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PingResult::new(&result))?.into_any())
}

fn auth_result(py: Python<'_>, result: mqttkit::client::AuthResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, AuthResult::new(py, &result))?.into_any())
}

/// The client options that configure an authenticator.
const AUTHENTICATOR_OPTIONS: [&str; 2] = ["scram", "authenticator"];

/// One MQTT client on the shared runtime (the engine behind `mqttkit.Client` and
/// `mqttkit.sync.Client`).
#[pyclass(frozen, weakref, module = "mqttkit._mqttkit")]
pub(crate) struct NativeClient {
    client: Client,
    handle: Handle,
    runtime: Mutex<Option<RuntimeUser>>,
    sink: Arc<SinkShared>,
    lane: Lane,
    /// Whether the options name an authenticator (which re-authentication needs).
    has_authenticator: bool,
    /// The Python authenticator, if one was given: visible to the garbage collector.
    authenticator: Option<SharedObject>,
}

#[pymethods]
impl NativeClient {
    /// Validates `options` and creates the client; nothing connects yet.
    #[new]
    fn new(py: Python<'_>, url: &str, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let has_authenticator = AUTHENTICATOR_OPTIONS.iter().try_fold(false, |found, key| {
            Ok::<_, PyErr>(found || options.get_item(key)?.is_some_and(|v| !v.is_none()))
        })?;
        let (options, authenticator) = build_options(url, options)?;
        crate::logging::refresh_level(py);
        let runtime = py
            .detach(RuntimeUser::acquire)
            .map_err(|error| to_py_err(Error::Internal(format!("cannot start the runtime: {error}"))))?;
        let handle = runtime.handle().clone();
        let sink = SinkShared::new();
        let client = {
            let _entered = handle.enter();
            Client::new(options, PySink(sink.clone())).map_err(to_py_err)?
        };
        Ok(NativeClient {
            client,
            handle,
            runtime: Mutex::new(Some(runtime)),
            sink,
            lane: Lane::default(),
            has_authenticator,
            authenticator,
        })
    }

    /// Sets where event batches go (`deliver(batch)`), or `None` to drop them.
    fn set_deliver(&self, deliver: Option<Py<PyAny>>) {
        *self.sink.deliver.lock().unwrap_or_else(|p| p.into_inner()) = deliver;
    }

    /// Gives back `count` event credits (events Python has consumed).
    fn release(&self, count: usize) {
        if count > 0 {
            self.sink.credits.add_permits(count);
        }
    }

    /// Whether a connection is established right now.
    #[getter]
    fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// QoS 0 messages dropped from the offline buffer.
    #[getter]
    fn dropped_messages(&self) -> u64 {
        self.client.dropped_messages()
    }

    /// The client identifier configured.
    #[getter]
    fn client_id(&self) -> String {
        self.client.options().client_id().to_owned()
    }

    /// Whether the client speaks MQTT 5.
    #[getter]
    fn is_v5(&self) -> bool {
        self.client.options().protocol_version() == ProtocolVersion::V5
    }

    /// Connects: waits for CONNACK (`wait`), or starts connecting and returns. `timeout` in
    /// seconds: `None` for the client's connect timeout, `math.inf` for none.
    #[pyo3(signature = (blocking, timeout=None, wait=true))]
    fn connect(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
        wait: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        if !wait {
            return self.lane.send(py, &self.handle, blocking, async move { client.connect_nowait().await });
        }
        let limit = Limit::of(timeout)?.or(self.client.options().timeouts().connect);
        let submit = async move { client.submit_connect(limit).await };
        self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, connect_result)
    }

    /// Publishes: waits for the acknowledgement (`wait`), or queues the message.
    #[pyo3(signature = (topic, payload, qos, retain, properties, timeout, wait, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyString>,
        payload: &Bound<'_, PyAny>,
        qos: u8,
        retain: bool,
        properties: Option<&Bound<'_, PyDict>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let topic = topic_string(topic)?;
        let payload = payload_bytes(payload)?;
        let options = publish_options(qos, retain, properties, Limit::of(timeout)?)?;
        let client = self.client.clone();
        if wait {
            let submit = async move { client.submit_publish_with(topic, payload, options).await };
            return self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, publish_result);
        }
        if !(topic.is_empty() && options.properties.topic_alias.is_some()) {
            validate_topic_name(&topic).map_err(|e| invalid_argument(format!("topic {:?}: {e}", &*topic)))?;
        }
        let send = async move { client.publish_with_nowait(topic, payload, options).await };
        self.lane.send(py, &self.handle, blocking, send)
    }

    /// Subscribes: waits for SUBACK (`wait`), or queues the SUBSCRIBE.
    #[pyo3(signature = (subscriptions, subscription_identifier, user_properties, timeout, wait, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn subscribe(
        &self,
        py: Python<'_>,
        subscriptions: Vec<SubscriptionSpec>,
        subscription_identifier: Option<u32>,
        user_properties: Option<Vec<(String, String)>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let subscriptions = options::subscriptions(subscriptions)?;
        let options = SubscribeOptions {
            subscription_identifier,
            user_properties: options::user_properties(user_properties),
            timeout: Limit::of(timeout)?.option(),
        };
        let client = self.client.clone();
        if wait {
            let submit = async move { client.submit_subscribe_with(subscriptions, options).await };
            return self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, subscribe_result);
        }
        let send = async move { client.subscribe_with_nowait(subscriptions, options).await };
        self.lane.send(py, &self.handle, blocking, send)
    }

    /// Unsubscribes: waits for UNSUBACK (`wait`), or queues the UNSUBSCRIBE.
    #[pyo3(signature = (filters, user_properties, timeout, wait, blocking))]
    fn unsubscribe(
        &self,
        py: Python<'_>,
        filters: Vec<String>,
        user_properties: Option<Vec<(String, String)>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let options = UnsubscribeOptions {
            user_properties: options::user_properties(user_properties),
            timeout: Limit::of(timeout)?.option(),
        };
        let client = self.client.clone();
        if wait {
            let submit = async move { client.submit_unsubscribe_with(filters, options).await };
            return self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, unsubscribe_result);
        }
        let send = async move { client.unsubscribe_with_nowait(filters, options).await };
        self.lane.send(py, &self.handle, blocking, send)
    }

    /// Pings: waits for PINGRESP (`wait`), or sends PINGREQ.
    #[pyo3(signature = (timeout, wait, blocking))]
    fn ping(&self, py: Python<'_>, timeout: Option<f64>, wait: bool, blocking: bool) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        if !wait {
            return self.lane.send(py, &self.handle, blocking, async move { client.ping_nowait().await });
        }
        let limit = Limit::of(timeout)?.or(self.client.options().timeouts().ping);
        let submit = async move { client.submit_ping(limit).await };
        self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, ping_result)
    }

    /// Sends AUTH (Continue authentication): waits for the server's answer (`wait`), or
    /// returns once sent (the answer is an `auth` event).
    #[pyo3(signature = (method, data, timeout, wait, blocking))]
    fn auth_continue(
        &self,
        py: Python<'_>,
        method: String,
        data: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let data = data.map(payload_bytes).transpose()?;
        let client = self.client.clone();
        if !wait {
            let send = async move { client.auth_continue_nowait(method, data).await };
            return self.lane.send(py, &self.handle, blocking, send);
        }
        let limit = Limit::of(timeout)?.or(self.client.options().timeouts().auth);
        let submit = async move { client.submit_auth_continue(method, data, limit).await };
        self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, auth_result)
    }

    /// Re-authenticates, with the configured authenticator (`method` None) or by hand:
    /// waits for the server's answer (`wait`), or returns once sent (`auth` events follow).
    #[pyo3(signature = (method, data, timeout, wait, blocking))]
    fn re_authenticate(
        &self,
        py: Python<'_>,
        method: Option<String>,
        data: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let data = data.map(payload_bytes).transpose()?;
        if method.is_none() && !self.has_authenticator {
            // Checked here for the fire-and-forget form too, whose failure would otherwise
            // only show as a missing event.
            return Err(invalid_argument("re_authenticate needs an authenticator in the options"));
        }
        let client = self.client.clone();
        if !wait {
            let send = async move {
                match method {
                    Some(method) => client.re_authenticate_with_nowait(method, data).await,
                    None => client.re_authenticate_nowait().await,
                }
            };
            return self.lane.send(py, &self.handle, blocking, send);
        }
        let limit = Limit::of(timeout)?.or(self.client.options().timeouts().auth);
        let submit = async move {
            match method {
                Some(method) => client.submit_re_authenticate_with(method, data, limit).await,
                None => client.submit_re_authenticate(limit).await,
            }
        };
        self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, auth_result)
    }

    /// Disconnects: waits until the connection is closed (`wait`), or starts disconnecting.
    #[pyo3(signature = (reason_code, session_expiry_interval, reason_string, user_properties, timeout, wait, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn disconnect(
        &self,
        py: Python<'_>,
        reason_code: u8,
        session_expiry_interval: Option<u32>,
        reason_string: Option<String>,
        user_properties: Option<Vec<(String, String)>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let reason = ReasonCode::from_u8(reason_code)
            .ok_or_else(|| invalid_argument(format!("unknown reason code {reason_code}")))?;
        let properties = DisconnectProperties {
            session_expiry_interval,
            reason_string: reason_string.map(Into::into),
            user_properties: options::user_properties(user_properties),
            server_reference: None,
        };
        let client = self.client.clone();
        if !wait {
            let send = async move { client.disconnect_with_nowait(reason, properties).await };
            return self.lane.send(py, &self.handle, blocking, send);
        }
        let limit = Limit::of(timeout)?.or(self.client.options().timeouts().auth);
        let submit = async move { client.submit_disconnect_with(reason, properties, limit).await };
        self.lane.submit(py, &self.handle, blocking, submit, Pending::wait, none)
    }

    /// Stops the client for good: no more events, the connection task ends (at most
    /// `timeout` seconds), and the runtime is released. Idempotent; never raises for a
    /// client that is already closed.
    #[pyo3(signature = (timeout=5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let Some(runtime) = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(());
        };
        self.sink.credits.close();
        let deliver = self.sink.deliver.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(deliver);
        let client = self.client.clone();
        let limit = seconds("timeout", timeout)?;
        py.detach(move || {
            if Handle::try_current().is_err() {
                let _ = runtime.block_on(async move { tokio::time::timeout(limit, client.shutdown()).await });
            } else {
                runtime.handle().spawn(async move { client.shutdown().await });
            }
            drop(runtime);
        });
        Ok(())
    }

    /// Lets the garbage collector see the Python authenticator (a `try_lock`: while the
    /// connection task uses it, it is not reported, which only keeps it alive longer).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(shared) = &self.authenticator
            && let Ok(object) = shared.try_lock()
        {
            visit.call(object.as_ref())?;
        }
        Ok(())
    }

    /// Drops the Python authenticator, to break a reference cycle through it.
    fn __clear__(&self) {
        let dropped = self.authenticator.as_ref().and_then(|shared| shared.try_lock().ok()?.take());
        drop(dropped);
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.runtime.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}

impl Drop for NativeClient {
    fn drop(&mut self) {
        // Garbage-collected without close(): release the runtime without holding the GIL
        // (its threads may be waiting for it). The core client disconnects on its own.
        let runtime = self.runtime.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        self.sink.credits.close();
        if let Some(runtime) = runtime {
            let release = move || drop(runtime);
            if bridge::closing() {
                // At interpreter exit: never join threads from here.
                std::mem::forget(release);
            } else {
                Python::attach(|py| py.detach(release));
            }
        }
    }
}
