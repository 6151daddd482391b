//! `mqttkit_client_t`: the client handle, its dispatch thread, and every operation in its
//! asynchronous (completion callback) and blocking (`_sync`) forms.

use std::ffi::{CString, c_char, c_void};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use mqttkit::client::{Client, PublishOptions, SubscribeOptions, UnsubscribeOptions};
use mqttkit::dispatch::{Event, EventSink};
use mqttkit::protocol::Subscription;
use mqttkit::runtime::RuntimeUser;
use mqttkit::{Error, Operation};
use tokio::sync::mpsc;

use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::events::DispatchState;
use crate::ffi::{UserData, arg_bytes, arg_qos, enter_dispatch_thread, write_out};
use crate::options::{mqttkit_client_options_t, mqttkit_publish_options_t};
use crate::{check_bytes, check_ref, check_str, ffi_result};

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
    result: mqttkit_result,
    packet_id: u16,
    reason_code: u8,
    session_present: bool,
    reason_codes: Vec<u8>,
    round_trip_us: u64,
    message: CString,
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

fn run_dispatch(mut jobs: mpsc::Receiver<Job>, state: Arc<DispatchState>, runtime: RuntimeUser) {
    enter_dispatch_thread();
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
    thread_id: ThreadId,
}

impl mqttkit_client_t {
    pub(crate) fn state(&self) -> &DispatchState {
        &self.state
    }

    /// Starts an operation whose completion goes to `callback`: polls it once here (so that
    /// commands reach the connection in call order and argument errors are returned
    /// directly), then lets the runtime finish it.
    fn start<T, F>(
        &self,
        future: F,
        callback: mqttkit_completion_cb,
        user_data: *mut c_void,
        fill: fn(&mut Outcome, T),
    ) -> FfiResult<()>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
    {
        let user_data = UserData(user_data);
        let _entered = self.runtime.handle().enter();
        let mut future = Box::pin(future);
        let jobs = self.jobs.clone();
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            // Only argument errors and a shut-down client are returned directly; every other
            // outcome goes to the callback, however fast it is.
            Poll::Ready(Err(error @ (Error::InvalidArgument(_) | Error::ChannelClosed))) => Err(error.into()),
            Poll::Ready(result) => {
                let outcome = Outcome::from_result(result, fill);
                self.runtime.handle().spawn(async move {
                    let _ = jobs.send(Job::Completion { callback, user_data, outcome }).await;
                });
                Ok(())
            }
            Poll::Pending => {
                self.runtime.handle().spawn(async move {
                    let outcome = Outcome::from_result(future.await, fill);
                    let _ = jobs.send(Job::Completion { callback, user_data, outcome }).await;
                });
                Ok(())
            }
        }
    }

    /// Runs a fire-and-forget call: returns once the connection task has the request
    /// (waiting at most ENQUEUE_TIMEOUT for room in the command queue).
    fn enqueue(
        &self,
        operation: Operation,
        future: impl Future<Output = Result<(), Error>>,
    ) -> FfiResult<()> {
        let mut future = pin!(future);
        let first = {
            let _entered = self.runtime.handle().enter();
            future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        };
        match first {
            Poll::Ready(result) => Ok(result?),
            Poll::Pending => {
                let waited = self.block(async { tokio::time::timeout(ENQUEUE_TIMEOUT, future).await })?;
                waited.map_err(|_| Error::Timeout { operation, timeout: ENQUEUE_TIMEOUT })??;
                Ok(())
            }
        }
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

    /// Blocks on an operation, at most `timeout` when given.
    fn wait<T>(
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
}

fn timeout_of(timeout_ms: u32) -> Option<Duration> {
    (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into()))
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
        let thread_id = thread.thread().id();
        let handle = mqttkit_client_t { client, runtime, jobs, state, thread: Some(thread), thread_id };
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
        let mqttkit_client_t { client, runtime, jobs, state, thread, thread_id } = *handle;
        state.closed.store(true, Ordering::Release);
        drop(jobs);
        if std::thread::current().id() == thread_id {
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

fn fill_nothing(_: &mut Outcome, _: ()) {}

/// Connects and reports the CONNACK to `callback` (`session_present`, `reason_code`).
/// With `callback` NULL it is fire-and-forget: the result arrives as a connected or error
/// event, and failed attempts are retried according to the reconnect policy.
///
/// Asynchronous functions return `MQTTKIT_RESULT_OK` when the operation was started: the
/// callback then runs exactly once, on the client's dispatch thread (possibly before the
/// function has returned to its caller, never inside it). Only invalid arguments
/// (`MQTTKIT_RESULT_NULL_PARAMETER`, `MQTTKIT_RESULT_INVALID_ARGUMENT`) and a shut-down
/// client (`MQTTKIT_RESULT_CHANNEL_CLOSED`) are returned directly, and then the callback
/// never runs; every other failure (network, timeout, refusal, ...) goes to the callback.
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_connect(
    client: *const mqttkit_client_t,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.client.clone();
        match callback {
            None => handle.enqueue(Operation::Connect, async move { client.connect_nowait().await }),
            Some(_) => handle.start(async move { client.connect().await }, callback, user_data, |o, r| {
                o.session_present = r.session_present;
                o.reason_code = r.reason_code as u8;
            }),
        }
    }
}

/// Connects and waits for the CONNACK, at most `timeout_ms` (0: the client's connect
/// timeout). On success writes `*session_present` (may be NULL). A refusal is
/// `MQTTKIT_RESULT_CONNECTION_REFUSED`, an unreachable server `MQTTKIT_RESULT_NETWORK`.
///
/// Blocking functions (`_sync`) may be called from any thread, including callbacks; inside
/// a callback, events queue up meanwhile and a full event queue holds the connection until
/// the call times out, so prefer the asynchronous forms there.
///
/// # Safety
/// `client` NULL or live; `session_present` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_connect_sync(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
    session_present: *mut bool,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let result = match timeout_of(timeout_ms) {
            Some(limit) => handle.wait(Operation::Connect, None, handle.client.connect_with_timeout(Some(limit)))?,
            None => handle.wait(Operation::Connect, None, handle.client.connect())?,
        };
        write_out(session_present, result.session_present);
        Ok(())
    }
}

