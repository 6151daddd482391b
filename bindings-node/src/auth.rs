//! Enhanced authentication methods written in JavaScript (`authenticator` option).
//!
//! The core calls an [`AuthExchange`] synchronously from the connection task, on a worker of
//! the shared multi-thread runtime. A JavaScript exchange answers on the JS thread, so the
//! worker hands the step to JS through a threadsafe function and waits for the answer inside
//! `block_in_place` (the runtime moves its other tasks to other threads meanwhile). The JS
//! thread itself never waits for Rust, so this cannot deadlock: the JS callbacks are
//! synchronous (`index.js` refuses a Promise as an answer), and a wait is bounded by
//! [`ANSWER_LIMIT`] in case the JS thread is busy for that long or goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use mqttkit::client::{AuthExchange, Authenticator};
use napi::Status;
use napi::bindgen_prelude::{Buffer, FnArgs, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

/// How long an exchange step waits for the JS thread's answer.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// The steps of an exchange as `index.js` numbers them.
const STEP_START: u32 = 0;
const STEP_RESPOND: u32 = 1;
const STEP_FINISH: u32 = 2;
const STEP_DROP: u32 = 3;

/// What `index.js`'s dispatcher answers to a step.
#[napi(object)]
pub struct NativeAuthAnswer {
    /// Authentication Data to send (start, respond).
    pub data: Option<Buffer>,
    /// Why the step failed (the callback threw or answered something unusable).
    pub error: Option<String>,
}

/// One step for the JS thread.
pub(crate) struct Step {
    step: u32,
    exchange: u32,
    data: Option<Vec<u8>>,
}

/// JS arguments of a step: `(step, exchange, data)`.
pub(crate) type StepArgs = FnArgs<(u32, u32, Option<Buffer>)>;

type Call = ThreadsafeFunction<Step, NativeAuthAnswer, StepArgs, Status, false, true, 0>;

/// An authentication method whose exchanges run in JavaScript.
pub(crate) struct JsAuthenticator {
    method: String,
    call: Arc<Call>,
    next_exchange: AtomicU32,
}

impl JsAuthenticator {
    /// `call(step, exchange, data)` is `index.js`'s dispatcher for the user's authenticator.
    pub(crate) fn new(method: String, call: Function<'_, StepArgs, NativeAuthAnswer>) -> napi::Result<Self> {
        let call = call
            .build_threadsafe_function::<Step>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(|context| {
                let Step { step, exchange, data } = context.value;
                Ok(FnArgs::from((step, exchange, data.map(Buffer::from))))
            })?;
        Ok(JsAuthenticator { method, call: Arc::new(call), next_exchange: AtomicU32::new(1) })
    }
}

impl Authenticator for JsAuthenticator {
    fn method(&self) -> &str {
        &self.method
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        let id = self.next_exchange.fetch_add(1, Ordering::Relaxed);
        Box::new(JsExchange { id, call: self.call.clone(), started: false, failure: None, finished: false })
    }
}

/// One exchange; its JS state lives in `index.js` under `id`.
struct JsExchange {
    id: u32,
    call: Arc<Call>,
    started: bool,
    /// A failure of the start step, reported by the next step (`initial_data` cannot fail).
    failure: Option<String>,
    finished: bool,
}

impl JsExchange {
    /// Runs `step` on the JS thread and waits for its answer.
    fn ask(&self, step: u32, data: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        let (sender, receiver) = mpsc::sync_channel(1);
        let status = self.call.call_with_return_value(
            Step { step, exchange: self.id, data: data.map(<[u8]>::to_vec) },
            ThreadsafeFunctionCallMode::NonBlocking,
            move |answer: napi::Result<NativeAuthAnswer>, _env| {
                let answer = match answer {
                    Ok(NativeAuthAnswer { error: Some(error), .. }) => Err(error),
                    Ok(NativeAuthAnswer { data, .. }) => Ok(data.map(|data| Bytes::copy_from_slice(&data))),
                    Err(error) => Err(format!("the JavaScript authenticator failed: {error}")),
                };
                let _ = sender.send(answer);
                Ok(())
            },
        );
        if status != Status::Ok {
            return Err(format!("the JavaScript authenticator cannot be called ({status})"));
        }
        let wait = || receiver.recv_timeout(ANSWER_LIMIT);
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        answer.unwrap_or_else(|_| {
            Err(format!(
                "the JavaScript authenticator did not answer within {} s (or its environment is gone)",
                ANSWER_LIMIT.as_secs()
            ))
        })
    }
}

impl AuthExchange for JsExchange {
    fn initial_data(&mut self) -> Option<Bytes> {
        self.started = true;
        match self.ask(STEP_START, None) {
            Ok(data) => data,
            Err(error) => {
                self.failure = Some(error);
                None
            }
        }
    }

    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        if let Some(error) = self.failure.take() {
            return Err(error);
        }
        self.ask(STEP_RESPOND, challenge)
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        self.finished = true;
        if let Some(error) = self.failure.take() {
            // index.js kept no state for an exchange whose start failed.
            return Err(error);
        }
        self.ask(STEP_FINISH, data).map(|_| ())
    }
}

impl Drop for JsExchange {
    fn drop(&mut self) {
        if self.started && !self.finished {
            // Abandoned (connection lost, timeout): let index.js forget its state. Nothing
            // waits for the answer.
            let _ = self.call.call(
                Step { step: STEP_DROP, exchange: self.id, data: None },
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }
    }
}
