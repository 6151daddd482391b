//! Completes asyncio futures from the runtime threads, in batches: the first completion of a
//! burst attaches to Python once to schedule a drain on the loop
//! (`call_soon_threadsafe`); the ones that follow before the drain runs only join its queue,
//! without the GIL. The drain, on the loop's thread, converts each result and completes its
//! future, in the order they finished. Many concurrent wait-for-acknowledgement calls
//! (`asyncio.gather`) so cost one GIL hand-over and one loop wake-up per burst instead of
//! one each.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyCFunction;

use crate::bridge::{Convert, with_python};
use crate::errors::to_exception;

/// One finished operation, ready to complete its future (run on the loop's thread).
type Completion = Box<dyn for<'py> FnOnce(Python<'py>) + Send>;

/// The completions on their way to one event loop.
pub(crate) struct Resolver {
    event_loop: Py<PyAny>,
    queue: Mutex<Vec<Completion>>,
}

impl Resolver {
    /// A resolver for `event_loop`.
    pub(crate) fn new(event_loop: Py<PyAny>) -> Arc<Resolver> {
        Arc::new(Resolver { event_loop, queue: Mutex::new(Vec::new()) })
    }

    /// Whether this resolver completes futures of `event_loop`.
    pub(crate) fn serves(&self, event_loop: &Bound<'_, PyAny>) -> bool {
        self.event_loop.bind(event_loop.py()).is(event_loop)
    }

    /// Completes `future` (of this resolver's loop) with `result`, converted by `convert`,
    /// unless it was cancelled meanwhile. Called from a runtime thread.
    pub(crate) fn complete<T: Send + 'static>(
        self: &Arc<Self>,
        future: Py<PyAny>,
        result: mqttkit::Result<T>,
        convert: Convert<T>,
    ) {
        let completion: Completion = Box::new(move |py| {
            let future = future.bind(py);
            if future.call_method0("done").and_then(|done| done.is_truthy()).unwrap_or(true) {
                return;
            }
            // Errors here mean the future was completed by someone else: nothing to do.
            let _ = match result.map(|value| convert(py, value)) {
                Ok(Ok(value)) => future.call_method1("set_result", (value,)),
                Ok(Err(error)) => future.call_method1("set_exception", (error.into_value(py),)),
                Err(error) => {
                    future.call_method1("set_exception", (to_exception(py, &error).into_value(py),))
                }
            };
        });
        let first = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.push(completion);
            queue.len() == 1
        };
        if first {
            with_python(|py| self.schedule(py));
        }
    }

    /// Asks the loop to run [`drain`](Resolver::drain) soon.
    fn schedule(self: &Arc<Self>, py: Python<'_>) {
        let this = Arc::clone(self);
        let scheduled = PyCFunction::new_closure(py, Some(c"_mqttkit_drain"), None, move |args, _kwargs| {
            this.drain(args.py());
            Ok::<(), PyErr>(())
        })
        .and_then(|drain| self.event_loop.call_method1(py, "call_soon_threadsafe", (drain,)));
        if scheduled.is_err() {
            // A closed loop has nobody left to tell.
            let dropped = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
            drop(dropped);
        }
    }

    /// Completes every queued future (on the loop's thread).
    fn drain(&self, py: Python<'_>) {
        let completions = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for completion in completions {
            completion(py);
        }
    }
}