/// Disconnects (normal DISCONNECT, no will, no reconnect) and reports to `callback` once the
/// connection is closed; NULL `callback`: fire-and-forget (a disconnected event follows).
/// The client may connect again afterwards. Allowed from inside any callback.
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect(
    client: *const mqttkit_client_t,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.client.clone();
        match callback {
            None => handle.enqueue(Operation::Disconnect, async move { client.disconnect_nowait().await }),
            Some(_) => handle.start(async move { client.disconnect().await }, callback, user_data, fill_nothing),
        }
    }
}

/// Disconnects and waits until the connection is closed, at most `timeout_ms` (0: the
/// client's auth timeout, 10 s by default).
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect_sync(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        handle.wait(Operation::Disconnect, timeout_of(timeout_ms), handle.client.disconnect())
    }
}

/// Builds the core publish arguments from C arguments.
unsafe fn publish_args(
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: bool,
    options: *const mqttkit_publish_options_t,
) -> FfiResult<(ByteString, Bytes, PublishOptions)> {
    let topic = ByteString::from(check_str!(topic).to_owned());
    let payload = Bytes::copy_from_slice(check_bytes!(payload, payload_len));
    // SAFETY: NULL or live, per the caller's contract.
    let mut publish = unsafe { options.as_ref() }.map(|o| o.inner.clone()).unwrap_or_default();
    publish.qos = arg_qos(qos)?;
    publish.retain = retain;
    Ok((topic, payload, publish))
}

/// Publishes `payload_len` bytes at `payload` (copied; NULL allowed with length 0) to
/// `topic` (copied) with `qos` 0..2 and `retain`, plus optional MQTT 5 properties from
/// `options` (may be NULL; copied). `callback` gets the acknowledgement (PUBACK for QoS 1,
/// PUBCOMP for QoS 2, hand-over to the connection for QoS 0) with `packet_id` and
/// `reason_code`. NULL `callback`: fire-and-forget — QoS 1/2 acknowledgements arrive as
/// published events, failures as error events. Messages are sent in call order. While the
/// client reconnects, messages wait in the offline buffer.
///
/// # Safety
/// `client` NULL or live; `topic` NUL-terminated; `payload` readable for `payload_len`;
/// `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_publish(
    client: *const mqttkit_client_t,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: bool,
    options: *const mqttkit_publish_options_t,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        // SAFETY: forwarded caller contract.
        let (topic, payload, publish) = unsafe { publish_args(topic, payload, payload_len, qos, retain, options) }?;
        let client = handle.client.clone();
        match callback {
            None => handle.enqueue(Operation::Publish, async move { client.publish_with_nowait(topic, payload, publish).await }),
            Some(_) => handle.start(async move { client.publish_with(topic, payload, publish).await }, callback, user_data, |o, r| {
                o.packet_id = r.packet_id.unwrap_or(0);
                o.reason_code = r.reason_code as u8;
            }),
        }
    }
}

