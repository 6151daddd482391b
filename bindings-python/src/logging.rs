//! The core's `tracing` output, forwarded to the Python `logging` logger `mqttkit`.
//!
//! A [`tracing_subscriber::Layer`] formats each event and calls `logger.log(level, text)`.
//! To keep the cost at zero when nobody listens, the layer only accepts events at or above
//! the logger's effective level, read when the module is imported and whenever a client is
//! created (configure `logging` before creating clients) or by `mqttkit.refresh_log_level()`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::field::{Field, Visit};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// The most verbose tracing level forwarded: 0 = none, 1 = error ... 5 = trace.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py.import("logging")?.call_method1("getLogger", ("mqttkit",))?.unbind())
        })
        .map(|logger| logger.bind(py))
}

/// Re-reads the `mqttkit` logger's effective level.
#[pyfunction]
pub(crate) fn refresh_log_level(py: Python<'_>) {
    refresh_level(py);
}

pub(crate) fn refresh_level(py: Python<'_>) {
    let level = logger(py)
        .and_then(|logger| logger.call_method0("getEffectiveLevel"))
        .and_then(|level| level.extract::<u32>())
        .unwrap_or(30);
    let max = match level {
        0..=5 => 5,
        6..=10 => 4,
        11..=20 => 3,
        21..=30 => 2,
        31..=40 => 1,
        _ => 0,
    };
    MAX_LEVEL.store(max, Ordering::Relaxed);
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

struct PythonLogging;

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // Ask again at every event: the Python level can change at run time.
        if metadata.target().starts_with("mqttkit") {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target().starts_with("mqttkit")
            && rank(metadata.level()) <= MAX_LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        let mut message = Message(String::new());
        event.record(&mut message);
        let level = python_level(metadata.level());
        let target = metadata.target();
        crate::bridge::with_python(|py| {
            if let Ok(logger) = logger(py) {
                let _ = logger.call_method1("log", (level, "%s: %s", target, message.0.as_str()));
            }
        });
    }
}

/// Installs the forwarding layer as the process's tracing subscriber (once; if another
/// subscriber is already installed, that one stays).
pub(crate) fn install(py: Python<'_>) {
    refresh_level(py);
    let _ = tracing_subscriber::registry().with(PythonLogging).try_init();
}
