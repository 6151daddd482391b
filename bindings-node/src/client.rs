//! `NativeClient`: one core [`Client`] driven from JavaScript.
//!
//! Calls from JS never block and never create a Promise here: each operation is queued, in
//! call order, to a driver task on the shared runtime, tagged with a request id that
//! `index.js` maps to its Promise. Events and completions go into one [`Inbox`]
//! (`inbox.rs`); the JS side takes everything queued so far at once (`drain`).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use bytestring::ByteString;
use mqttkit::Error;
use mqttkit::client::{Client, SubscribeOptions, Timeouts, UnsubscribeOptions};
use mqttkit::dispatch::Event;
use mqttkit::protocol::{DisconnectProperties, ReasonCode};
use mqttkit::runtime::RuntimeUser;
use napi::bindgen_prelude::{Array, Either, Function};
use napi::{CleanupEnvHook, Env};
use napi_derive::napi;
use tokio::sync::mpsc;

use crate::auth::{JsAuthenticator, NativeAuthAnswer, StepArgs};
use crate::driver::{Op, Request, drive};
use crate::errors;
use crate::events::{self, Item};
use crate::inbox::{Inbox, Sink, Wake, lock};
use crate::options::{self, NativeClientOptions, NativePublishProperties, NativeSubscription};
use crate::publishing::PlainPublish;

/// `publish_batch` record flag: the record's topic is the next one of `topics`.
const NEW_TOPIC: u32 = 8;

/// Where operations go to the driver task.
type OpSender = mpsc::UnboundedSender<Request>;

/// The native side of an `MqttClient` (see `index.js`).
#[napi]
pub struct NativeClient {
    client: Client,
    ops: OpSender,
    inbox: Arc<Inbox>,
    /// Shuts the client down if the environment is torn down (worker exit, process exit)
    /// while it is open; removed once the client is closed.
    cleanup: Mutex<Option<CleanupEnvHook<OpSender>>>,
    _runtime: RuntimeUser,
}

fn bytes_of(payload: Either<String, &[u8]>) -> Bytes {
    match payload {
        Either::A(text) => Bytes::from(text),
        Either::B(bytes) => Bytes::copy_from_slice(bytes),
    }
}

fn to_napi(error: Error) -> napi::Error<&'static str> {
    errors::throw(&error)
}