/// Publishes and waits for the acknowledgement, at most `timeout_ms` (0: the client's
/// publish timeout). On success writes the packet identifier to `*packet_id` (0 for QoS 0;
/// may be NULL). A refusal by the server is `MQTTKIT_RESULT_PUBLISH_FAILED`.
///
/// # Safety
/// As `mqttkit_client_publish`; `packet_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_publish_sync(
    client: *const mqttkit_client_t,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: i32,
    retain: bool,
    options: *const mqttkit_publish_options_t,
    timeout_ms: u32,
    packet_id: *mut u16,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        // SAFETY: forwarded caller contract.
        let (topic, payload, mut publish) = unsafe { publish_args(topic, payload, payload_len, qos, retain, options) }?;
        publish.timeout = timeout_of(timeout_ms).or(publish.timeout);
        let result = handle.wait(Operation::Publish, None, handle.client.publish_with(topic, payload, publish))?;
        write_out(packet_id, result.packet_id.unwrap_or(0));
        Ok(())
    }
}

fn subscription(filter: &str, qos: i32) -> FfiResult<Vec<Subscription>> {
    Ok(vec![Subscription::new(ByteString::from(filter.to_owned()), arg_qos(qos)?)])
}

/// Subscribes to `filter` (copied) with maximum `qos` and reports the SUBACK to `callback`
/// (`reason_codes[0]`: the granted QoS). A refusal completes with
/// `MQTTKIT_RESULT_SUBSCRIBE_FAILED`. NULL `callback`: fire-and-forget (subscribed event).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    qos: i32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let subscriptions = subscription(check_str!(filter), qos)?;
        let client = handle.client.clone();
        match callback {
            None => handle.enqueue(Operation::Subscribe, async move {
                client.subscribe_with_nowait(subscriptions, SubscribeOptions::default()).await
            }),
            Some(_) => handle.start(
                async move { client.subscribe_with(subscriptions, SubscribeOptions::default()).await },
                callback,
                user_data,
                |o, r| {
                    o.packet_id = r.packet_id;
                    o.reason_codes = r.reason_codes.iter().map(|c| *c as u8).collect();
                    o.reason_code = o.reason_codes.first().copied().unwrap_or(0);
                },
            ),
        }
    }
}

/// Subscribes and waits for the SUBACK, at most `timeout_ms` (0: the client's subscribe
/// timeout). On success writes the granted QoS to `*granted_qos` (may be NULL).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated; `granted_qos` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe_sync(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    qos: i32,
    timeout_ms: u32,
    granted_qos: *mut u8,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let subscriptions = subscription(check_str!(filter), qos)?;
        let options = SubscribeOptions { timeout: timeout_of(timeout_ms), ..Default::default() };
        let result = handle.wait(Operation::Subscribe, None, handle.client.subscribe_with(subscriptions, options))?;
        write_out(granted_qos, result.reason_codes.first().map_or(0, |c| *c as u8));
        Ok(())
    }
}

/// Unsubscribes from `filter` (copied) and reports the UNSUBACK to `callback`. NULL
/// `callback`: fire-and-forget (unsubscribed event).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let filter = check_str!(filter).to_owned();
        let client = handle.client.clone();
        match callback {
            None => handle.enqueue(Operation::Unsubscribe, async move { client.unsubscribe_nowait(filter).await }),
            Some(_) => handle.start(async move { client.unsubscribe(filter).await }, callback, user_data, |o, r| {
                o.packet_id = r.packet_id;
                o.reason_codes = r.reason_codes.iter().map(|c| *c as u8).collect();
                o.reason_code = o.reason_codes.first().copied().unwrap_or(0);
            }),
        }
    }
}

