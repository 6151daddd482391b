//! `mqttkit_client_t`: the client handle, its dispatch thread, completions, and the two
//! ways operations run (`start` with a completion callback, `wait` blocking); the
//! operations themselves are in `operations.rs`.

use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use mqttkit::client::{Client, Pending};
use mqttkit::dispatch::{Event, EventSink};
use mqttkit::runtime::RuntimeUser;
use mqttkit::{Error, Operation};
use tokio::sync::mpsc;

use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::events::DispatchState;
use crate::ffi::{UserData, enter_dispatch_thread, write_out};
use crate::options::mqttkit_client_options_t;
use crate::{check_ref, ffi_result};

/// How long a fire-and-forget call waits for room in a full command queue.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `mqttkit_client_free` waits for the disconnect.
const FREE_TIMEOUT: Duration = Duration::from_secs(5);
/// Batches queued for the dispatch thread before the connection slows down.
const JOB_QUEUE: usize = 16;

/// The outcome of an asynchronous operation, handed to its completion callback. Every
/// pointer in it is valid during the callback only.
#[repr(C)]
pub struct mqttkit_completion_t {
    /// `MQTTKIT_RESULT_OK`, or why the operation failed.
    pub result: mqttkit_result,
    /// Packet identifier of the PUBLISH / SUBSCRIBE / UNSUBSCRIBE (0 for QoS 0 and others).
    pub packet_id: u16,
    /// The MQTT reason code: CONNACK, PUBACK/PUBCOMP, the first SUBACK/UNSUBACK code, AUTH;
    /// on failure the server's reason code if there was one, else 0.
    pub reason_code: u8,
    /// connect: whether the server resumed a session.
    pub session_present: bool,
    /// subscribe / unsubscribe: one reason code per filter (granted QoS 0..2 or a failure
    /// >= 0x80); NULL with length 0 otherwise.
    pub reason_codes: *const u8,
    /// Number of entries in `reason_codes`.
    pub reason_codes_len: usize,
    /// ping: round-trip time in microseconds.
    pub round_trip_us: u64,
    /// Never NULL: the error message on failure, "" on success. NUL-terminated.
    pub message: *const c_char,
}

/// Called once when an asynchronous operation completes (successfully or not), on the
/// client's dispatch thread.
pub type mqttkit_completion_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, completion: *const mqttkit_completion_t)>;

/// A completion on its way to the dispatch thread.
pub(crate) struct Outcome {
    pub(crate) result: mqttkit_result,
    pub(crate) packet_id: u16,
    pub(crate) reason_code: u8,
    pub(crate) session_present: bool,
    pub(crate) reason_codes: Vec<u8>,
    pub(crate) round_trip_us: u64,
    pub(crate) message: CString,
}

impl Outcome {
    fn ok() -> Outcome {
        Outcome {
            result: mqttkit_result::MQTTKIT_RESULT_OK,
            packet_id: 0,
            reason_code: 0,
            session_present: false,
            reason_codes: Vec::new(),
            round_trip_us: 0,
            message: CString::default(),
        }
    }

    fn from_result<T>(result: Result<T, Error>, fill: fn(&mut Outcome, T)) -> Outcome {
        let mut outcome = Outcome::ok();
        match result {
            Ok(value) => fill(&mut outcome, value),
            Err(error) => {
                outcome.result = mqttkit_result::from_kind(error.kind());
                outcome.reason_code = error.reason_code().map_or(0, |code| code as u8);
                match &error {
                    Error::SubscribeFailed { reason_codes } | Error::UnsubscribeFailed { reason_codes } => {
                        outcome.reason_codes = reason_codes.iter().map(|c| *c as u8).collect();
                        outcome.reason_code = outcome.reason_codes.first().copied().unwrap_or(0);
                    }
                    Error::PublishFailed { packet_id, .. } => outcome.packet_id = *packet_id,
                    _ => {}
                }
                outcome.message = CString::new(error.to_string().replace('\0', "?")).unwrap_or_default();
            }
        }
        outcome
    }
}

