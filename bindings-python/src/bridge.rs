//! Runs core futures for Python: as asyncio awaitables that resolve on the calling loop, or
//! as blocking calls with the GIL released.
//!
//! An async call polls the core future once on the calling thread (GIL released). Most
//! fire-and-forget operations finish right there (the command is in the connection task's
//! queue), and the caller gets an already-completed awaitable with no thread hop and no
//! event-loop round trip. Otherwise the rest of the future moves to the runtime, and its
//! result comes back to the loop through a [`Resolver`] (in batches). Cancelling the asyncio
//! future aborts the runtime task. A client's operations go through its [`Lane`], which
//! keeps them in call order.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::errors::to_exception;
use crate::resolver::Resolver;

/// Set at interpreter exit: from then on no runtime thread touches Python.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// Runtime threads inside [`with_python`] right now.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// Whether the interpreter is shutting down (see [`set_closing`]).
pub(crate) fn closing() -> bool {
    CLOSING.load(Ordering::Acquire)
}

/// Called by the package's `atexit` hook, after every client was closed: runtime threads
/// stop calling into Python, and those already on their way in are waited for (at most
/// 2 s, GIL released), so that none is attaching while the interpreter finalizes.
#[pyfunction]
pub(crate) fn set_closing(py: Python<'_>) {
    CLOSING.store(true, Ordering::SeqCst);
    py.detach(|| {
        for _ in 0..200 {
            if INSIDE.load(Ordering::SeqCst) == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    });
}

/// Runs `f` attached to Python from a runtime thread, unless the interpreter is going away.
pub(crate) fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    INSIDE.fetch_add(1, Ordering::SeqCst);
    let result = if CLOSING.load(Ordering::SeqCst) { None } else { Python::try_attach(f) };
    INSIDE.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Converts an operation's success value into Python.
pub(crate) type Convert<T> = fn(Python<'_>, T) -> PyResult<Py<PyAny>>;

/// An awaitable that is already complete: `await` returns `value` without suspending.
#[pyclass(module = "mqttkit")]
pub(crate) struct Ready {
    value: Option<Py<PyAny>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let value = self.value.take().unwrap_or_else(|| py.None());
        Err(PyStopIteration::new_err((value,)))
    }
    /// Always true: the operation has completed.
    fn done(&self) -> bool {
        true
    }
}

/// Aborts the runtime task when its asyncio future is cancelled.
#[pyclass(module = "mqttkit")]
struct Canceller {
    task: AbortHandle,
}

#[pymethods]
impl Canceller {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}

fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()
}

/// Runs `future` for an `async` caller: returns an awaitable of its converted result.
#[cfg_attr(not(feature = "broker"), allow(dead_code))]
pub(crate) fn run_async<T, F>(
    py: Python<'_>,
    handle: &Handle,
    future: F,
    convert: Convert<T>,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = mqttkit::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut future = Box::pin(future);
    let polled = py.detach(|| {
        let _entered = handle.enter();
        future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    });
    match polled {
        Poll::Ready(Ok(value)) => {
            let value = convert(py, value)?;
            Ok(Py::new(py, Ready { value: Some(value) })?.into_any())
        }
        Poll::Ready(Err(error)) => Err(to_exception(py, &error)),
        Poll::Pending => spawn_for_loop(py, handle, None, future, convert),
    }
}