/// Unsubscribes and waits for the UNSUBACK, at most `timeout_ms` (0: the client's
/// unsubscribe timeout).
///
/// # Safety
/// `client` NULL or live; `filter` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe_sync(
    client: *const mqttkit_client_t,
    filter: *const c_char,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let filter = check_str!(filter).to_owned();
        let options = UnsubscribeOptions { timeout: timeout_of(timeout_ms), ..Default::default() };
        handle.wait(Operation::Unsubscribe, None, handle.client.unsubscribe_with(vec![filter], options)).map(drop)
    }
}

/// Sends PINGREQ and reports the PINGRESP to `callback` (`round_trip_us`). NULL `callback`:
/// fire-and-forget (ping event).
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_ping(
    client: *const mqttkit_client_t,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let client = handle.client.clone();
        match callback {
            None => handle.enqueue(Operation::Ping, async move { client.ping_nowait().await }),
            Some(_) => handle.start(async move { client.ping().await }, callback, user_data, |o, r| {
                o.round_trip_us = u64::try_from(r.round_trip.as_micros()).unwrap_or(u64::MAX);
            }),
        }
    }
}

/// Pings and waits for the PINGRESP, at most `timeout_ms` (0: the client's ping timeout).
/// On success writes the round trip in microseconds to `*round_trip_us` (may be NULL).
///
/// # Safety
/// `client` NULL or live; `round_trip_us` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_ping_sync(
    client: *const mqttkit_client_t,
    timeout_ms: u32,
    round_trip_us: *mut u64,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let result = match timeout_of(timeout_ms) {
            Some(limit) => handle.wait(Operation::Ping, None, handle.client.ping_with_timeout(Some(limit)))?,
            None => handle.wait(Operation::Ping, None, handle.client.ping())?,
        };
        write_out(round_trip_us, u64::try_from(result.round_trip.as_micros()).unwrap_or(u64::MAX));
        Ok(())
    }
}

fn auth_data(data: *const u8, len: usize) -> FfiResult<Option<Bytes>> {
    if data.is_null() && len == 0 {
        return Ok(None);
    }
    Ok(Some(Bytes::copy_from_slice(arg_bytes(data, len, "data")?)))
}

/// MQTT 5 enhanced authentication: sends AUTH with reason `reauthenticate` (0x19) when
/// `reauthenticate` is true, else Continue authentication (0x18), with `method` (copied)
/// and optional `data` (copied; NULL with `len` 0 for none), and reports the server's
/// answer to `callback` (`reason_code`; an AUTH Continue also arrives as an auth event).
/// MQTT 3.1.1 clients get `MQTTKIT_RESULT_INVALID_ARGUMENT`. `callback` may be NULL: the
/// result is then discarded.
///
/// # Safety
/// `client` NULL or live; `method` NUL-terminated; `data` readable for `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_auth(
    client: *const mqttkit_client_t,
    reauthenticate: bool,
    method: *const c_char,
    data: *const u8,
    len: usize,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let method = check_str!(method).to_owned();
        let data = auth_data(data, len)?;
        let client = handle.client.clone();
        handle.start(
            async move {
                if reauthenticate {
                    client.re_authenticate_with(method, data).await
                } else {
                    client.auth_continue(method, data).await
                }
            },
            callback,
            user_data,
            |o, r| o.reason_code = r.reason_code as u8,
        )
    }
}

/// `mqttkit_client_auth`, blocking at most `timeout_ms` (0: the client's auth timeout). On
/// success writes the server's reason code to `*reason_code` (may be NULL).
///
/// # Safety
/// As `mqttkit_client_auth`; `reason_code` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_auth_sync(
    client: *const mqttkit_client_t,
    reauthenticate: bool,
    method: *const c_char,
    data: *const u8,
    len: usize,
    timeout_ms: u32,
    reason_code: *mut u8,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let method = check_str!(method).to_owned();
        let data = auth_data(data, len)?;
        let client = &handle.client;
        let result = handle.wait(Operation::Auth, timeout_of(timeout_ms), async move {
            if reauthenticate {
                client.re_authenticate_with(method, data).await
            } else {
                client.auth_continue(method, data).await
            }
        })?;
        write_out(reason_code, result.reason_code as u8);
        Ok(())
    }
}