#[napi]
impl NativeClient {
    /// Creates a client (not connected) whose events wake `wake` (called with no
    /// arguments; it then calls `drain`). With `auth_method`, `auth_call(step, exchange,
    /// data)` runs that enhanced-authentication method's exchanges (see `auth.rs`).
    #[napi(constructor)]
    pub fn new(
        env: Env,
        url: String,
        options: NativeClientOptions,
        wake: Function<'_, (), napi::bindgen_prelude::Unknown<'static>>,
        auth_method: Option<String>,
        #[napi(
            ts_arg_type = "((step: number, exchange: number, data?: Buffer | null) => NativeAuthAnswer) | undefined | null"
        )]
        auth_call: Option<Function<'_, StepArgs, NativeAuthAnswer>>,
    ) -> napi::Result<Self, &'static str> {
        let authenticator = match (auth_method, auth_call) {
            (Some(method), Some(call)) => Some(
                JsAuthenticator::new(method, call)
                    .map_err(|error| to_napi(Error::Internal(error.to_string())))?,
            ),
            _ => None,
        };
        let options = options::client_options(url, options, authenticator).map_err(to_napi)?;
        let runtime = RuntimeUser::acquire()
            .map_err(|error| to_napi(Error::Internal(format!("cannot start the runtime: {error}"))))?;
        let wake: Wake = wake
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<false>()
            .build_callback(|_| Ok(()))
            .map_err(|error| to_napi(Error::Internal(error.to_string())))?;
        let inbox = Arc::new(Inbox::new(wake));
        let (ops, receiver) = mpsc::unbounded_channel();
        let client = {
            let _entered = runtime.handle().enter();
            let client = Client::new(options, Sink(inbox.clone())).map_err(to_napi)?;
            tokio::spawn(tokio::task::unconstrained(drive(client.clone(), receiver, inbox.clone())));
            client
        };
        let cleanup = env
            .add_env_cleanup_hook(ops.clone(), |ops| {
                let _ = ops.send(Request::One(0, Box::new(Op::Shutdown)));
            })
            .ok();
        Ok(NativeClient { client, ops, inbox, cleanup: Mutex::new(cleanup), _runtime: runtime })
    }

    fn timeouts(&self) -> &Timeouts {
        self.client.options().timeouts()
    }

    fn queue(&self, id: u32, op: Op) -> napi::Result<(), &'static str> {
        self.ops.send(Request::One(id, Box::new(op))).map_err(|_| to_napi(Error::ChannelClosed))
    }

    /// Takes everything queued for JS as one packed batch (see `events.rs`).
    #[napi]
    pub fn drain<'env>(&self, env: &'env Env) -> napi::Result<Array<'env>> {
        let items = self.inbox.take();
        let mut batch = events::Batch::new(env, items.len())?;
        let mut events = 0;
        let mut closed = false;
        for item in items {
            match &item {
                Item::Event(..) => events += 1,
                Item::Closed => closed = true,
                Item::Done(..) => {}
            }
            batch.push(item)?;
        }
        self.inbox.hand_over(events);
        if closed {
            // Last item: release the threadsafe function so Node may exit.
            self.inbox.release_wake();
            if let Some(hook) = lock(&self.cleanup).take() {
                let _ = env.remove_env_cleanup_hook(hook);
            }
        }
        batch.finish()
    }

    /// Connects; completes request `id`. `timeout` in ms overrides the connect timeout.
    #[napi]
    pub fn connect(&self, id: u32, timeout: Option<f64>) -> napi::Result<(), &'static str> {
        let timeout = options::explicit_timeout(timeout, self.timeouts().connect).map_err(to_napi)?;
        self.queue(id, Op::Connect(timeout))
    }

    /// Starts connecting; the result arrives as a `connect` or `error` event.
    #[napi]
    pub fn connect_nowait(&self) -> napi::Result<(), &'static str> {
        self.queue(0, Op::ConnectNowait)
    }

    /// Publishes; request `id` completes on the acknowledgement (id 0: fire-and-forget).
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn publish(
        &self,
        id: u32,
        topic: String,
        payload: Either<String, &[u8]>,
        qos: u32,
        retain: bool,
        properties: Option<NativePublishProperties>,
        timeout: Option<f64>,
    ) -> napi::Result<(), &'static str> {
        let has_alias = properties.as_ref().is_some_and(|p| p.topic_alias.is_some());
        if !(topic.is_empty() && has_alias) {
            mqttkit::protocol::validate_topic_name(&topic)
                .map_err(|error| errors::invalid_argument(format!("topic {topic:?}: {error}")))?;
        }
        let options = options::publish_options(qos, retain, properties, timeout).map_err(to_napi)?;
        let payload = bytes_of(payload);
        if id == 0 {
            self.queue(0, Op::PublishNowait(topic, payload, options))
        } else {
            self.queue(id, Op::Publish(topic, payload, options))
        }
    }

    /// Publishes a batch of plain publications (no properties, default timeout) queued by
    /// `index.js` within one tick (see `publish-batch.js`): `records` holds `[id, flags,
    /// payloadLength]` per publication (id 0: fire-and-forget; flags = qos | retain << 2 |
    /// `NEW_TOPIC`), `topics` the topics joined by NUL (which a topic name cannot contain),
    /// the next one taken by each record flagged `NEW_TOPIC`, and `payloads` the payloads
    /// back to back. One crossing for the whole batch; the order of the batch is the order
    /// of the calls.
    #[napi]
    pub fn publish_batch(
        &self,
        records: &[u32],
        topics: String,
        payloads: Option<&[u8]>,
    ) -> napi::Result<(), &'static str> {
        let payloads = Bytes::copy_from_slice(payloads.unwrap_or_default());
        let mut topics = topics.split('\0');
        // The topic of the records since the last `NEW_TOPIC`, checked: shared by them.
        let mut topic: Result<ByteString, String> = Err("no topic".to_owned());
        let mut publishes = Vec::with_capacity(records.len() / 3);
        let mut offset = 0usize;
        for record in records.chunks_exact(3) {
            let (id, flags, length) = (record[0], record[1], record[2] as usize);
            if flags & NEW_TOPIC != 0 {
                let text = topics.next().unwrap_or_default();
                topic = mqttkit::protocol::validate_topic_name(text)
                    .map(|()| ByteString::from(text))
                    .map_err(|error| format!("topic {text:?}: {error}"));
            }
            let payload = payloads.slice(offset.min(payloads.len())..(offset + length).min(payloads.len()));
            offset += length;
            let checked = topic
                .clone()
                .map_err(Error::InvalidArgument)
                .and_then(|topic| options::qos(Some(flags & 3)).map(|qos| (topic, qos)));
            match checked {
                Ok((topic, qos)) => {
                    publishes.push(PlainPublish { id, topic, payload, qos, retain: flags & 4 != 0 })
                }
                Err(error) if id == 0 => self.inbox.push(Item::Event(Event::Error(error), 0)),
                Err(error) => self.inbox.push(Item::Done(id, Err(error))),
            }
        }
        if publishes.is_empty() {
            return Ok(());
        }
        self.ops.send(Request::Batch(publishes)).map_err(|_| to_napi(Error::ChannelClosed))
    }

    /// Subscribes; request `id` completes on SUBACK (id 0: fire-and-forget).
    #[napi]
    pub fn subscribe(
        &self,
        id: u32,
        subscriptions: Vec<NativeSubscription>,
        subscription_identifier: Option<u32>,
        user_properties: Option<Vec<String>>,
        timeout: Option<f64>,
    ) -> napi::Result<(), &'static str> {
        let subscriptions = subscriptions
            .into_iter()
            .map(options::subscription)
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_napi)?;
        if subscriptions.is_empty() {
            return Err(errors::invalid_argument("subscribe needs at least one topic filter"));
        }
        for subscription in &subscriptions {
            mqttkit::protocol::validate_topic_filter(&subscription.filter).map_err(|error| {
                errors::invalid_argument(format!("topic filter {:?}: {error}", &*subscription.filter))
            })?;
        }
        let mut options = SubscribeOptions::default();
        options.subscription_identifier = subscription_identifier;
        options.user_properties = options::user_properties(user_properties);
        options.timeout = options::option_timeout(timeout).map_err(to_napi)?;
        if id == 0 {
            self.queue(0, Op::SubscribeNowait(subscriptions, options))
        } else {
            self.queue(id, Op::Subscribe(subscriptions, options))
        }
    }

    /// Unsubscribes; request `id` completes on UNSUBACK (id 0: fire-and-forget).
    #[napi]
    pub fn unsubscribe(
        &self,
        id: u32,
        filters: Vec<String>,
        user_properties: Option<Vec<String>>,
        timeout: Option<f64>,
    ) -> napi::Result<(), &'static str> {
        if filters.is_empty() {
            return Err(errors::invalid_argument("unsubscribe needs at least one topic filter"));
        }
        let mut options = UnsubscribeOptions::default();
        options.user_properties = options::user_properties(user_properties);
        options.timeout = options::option_timeout(timeout).map_err(to_napi)?;
        if id == 0 {
            return self.queue(0, Op::UnsubscribeNowait(filters, options));
        }
        self.queue(id, Op::Unsubscribe(filters, options))
    }

    /// PINGREQ; request `id` completes on PINGRESP (id 0: fire-and-forget).
    #[napi]
    pub fn ping(&self, id: u32, timeout: Option<f64>) -> napi::Result<(), &'static str> {
        if id == 0 {
            return self.queue(0, Op::PingNowait);
        }
        let timeout = options::explicit_timeout(timeout, self.timeouts().ping).map_err(to_napi)?;
        self.queue(id, Op::Ping(timeout))
    }

    /// AUTH Continue authentication; request `id` completes with the server's answer (id
    /// 0: fire-and-forget, the answer is an `auth` event). `timeout` in ms overrides the
    /// auth timeout (`Infinity`: no limit).
    #[napi]
    pub fn auth_continue(
        &self,
        id: u32,
        method: String,
        data: Option<&[u8]>,
        timeout: Option<f64>,
    ) -> napi::Result<(), &'static str> {
        let data = data.map(Bytes::copy_from_slice);
        if id == 0 {
            return self.queue(0, Op::AuthContinueNowait(method, data));
        }
        let timeout = options::explicit_timeout(timeout, self.timeouts().auth).map_err(to_napi)?;
        self.queue(id, Op::AuthContinue(method, data, timeout))
    }

    /// AUTH Re-authenticate; request `id` completes with the server's first answer (id 0:
    /// fire-and-forget, answers are `auth` events). Without `method`, the configured
    /// authenticator (`scram`) runs the whole exchange. `timeout` as for `auth_continue`.
    #[napi]
    pub fn re_authenticate(
        &self,
        id: u32,
        method: Option<String>,
        data: Option<&[u8]>,
        timeout: Option<f64>,
    ) -> napi::Result<(), &'static str> {
        let data = data.map(Bytes::copy_from_slice);
        let timeout = options::explicit_timeout(timeout, self.timeouts().auth).map_err(to_napi)?;
        let op = match (method, id) {
            (Some(method), 0) => Op::ReAuthenticateNowait(method, data),
            (Some(method), _) => Op::ReAuthenticate(method, data, timeout),
            (None, 0) => Op::ReAuthenticateAutoNowait,
            (None, _) => Op::ReAuthenticateAuto(timeout),
        };
        self.queue(id, op)
    }

    /// DISCONNECT; request `id` completes once the connection is closed (id 0:
    /// fire-and-forget, Normal disconnection). `timeout` in ms overrides the auth timeout
    /// that bounds it (`Infinity`: no limit).
    #[napi]
    pub fn disconnect(
        &self,
        id: u32,
        reason_code: Option<u32>,
        session_expiry_interval: Option<u32>,
        reason_string: Option<String>,
        user_properties: Option<Vec<String>>,
        timeout: Option<f64>,
    ) -> napi::Result<(), &'static str> {
        if id == 0 {
            return self.queue(0, Op::DisconnectNowait);
        }
        let code = reason_code.unwrap_or(0);
        let reason = u8::try_from(code)
            .ok()
            .and_then(ReasonCode::from_u8)
            .ok_or_else(|| errors::invalid_argument(format!("unknown reason code {code}")))?;
        let properties = DisconnectProperties {
            session_expiry_interval,
            reason_string: reason_string.map(Into::into),
            user_properties: options::user_properties(user_properties),
            server_reference: None,
        };
        let timeout = options::explicit_timeout(timeout, self.timeouts().auth).map_err(to_napi)?;
        self.queue(id, Op::Disconnect(reason, properties, timeout))
    }

    /// Shuts the client down for good; completes request `id`, then a final "closed" item
    /// releases the threadsafe function.
    #[napi]
    pub fn shutdown(&self, id: u32) -> napi::Result<(), &'static str> {
        self.queue(id, Op::Shutdown)
    }

    /// Ends the processing of the drained batches: their events are consumed, except the
    /// `held` messages that now wait in `messages()` queues (given back by `release`). So
    /// the socket is read only while fewer than `EVENT_HIGH_WATER` events are unconsumed,
    /// whether they wait here or in JS: backpressure instead of unbounded growth.
    #[napi]
    pub fn settle(&self, held: u32) {
        self.inbox.settle(held as usize);
    }

    /// Gives back `count` messages held in a `messages()` queue once they were taken.
    #[napi]
    pub fn release(&self, count: u32) {
        self.inbox.consumed(count as usize);
    }

    /// Acknowledges a received message (manual ack); `token` from the message.
    #[napi]
    pub fn ack(&self, token: u32) -> napi::Result<(), &'static str> {
        match self.inbox.take_ack(token) {
            Some(message) => message.ack().map_err(to_napi),
            None => Ok(()),
        }
    }

    /// Whether a connection is established right now.
    #[napi(getter)]
    pub fn connected(&self) -> bool {
        self.client.is_connected()
    }

    /// QoS 0 messages dropped from the offline buffer.
    #[napi(getter)]
    pub fn dropped_messages(&self) -> f64 {
        self.client.dropped_messages() as f64
    }
}
