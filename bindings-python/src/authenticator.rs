//! Enhanced-authentication methods written in Python, as the core's [`Authenticator`].
//!
//! The Python object has a `method` (str) and `start()`, which returns an exchange with
//! `initial_data()`, `respond(challenge)` and `finish(data)` (see `mqttkit.Authenticator`).
//! The core calls them synchronously from the connection task: each call attaches to Python
//! for just that call. A Python exception is logged (logger `mqttkit`) and fails the attempt
//! with `AuthFailedError` carrying its text. `start()` and `initial_data()` cannot fail in
//! the core: after an exception there, CONNECT (or AUTH) goes out without data, and the
//! failure is reported at the next step the core asks for, unless the server refuses first.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mqttkit::client::{AuthExchange, Authenticator};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::bridge::with_python;
use crate::errors::invalid_configuration;
use crate::payload::payload_bytes;

/// The Python authenticator object, shared with the client that owns it so that Python's
/// garbage collector can see it (`__traverse__`) and drop it (`__clear__`): an authenticator
/// referring back to its client is then a cycle the collector can break.
pub(crate) type SharedObject = Arc<Mutex<Option<Py<PyAny>>>>;

/// A Python authenticator object with its method name read once.
pub(crate) struct PyAuthenticator {
    method: String,
    object: SharedObject,
}

impl PyAuthenticator {
    /// Checks `object` has what an authenticator needs and reads its method name.
    pub(crate) fn new(object: &Bound<'_, PyAny>) -> PyResult<PyAuthenticator> {
        let method =
            object.getattr("method").and_then(|method| method.extract::<String>()).map_err(|_| {
                invalid_configuration(format!(
                    "authenticator {}: needs a `method` attribute (str)",
                    object.get_type()
                ))
            })?;
        if method.is_empty() {
            return Err(invalid_configuration("authenticator method must not be empty"));
        }
        if !object.getattr("start").is_ok_and(|start| start.is_callable()) {
            return Err(invalid_configuration(format!("authenticator {method}: needs a start() method")));
        }
        Ok(PyAuthenticator { method, object: Arc::new(Mutex::new(Some(object.clone().unbind()))) })
    }

    /// The object, as the owning client keeps it for the garbage collector.
    pub(crate) fn shared(&self) -> SharedObject {
        Arc::clone(&self.object)
    }
}

/// Runs `call` attached to Python; its exception, or the interpreter going away, becomes the
/// message the core reports.
fn attached<T>(
    method: &str,
    step: &str,
    call: impl for<'py> FnOnce(Python<'py>) -> PyResult<T>,
) -> Result<T, String> {
    match with_python(|py| call(py).map_err(|error| error.value(py).to_string())) {
        Some(Ok(value)) => Ok(value),
        Some(Err(why)) => {
            let message = format!("{method} {step}(): {why}");
            tracing::warn!(target: "mqttkit::python", "authenticator {message}");
            Err(message)
        }
        None => Err(format!("{method} {step}(): the Python interpreter is shutting down")),
    }
}

impl Authenticator for PyAuthenticator {
    fn method(&self) -> &str {
        &self.method
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        let started = attached(&self.method, "start", |py| {
            let object =
                self.object.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|o| o.clone_ref(py));
            let object = object.ok_or_else(|| PyRuntimeError::new_err("the client was garbage-collected"))?;
            object.call_method0(py, "start")
        });
        Box::new(PyExchange { method: self.method.clone(), exchange: started })
    }
}

/// One exchange: the object `start()` returned, or why there is none.
struct PyExchange {
    method: String,
    exchange: Result<Py<PyAny>, String>,
}

/// Authentication Data from what `step` returned: `None`, or bytes-like / str.
fn data_of(step: &str, value: &Bound<'_, PyAny>) -> PyResult<Option<Bytes>> {
    if value.is_none() {
        return Ok(None);
    }
    payload_bytes(value).map(Some).map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "{step}() must return bytes or None, not {}",
            value.get_type()
        ))
    })
}

impl PyExchange {
    /// Calls `step` (with `argument`, if given) on the exchange; its return value is
    /// Authentication Data unless the step is `finish`.
    fn call(&mut self, step: &str, argument: Option<Option<&[u8]>>) -> Result<Option<Bytes>, String> {
        let exchange = match &self.exchange {
            Ok(exchange) => exchange,
            Err(why) => return Err(why.clone()),
        };
        attached(&self.method, step, |py| {
            let result = match argument {
                None => exchange.call_method0(py, step)?,
                Some(data) => {
                    let data = data.map(|data| PyBytes::new(py, data));
                    exchange.call_method1(py, step, (data,))?
                }
            };
            if step == "finish" { Ok(None) } else { data_of(step, result.bind(py)) }
        })
    }
}

impl AuthExchange for PyExchange {
    fn initial_data(&mut self) -> Option<Bytes> {
        match self.call("initial_data", None) {
            Ok(data) => data,
            Err(why) => {
                // Reported by the next step (this one cannot fail in the core).
                self.exchange = Err(why);
                None
            }
        }
    }

    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        self.call("respond", Some(challenge))
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        self.call("finish", Some(data)).map(|_| ())
    }
}