/// Work for a client's dispatch thread.
pub(crate) enum Job {
    Events(Vec<Event>),
    Completion { callback: mqttkit_completion_cb, user_data: UserData, outcome: Outcome },
}

/// The core's events go to the dispatch thread through a bounded channel: a slow callback
/// slows the connection down (TCP backpressure), nothing is dropped.
struct CSink(mpsc::Sender<Job>);

impl EventSink for CSink {
    async fn deliver(&mut self, events: Vec<Event>) {
        // The dispatch thread outlives every sender: a failure means nobody listens.
        let _ = self.0.send(Job::Events(events)).await;
    }
}

/// Dispatch threads still running (a client freed from its own callback finishes its
/// teardown on its dispatch thread after the callback returns).
static LIVE_THREADS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

fn live_threads_add(delta: isize) {
    let (count, changed) = &LIVE_THREADS;
    let mut count = count.lock().unwrap_or_else(|p| p.into_inner());
    *count = count.saturating_add_signed(delta);
    changed.notify_all();
}

thread_local! {
    /// On a dispatch thread: its client's dispatch state (null elsewhere), by which
    /// `mqttkit_client_free` recognises a call from inside that client's own callback. (A
    /// thread-local rather than `std::thread::current()`, which would give the caller's
    /// thread a handle that is never freed: valgrind's "possibly lost".)
    static DISPATCHING: Cell<*const DispatchState> = const { Cell::new(std::ptr::null()) };
}

fn run_dispatch(mut jobs: mpsc::Receiver<Job>, state: Arc<DispatchState>, runtime: RuntimeUser) {
    enter_dispatch_thread();
    DISPATCHING.with(|dispatching| dispatching.set(Arc::as_ptr(&state)));
    let mut scratch = Vec::new();
    while let Some(job) = jobs.blocking_recv() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
            Job::Events(events) => {
                for event in events {
                    crate::events::deliver(&state, event, &mut scratch);
                }
            }
            Job::Completion { callback: Some(callback), user_data, outcome } => {
                let completion = mqttkit_completion_t {
                    result: outcome.result,
                    packet_id: outcome.packet_id,
                    reason_code: outcome.reason_code,
                    session_present: outcome.session_present,
                    reason_codes: if outcome.reason_codes.is_empty() {
                        std::ptr::null()
                    } else {
                        outcome.reason_codes.as_ptr()
                    },
                    reason_codes_len: outcome.reason_codes.len(),
                    round_trip_us: outcome.round_trip_us,
                    message: outcome.message.as_ptr(),
                };
                // SAFETY: the C caller registered this callback for this signature; the
                // completion lives until it returns.
                unsafe { callback(user_data.0, &completion) };
            }
            Job::Completion { callback: None, .. } => {}
        }));
    }
    drop(jobs);
    drop(state);
    // The last user shuts the runtime down and joins its threads (we are outside it).
    drop(runtime);
    live_threads_add(-1);
}

/// An MQTT client. Opaque; create with `mqttkit_client_new`, free with
/// `mqttkit_client_free`. Thread-safe: every function taking a `mqttkit_client_t *` may be
/// called from any thread, concurrently, and from inside any of this client's callbacks,
/// except `mqttkit_client_free`, which must not race with other calls on the same client.
pub struct mqttkit_client_t {
    client: Client,
    runtime: RuntimeUser,
    jobs: mpsc::Sender<Job>,
    state: Arc<DispatchState>,
    thread: Option<JoinHandle<()>>,
}

impl mqttkit_client_t {
    pub(crate) fn state(&self) -> &DispatchState {
        &self.state
    }

    /// Hands a command to the connection task from this (non-runtime) thread: returns once
    /// the connection task has it, so that commands reach the connection in call order.
    /// While the command queue is full it waits, at most ENQUEUE_TIMEOUT.
    fn hand_over<T>(
        &self,
        operation: Operation,
        future: impl Future<Output = Result<T, Error>>,
    ) -> FfiResult<Result<T, Error>> {
        let mut future = pin!(future);
        let first = {
            let _entered = self.runtime.handle().enter();
            future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        };
        match first {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => {
                let waited = self.block(async { tokio::time::timeout(ENQUEUE_TIMEOUT, future).await })?;
                Ok(waited.unwrap_or(Err(Error::Timeout { operation, timeout: ENQUEUE_TIMEOUT })))
            }
        }
    }