/// One subscription of `mqttkit_client_subscribe_many`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mqttkit_subscription_t {
    /// Topic filter (NUL-terminated UTF-8, copied).
    pub filter: *const c_char,
    /// Maximum QoS, 0..2.
    pub qos: i32,
    /// MQTT 5 No Local: do not receive this client's own publications.
    pub no_local: bool,
    /// MQTT 5 Retain As Published: keep the RETAIN flag of forwarded messages.
    pub retain_as_published: bool,
    /// MQTT 5 Retain Handling: 0 send retained messages at subscribe, 1 only for a new
    /// subscription, 2 never.
    pub retain_handling: u8,
}

fn subscriptions(items: *const mqttkit_subscription_t, count: usize) -> FfiResult<Vec<Subscription>> {
    use mqttkit::protocol::RetainHandling;
    if count == 0 {
        return Err(Failure::invalid("subscribe needs at least one subscription"));
    }
    if items.is_null() {
        return Err(Failure::new(
            mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER,
            "argument `subscriptions` is NULL",
        ));
    }
    // SAFETY: non-NULL, and the caller promises `count` readable entries.
    let items = unsafe { std::slice::from_raw_parts(items, count) };
    items
        .iter()
        .map(|item| {
            let filter = crate::ffi::arg_str(item.filter, "subscriptions[].filter")?;
            let mut subscription = Subscription::new(ByteString::from(filter.to_owned()), arg_qos(item.qos)?);
            subscription.options.no_local = item.no_local;
            subscription.options.retain_as_published = item.retain_as_published;
            subscription.options.retain_handling = match item.retain_handling {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendIfNewSubscription,
                2 => RetainHandling::DoNotSend,
                other => {
                    return Err(Failure::invalid(format!("retain_handling must be 0, 1 or 2, got {other}")));
                }
            };
            Ok(subscription)
        })
        .collect()
}

fn subscribe_options(subscription_identifier: u32, timeout_ms: u32) -> SubscribeOptions {
    SubscribeOptions {
        subscription_identifier: (subscription_identifier > 0).then_some(subscription_identifier),
        timeout: timeout_of(timeout_ms),
        ..Default::default()
    }
}

/// Subscribes to `count` filters in one SUBSCRIBE, each with its own options, and reports
/// the SUBACK to `callback` (`reason_codes`: one per filter). `subscription_identifier`
/// (MQTT 5; 0 for none) is echoed in matching messages
/// (`mqttkit_message_subscription_identifier`). A refusal of any filter completes with
/// `MQTTKIT_RESULT_SUBSCRIBE_FAILED` (with every reason code). NULL `callback`:
/// fire-and-forget (subscribed event).
///
/// # Safety
/// `client` NULL or live; `subscriptions` readable for `count` entries whose filters are
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe_many(
    client: *const mqttkit_client_t,
    subscriptions: *const mqttkit_subscription_t,
    count: usize,
    subscription_identifier: u32,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::subscriptions(subscriptions, count)?;
        let options = subscribe_options(subscription_identifier, 0);
        let client = handle.client.clone();
        match callback {
            None => handle.enqueue(Operation::Subscribe, async move { client.subscribe_with_nowait(list, options).await }),
            Some(_) => handle.start(async move { client.subscribe_with(list, options).await }, callback, user_data, |o, r| {
                o.packet_id = r.packet_id;
                o.reason_codes = r.reason_codes.iter().map(|c| *c as u8).collect();
                o.reason_code = o.reason_codes.first().copied().unwrap_or(0);
            }),
        }
    }
}

/// `mqttkit_client_subscribe_many`, blocking at most `timeout_ms` (0: the client's subscribe
/// timeout). On success writes one reason code (granted QoS) per filter to
/// `reason_codes_out` (room for `count` bytes; may be NULL).
///
/// # Safety
/// As `mqttkit_client_subscribe_many`; `reason_codes_out` NULL or writable for `count` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_subscribe_many_sync(
    client: *const mqttkit_client_t,
    subscriptions: *const mqttkit_subscription_t,
    count: usize,
    subscription_identifier: u32,
    timeout_ms: u32,
    reason_codes_out: *mut u8,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::subscriptions(subscriptions, count)?;
        let options = subscribe_options(subscription_identifier, timeout_ms);
        let result = handle.wait(Operation::Subscribe, None, handle.client.subscribe_with(list, options))?;
        if !reason_codes_out.is_null() {
            for (index, code) in result.reason_codes.iter().take(count).enumerate() {
                // SAFETY: the caller promises room for `count` bytes.
                unsafe { reason_codes_out.add(index).write(*code as u8) };
            }
        }
        Ok(())
    }
}

