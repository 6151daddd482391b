//! The Python event sink: core [`Event`]s become Python objects here, once, and cross to
//! Python in batches.
//!
//! The dispatcher hands [`PySink`] every event queued so far. The sink takes one credit per
//! event (waiting while Python has too many unprocessed ones: that is the backpressure that
//! slows the socket), converts the whole batch under one GIL acquisition and passes it to the
//! client's `deliver` callable in one call: `loop.call_soon_threadsafe(on_batch, batch)` for
//! the asyncio client (one loop wake-up per batch), `queue.put` for the blocking client's
//! callback thread. Python gives the credits back (`NativeClient.release`) as it consumes
//! the events.
//!
//! A batch is a list whose items are `Message` objects (the common case, no wrapper) or
//! `(name, value)` tuples; `name` is the callback suffix (`"connect"` → `on_connect`).

use std::sync::{Arc, Mutex};

use mqttkit::dispatch::{Event, EventSink};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use tokio::sync::Semaphore;

use crate::bridge::with_python;
use crate::errors::to_exception;
use crate::types::{
    AuthResult, ConnectResult, DisconnectInfo, Message, PingResult, PublishResult, ReconnectAttempt,
    SubscribeResult, UnsubscribeResult,
};

/// How many events Python may hold unprocessed per client before reading from the socket
/// pauses.
pub(crate) const CREDITS: usize = 8192;

/// What the sink shares with its [`NativeClient`](crate::client::NativeClient).
pub(crate) struct SinkShared {
    /// Where batches go; `None` until connected, and again after close.
    pub(crate) deliver: Mutex<Option<Py<PyAny>>>,
    /// One permit per event Python may still take.
    pub(crate) credits: Semaphore,
}

impl SinkShared {
    pub(crate) fn new() -> Arc<SinkShared> {
        Arc::new(SinkShared { deliver: Mutex::new(None), credits: Semaphore::new(CREDITS) })
    }

    fn target(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let guard = self.deliver.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().map(|target| target.clone_ref(py))
    }
}

/// The [`EventSink`] of every Python client.
pub(crate) struct PySink(pub(crate) Arc<SinkShared>);

impl EventSink for PySink {
    async fn deliver(&mut self, mut events: Vec<Event>) {
        while !events.is_empty() {
            let rest = if events.len() > CREDITS { events.split_off(CREDITS) } else { Vec::new() };
            self.deliver_chunk(events).await;
            events = rest;
        }
    }
}

impl PySink {
    async fn deliver_chunk(&mut self, events: Vec<Event>) {
        let count = events.len() as u32;
        match self.0.credits.acquire_many(count).await {
            Ok(permits) => permits.forget(),
            // Closed: the client is closing and nobody takes events any more.
            Err(_) => return,
        }
        let delivered = with_python(|py| {
            let Some(target) = self.0.target(py) else { return false };
            match convert_batch(py, events) {
                Ok(batch) => match target.call1(py, (batch,)) {
                    Ok(_) => true,
                    Err(error) => {
                        // e.g. the event loop was closed under a client that stayed open.
                        tracing::debug!(target: "mqttkit::python", "event batch not delivered: {error}");
                        false
                    }
                },
                Err(error) => {
                    tracing::warn!(target: "mqttkit::python", "event batch could not be converted: {error}");
                    false
                }
            }
        });
        if delivered != Some(true) {
            self.0.credits.add_permits(count as usize);
        }
    }
}

fn convert_batch(py: Python<'_>, events: Vec<Event>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for event in events {
        list.append(convert(py, event)?)?;
    }
    Ok(list)
}

fn named<'py>(py: Python<'py>, name: &str, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyTuple::new(py, [name.into_pyobject(py)?.into_any(), value])?.into_any())
}

fn object<'py, T: pyo3::PyClass + Into<pyo3::PyClassInitializer<T>>>(
    py: Python<'py>,
    value: T,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(Bound::new(py, value)?.into_any())
}

/// Converts one event (an exhaustive match: a new core event does not compile until it is
/// converted here, named in [`EVENT_NAMES`] and given a callback in Python).
pub(crate) fn convert(py: Python<'_>, event: Event) -> PyResult<Bound<'_, PyAny>> {
    match event {
        Event::Message(message) => object(py, Message::new(py, message)),
        Event::Connected(result) => named(py, "connect", object(py, ConnectResult::new(py, &result))?),
        Event::Disconnected(info) => named(py, "disconnect", object(py, DisconnectInfo::new(&info))?),
        Event::Published(result) => named(py, "publish", object(py, PublishResult::new(&result))?),
        Event::Subscribed(result) => named(py, "subscribe", object(py, SubscribeResult::new(&result))?),
        Event::Unsubscribed(result) => named(py, "unsubscribe", object(py, UnsubscribeResult::new(&result))?),
        Event::PingResponse(result) => named(py, "ping_response", object(py, PingResult::new(&result))?),
        Event::Error(error) => {
            named(py, "error", to_exception(py, &error).into_value(py).into_bound(py).into_any())
        }
        Event::ConnectionLost(error) => {
            named(py, "connection_lost", to_exception(py, &error).into_value(py).into_bound(py).into_any())
        }
        Event::ReconnectAttempt { attempt, delay } => {
            named(py, "reconnect_attempt", object(py, ReconnectAttempt::new(attempt, delay))?)
        }
        Event::PendingOperationsCleared { count } => {
            named(py, "pending_operations_cleared", count.into_pyobject(py)?.into_any())
        }
        Event::AuthReceived(result) => named(py, "auth", object(py, AuthResult::new(py, &result))?),
        Event::PeerCertificateReceived(certificate) => {
            named(py, "peer_certificate", PyBytes::new(py, &certificate).into_any())
        }
    }
}

/// The callback suffix of every event kind, in the order of the core's `Event` enum.
pub(crate) const EVENT_NAMES: &[&str] = &[
    "connect",
    "disconnect",
    "message",
    "publish",
    "subscribe",
    "unsubscribe",
    "ping_response",
    "error",
    "connection_lost",
    "reconnect_attempt",
    "pending_operations_cleared",
    "auth",
    "peer_certificate",
];

/// Every event kind's callback suffix (`on_<name>`).
#[pyfunction]
pub(crate) fn event_names() -> Vec<&'static str> {
    EVENT_NAMES.to_vec()
}