    /// Starts an operation whose completion goes to `callback`: hands it over (see
    /// `hand_over`), then lets the runtime wait for its outcome. Only argument errors and a
    /// shut-down client are returned directly; every other outcome goes to the callback.
    pub(crate) fn start<T: Send + 'static>(
        &self,
        operation: Operation,
        submit: impl Future<Output = Result<Pending<T>, Error>>,
        callback: mqttkit_completion_cb,
        user_data: *mut c_void,
        fill: fn(&mut Outcome, T),
    ) -> FfiResult<()> {
        let user_data = UserData(user_data);
        let jobs = self.jobs.clone();
        let pending = match self.hand_over(operation, submit)? {
            Err(error @ (Error::InvalidArgument(_) | Error::ChannelClosed)) => return Err(error.into()),
            other => other,
        };
        self.runtime.handle().spawn(async move {
            let result = match pending {
                Ok(pending) => pending.wait().await,
                Err(error) => Err(error),
            };
            let outcome = Outcome::from_result(result, fill);
            let _ = jobs.send(Job::Completion { callback, user_data, outcome }).await;
        });
        Ok(())
    }

    /// Runs a fire-and-forget call: returns once the connection task has the request.
    pub(crate) fn enqueue(
        &self,
        operation: Operation,
        future: impl Future<Output = Result<(), Error>>,
    ) -> FfiResult<()> {
        Ok(self.hand_over(operation, future)??)
    }

    /// Blocks this (non-runtime) thread on `future`.
    fn block<T>(&self, future: impl Future<Output = T>) -> FfiResult<T> {
        self.runtime.try_block_on(future).ok_or_else(|| {
            Failure::new(
                mqttkit_result::MQTTKIT_RESULT_INTERNAL,
                "blocking call on an mqttkit runtime thread",
            )
        })
    }

    /// Blocks on an operation, at most `timeout` when given (hand-over included).
    pub(crate) fn wait<T>(
        &self,
        operation: Operation,
        timeout: Option<Duration>,
        future: impl Future<Output = Result<T, Error>>,
    ) -> FfiResult<T> {
        let result = match timeout {
            Some(limit) => self
                .block(async { tokio::time::timeout(limit, future).await })?
                .unwrap_or(Err(Error::Timeout { operation, timeout: limit })),
            None => self.block(future)?,
        };
        Ok(result?)
    }

    /// The core client.
    pub(crate) fn core(&self) -> &Client {
        &self.client
    }
}

/// Creates a client from `options` (which may be freed right after) and writes it to
/// `*client_out`. Nothing connects until `mqttkit_client_connect[_sync]`. Starts the
/// client's dispatch thread (and mqttkit's shared runtime threads if this is the first
/// client or broker). The caller owns the client and frees it with `mqttkit_client_free`.
///
/// Returns `MQTTKIT_RESULT_INVALID_CONFIGURATION` (with the reason in `mqttkit_last_error`)
/// when the options cannot work; `*client_out` is written only on success.
///
/// # Safety
/// `options` NULL or live; `client_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_new(
    options: *const mqttkit_client_options_t,
    client_out: *mut *mut mqttkit_client_t,
) -> mqttkit_result {
    ffi_result! {
        let options = check_ref!(options).build()?;
        if client_out.is_null() {
            return Err(Failure::new(mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER, "argument `client_out` is NULL"));
        }
        let runtime = RuntimeUser::acquire()
            .map_err(|e| Failure::new(mqttkit_result::MQTTKIT_RESULT_INTERNAL, format!("cannot start the runtime: {e}")))?;
        let (jobs, receiver) = mpsc::channel(JOB_QUEUE);
        let client = {
            let _entered = runtime.handle().enter();
            Client::new(options, CSink(jobs.clone()))?
        };
        let state = Arc::new(DispatchState::default());
        let thread_state = state.clone();
        let thread_runtime = runtime.clone();
        live_threads_add(1);
        let thread = std::thread::Builder::new()
            .name("mqttkit-dispatch".into())
            .spawn(move || run_dispatch(receiver, thread_state, thread_runtime))
            .map_err(|e| {
                live_threads_add(-1);
                Failure::new(mqttkit_result::MQTTKIT_RESULT_INTERNAL, format!("cannot start the dispatch thread: {e}"))
            })?;
        let handle = mqttkit_client_t { client, runtime, jobs, state, thread: Some(thread) };
        write_out(client_out, Box::into_raw(Box::new(handle)));
        Ok(())
    }
}