/// Spawns `future` on the runtime and returns an asyncio future of the running loop that
/// `resolver` (or a new one, for a loop it does not serve) completes with the result.
fn spawn_for_loop<T, F>(
    py: Python<'_>,
    handle: &Handle,
    resolver: Option<&std::sync::Mutex<Option<Arc<Resolver>>>>,
    future: Pin<Box<F>>,
    convert: Convert<T>,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = mqttkit::Result<T>> + Send + ?Sized + 'static,
    T: Send + 'static,
{
    let event_loop = running_loop(py)?;
    let resolver = match resolver {
        Some(cache) => {
            let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
            match cached.as_ref() {
                Some(resolver) if resolver.serves(&event_loop) => Arc::clone(resolver),
                _ => Arc::clone(cached.insert(Resolver::new(event_loop.clone().unbind()))),
            }
        }
        None => Resolver::new(event_loop.clone().unbind()),
    };
    let py_future = event_loop.call_method0("create_future")?;
    let target = py_future.clone().unbind();
    let task = handle.spawn(async move {
        let result = future.await;
        resolver.complete(target, result, convert);
    });
    py_future.call_method1("add_done_callback", (Canceller { task: task.abort_handle() },))?;
    Ok(py_future.unbind())
}

/// Runs `future` for a blocking caller, GIL released, and returns its converted result.
pub(crate) fn run_blocking<T, F>(
    py: Python<'_>,
    handle: &Handle,
    future: F,
    convert: Convert<T>,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = mqttkit::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    if Handle::try_current().is_ok() {
        return Err(crate::errors::invalid_argument(
            "a blocking mqttkit call cannot run on mqttkit's own runtime threads",
        ));
    }
    let result = py.detach(|| handle.block_on(future));
    match result {
        Ok(value) => convert(py, value),
        Err(error) => Err(to_exception(py, &error)),
    }
}

/// Runs `future` either way: blocking when `blocking` is true, else as an awaitable.
#[cfg_attr(not(feature = "broker"), allow(dead_code))]
pub(crate) fn run<T, F>(
    py: Python<'_>,
    handle: &Handle,
    blocking: bool,
    future: F,
    convert: Convert<T>,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = mqttkit::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    if blocking { run_blocking(py, handle, future, convert) } else { run_async(py, handle, future, convert) }
}

/// Keeps a client's operations in call order: an operation enters the lane (a fair lock,
/// entered in call order on the calling thread) before it first polls, and leaves it once
/// the connection task has its command, so a later call can never overtake an earlier one
/// that is still waiting for room in the command queue. Waiting for an acknowledgement
/// happens outside the lane, concurrently with later operations.
#[derive(Default)]
pub(crate) struct Lane {
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Completes the asyncio futures of this client's operations (for the last loop used).
    resolver: std::sync::Mutex<Option<Arc<Resolver>>>,
}

/// What the first, inline poll of an operation came to.
enum Step<T> {
    /// Finished: the result.
    Done(mqttkit::Result<T>),
    /// The rest of it, for the runtime: still waiting for its turn in the lane, for room in
    /// the command queue or for the outcome.
    Later(Pin<Box<dyn Future<Output = mqttkit::Result<T>> + Send>>),
}

impl Lane {
    /// Runs a fire-and-forget operation, `send` (done once the connection task has the
    /// command), in the lane, either way (see [`run`]).
    pub(crate) fn send<F>(
        &self,
        py: Python<'_>,
        handle: &Handle,
        blocking: bool,
        send: F,
    ) -> PyResult<Py<PyAny>>
    where
        F: Future<Output = mqttkit::Result<()>> + Send + 'static,
    {
        self.submit(py, handle, blocking, send, |()| std::future::ready(Ok(())), none)
    }

    /// Runs a wait-for-acknowledgement operation in two steps, either way (see [`run`]):
    /// `submit` in the lane, which resolves once the connection task has the command, then
    /// `finish(submitted)`, the wait for the outcome, outside it.
    pub(crate) fn submit<S, P, W, T>(
        &self,
        py: Python<'_>,
        handle: &Handle,
        blocking: bool,
        submit: S,
        finish: impl FnOnce(P) -> W + Send + 'static,
        convert: Convert<T>,
    ) -> PyResult<Py<PyAny>>
    where
        S: Future<Output = mqttkit::Result<P>> + Send + 'static,
        P: Send + 'static,
        W: Future<Output = mqttkit::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let mut lock = Box::pin(Arc::clone(&self.lock).lock_owned());
        if blocking {
            let whole = async move {
                let guard = lock.await;
                let submitted = submit.await;
                drop(guard);
                finish(submitted?).await
            };
            return run_blocking(py, handle, whole, convert);
        }
        let step = py.detach(move || {
            let _entered = handle.enter();
            let mut cx = Context::from_waker(Waker::noop());
            let Poll::Ready(guard) = lock.as_mut().poll(&mut cx) else {
                return Step::Later(Box::pin(async move {
                    let guard = lock.await;
                    let submitted = submit.await;
                    drop(guard);
                    finish(submitted?).await
                }));
            };
            let mut submit = Box::pin(submit);
            match submit.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(submitted)) => {
                    drop(guard);
                    let mut wait = Box::pin(finish(submitted));
                    match wait.as_mut().poll(&mut cx) {
                        Poll::Ready(result) => Step::Done(result),
                        Poll::Pending => Step::Later(wait),
                    }
                }
                Poll::Ready(Err(error)) => Step::Done(Err(error)),
                Poll::Pending => Step::Later(Box::pin(async move {
                    let submitted = submit.await;
                    drop(guard);
                    finish(submitted?).await
                })),
            }
        });
        match step {
            Step::Done(Ok(value)) => {
                let value = convert(py, value)?;
                Ok(Py::new(py, Ready { value: Some(value) })?.into_any())
            }
            Step::Done(Err(error)) => Err(to_exception(py, &error)),
            Step::Later(rest) => spawn_for_loop(py, handle, Some(&self.resolver), rest, convert),
        }
    }
}

/// The Python value of an operation without a result.
pub(crate) fn none(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}