fn filters(filters: *const *const c_char, count: usize) -> FfiResult<Vec<String>> {
    if count == 0 {
        return Err(Failure::invalid("unsubscribe needs at least one topic filter"));
    }
    if filters.is_null() {
        return Err(Failure::new(
            mqttkit_result::MQTTKIT_RESULT_NULL_PARAMETER,
            "argument `filters` is NULL",
        ));
    }
    // SAFETY: non-NULL, and the caller promises `count` readable pointers.
    let items = unsafe { std::slice::from_raw_parts(filters, count) };
    items.iter().map(|filter| crate::ffi::arg_str(*filter, "filters[]").map(str::to_owned)).collect()
}

/// Unsubscribes from `count` filters (copied) in one UNSUBSCRIBE and reports the UNSUBACK
/// to `callback` (`reason_codes`: one per filter on MQTT 5). `callback` may be NULL: the
/// result is then discarded.
///
/// # Safety
/// `client` NULL or live; `filters` readable for `count` NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe_many(
    client: *const mqttkit_client_t,
    filters: *const *const c_char,
    count: usize,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::filters(filters, count)?;
        let client = handle.client.clone();
        handle.start(
            async move { client.unsubscribe_with(list, UnsubscribeOptions::default()).await },
            callback,
            user_data,
            |o, r| {
                o.packet_id = r.packet_id;
                o.reason_codes = r.reason_codes.iter().map(|c| *c as u8).collect();
                o.reason_code = o.reason_codes.first().copied().unwrap_or(0);
            },
        )
    }
}

/// `mqttkit_client_unsubscribe_many`, blocking at most `timeout_ms` (0: the client's
/// unsubscribe timeout).
///
/// # Safety
/// As `mqttkit_client_unsubscribe_many`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_unsubscribe_many_sync(
    client: *const mqttkit_client_t,
    filters: *const *const c_char,
    count: usize,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let list = self::filters(filters, count)?;
        let options = UnsubscribeOptions { timeout: timeout_of(timeout_ms), ..Default::default() };
        handle.wait(Operation::Unsubscribe, None, handle.client.unsubscribe_with(list, options)).map(drop)
    }
}

fn disconnect_reason(reason_code: u8) -> FfiResult<mqttkit::protocol::ReasonCode> {
    mqttkit::protocol::ReasonCode::from_u8(reason_code)
        .ok_or_else(|| Failure::invalid(format!("0x{reason_code:02X} is not an MQTT reason code")))
}

/// Disconnects with an MQTT 5 DISCONNECT reason code (e.g. 0x04, Disconnect with Will
/// Message: the server publishes the will) and reports to `callback` once the connection is
/// closed. A code DISCONNECT cannot carry is `MQTTKIT_RESULT_INVALID_ARGUMENT`. `callback`
/// may be NULL: the result is then discarded.
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect_with_reason(
    client: *const mqttkit_client_t,
    reason_code: u8,
    callback: mqttkit_completion_cb,
    user_data: *mut c_void,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let reason = disconnect_reason(reason_code)?;
        let client = handle.client.clone();
        handle.start(
            async move { client.disconnect_with(reason, Default::default()).await },
            callback,
            user_data,
            fill_nothing,
        )
    }
}

/// `mqttkit_client_disconnect_with_reason`, blocking at most `timeout_ms` (0: the client's
/// auth timeout).
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_disconnect_with_reason_sync(
    client: *const mqttkit_client_t,
    reason_code: u8,
    timeout_ms: u32,
) -> mqttkit_result {
    ffi_result! {
        let handle = check_ref!(client);
        let reason = disconnect_reason(reason_code)?;
        handle.wait(Operation::Disconnect, timeout_of(timeout_ms), handle.client.disconnect_with(reason, Default::default()))
    }
}