/// Frees a client: disconnects (normal DISCONNECT, no will) if connected, stops its
/// connection, and fails every pending operation, whose completion callbacks then run with
/// `MQTTKIT_RESULT_CHANNEL_CLOSED` (each completion callback runs exactly once). No event
/// callback runs once `mqttkit_client_free` has started. NULL is a no-op.
///
/// From any thread other than the client's dispatch thread it returns after the last
/// callback of this client has returned and its dispatch thread has ended (and, if it was
/// the last client or broker, after mqttkit's runtime threads have ended): afterwards no
/// mqttkit thread uses `user_data`.
///
/// Freeing a client from inside one of its own callbacks is allowed: the client handle is
/// invalid as soon as this returns; the teardown finishes on the dispatch thread after the
/// callback returns (remaining completion callbacks run there first). Use
/// `mqttkit_wait_idle` to wait for that before unloading or exiting.
///
/// # Safety
/// `client` NULL or live; no other call on this client may run concurrently or follow.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_free(client: *mut mqttkit_client_t) {
    crate::ffi_boundary! {
        if client.is_null() {
            return;
        }
        // SAFETY: made by Box::into_raw in mqttkit_client_new; freed once.
        let handle = unsafe { Box::from_raw(client) };
        let mqttkit_client_t { client, runtime, jobs, state, thread } = *handle;
        state.closed.store(true, Ordering::Release);
        drop(jobs);
        if DISPATCHING.with(Cell::get) == Arc::as_ptr(&state) {
            // Inside a callback: finish in the background; the dispatch thread ends by
            // itself once the connection task and every pending operation are done.
            runtime.handle().spawn(async move {
                let _ = client.shutdown().await;
            });
            drop(thread);
        } else {
            let _ = runtime.try_block_on(async {
                let _ = tokio::time::timeout(FREE_TIMEOUT, client.shutdown()).await;
            });
            drop(client);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
        drop(state);
        drop(runtime);
    }
}

/// Waits until every dispatch thread of freed clients has ended (see `mqttkit_client_free`
/// from inside a callback), at most `timeout_ms` (0: do not wait, just check). Returns OK
/// when none is left, `MQTTKIT_RESULT_TIMEOUT` otherwise. Live clients count too: call it
/// after freeing them. Never call it from a callback.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_wait_idle(timeout_ms: u32) -> mqttkit_result {
    ffi_result! {
        let (count, changed) = &LIVE_THREADS;
        let guard = count.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = changed
            .wait_timeout_while(guard, Duration::from_millis(timeout_ms.into()), |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        if *guard > 0 {
            return Err(Failure::new(mqttkit_result::MQTTKIT_RESULT_TIMEOUT, format!("{} mqttkit dispatch thread(s) still running", *guard)));
        }
        Ok(())
    }
}

/// Whether a connection is established right now (false for NULL).
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_is_connected(client: *const mqttkit_client_t) -> bool {
    crate::ffi_boundary! {
        // SAFETY: NULL or live, per the contract.
        unsafe { client.as_ref() }.is_some_and(|c| c.client.is_connected())
    }
}

/// QoS 0 messages dropped from the offline buffer to make room (0 for NULL).
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_dropped_messages(client: *const mqttkit_client_t) -> u64 {
    crate::ffi_boundary! {
        // SAFETY: NULL or live, per the contract.
        unsafe { client.as_ref() }.map_or(0, |c| c.client.dropped_messages())
    }
}
