//! The blocking client, for code that does not run an async runtime: every operation of
//! [`crate::client::Client`] as a plain blocking call, and callbacks on a background thread.
//!
//! ```no_run
//! use mqttkit::blocking::{Client, EventHandler};
//! use mqttkit::client::{ClientOptions, Message};
//! use mqttkit::protocol::QoS;
//!
//! struct Printer;
//! impl EventHandler for Printer {
//!     fn on_message(&mut self, message: Message) {
//!         println!("{}: {:?}", message.topic, message.payload);
//!     }
//! }
//!
//! # fn main() -> mqttkit::Result<()> {
//! let options = ClientOptions::builder("mqtt://127.0.0.1:1883").client_id("script").build()?;
//! let client = Client::with_handler(options, Printer)?;
//! client.connect()?;
//! client.subscribe("alerts/#", QoS::AtLeastOnce)?;
//! client.publish("alerts/door", "open", QoS::AtLeastOnce)?;
//! client.shutdown()?;
//! # Ok(()) }
//! ```
//!
//! Callbacks run on one background thread per client, in order. Every client call may be
//! made from inside a callback. A wait-for-acknowledgement call made there while the
//! client's event queue is full waits until its timeout (the queue only drains through the
//! callback thread itself); fire-and-forget calls never wait on it.

use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::mpsc;

use crate::client::{
    self, AuthResult, ClientOptions, ConnectResult, DisconnectInfo, Message, PingResult, PublishOptions,
    PublishResult, SubscribeOptions, SubscribeResult, UnsubscribeOptions, UnsubscribeResult,
};
use crate::dispatch::{Event, EventSink};
use crate::error::{Error, Result};
use crate::protocol::{DisconnectProperties, QoS, ReasonCode, Subscription};
use crate::runtime::RuntimeUser;

/// Defines blocking forms of async client operations: each runs the async operation of the
/// same name on the shared runtime and waits for it.
macro_rules! blocking_forms {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty; )+) => {
        $(
            $(#[$doc])*
            ///
            /// # Errors
            /// As the async form.
            pub fn $name(&self, $($arg: $ty),*) -> Result<$out> {
                self.wait(self.inner.$name($($arg),*))
            }
        )+
    };
}

/// Callbacks of the blocking client, run on its background thread. Every method has a
/// do-nothing default.
pub trait EventHandler: Send + 'static {
    /// A connection was established.
    fn on_connected(&mut self, result: ConnectResult) {
        let _ = result;
    }
    /// The connection ended at the application's or the server's request.
    fn on_disconnected(&mut self, info: DisconnectInfo) {
        let _ = info;
    }
    /// A message arrived.
    fn on_message(&mut self, message: Message) {
        let _ = message;
    }
    /// A fire-and-forget publish was acknowledged.
    fn on_published(&mut self, result: PublishResult) {
        let _ = result;
    }
    /// A fire-and-forget subscribe was acknowledged.
    fn on_subscribed(&mut self, result: SubscribeResult) {
        let _ = result;
    }
    /// A fire-and-forget unsubscribe was acknowledged.
    fn on_unsubscribed(&mut self, result: UnsubscribeResult) {
        let _ = result;
    }
    /// A fire-and-forget ping was answered.
    fn on_ping_response(&mut self, result: PingResult) {
        let _ = result;
    }
    /// Something failed that no caller is waiting for.
    fn on_error(&mut self, error: Error) {
        let _ = error;
    }
    /// The connection was lost.
    fn on_connection_lost(&mut self, error: Error) {
        let _ = error;
    }
    /// A reconnect attempt is about to start.
    fn on_reconnect_attempt(&mut self, attempt: u32, delay: Duration) {
        let _ = (attempt, delay);
    }
    /// Operations were failed because the server had lost the session.
    fn on_pending_operations_cleared(&mut self, count: usize) {
        let _ = count;
    }
    /// The server sent AUTH.
    fn on_auth_received(&mut self, result: AuthResult) {
        let _ = result;
    }
    /// The TLS peer certificate of a new connection (DER).
    fn on_peer_certificate(&mut self, certificate: Vec<u8>) {
        let _ = certificate;
    }
}

fn dispatch<H: EventHandler>(handler: &mut H, event: Event) {
    match event {
        Event::Connected(result) => handler.on_connected(result),
        Event::Disconnected(info) => handler.on_disconnected(info),
        Event::Message(message) => handler.on_message(message),
        Event::Published(result) => handler.on_published(result),
        Event::Subscribed(result) => handler.on_subscribed(result),
        Event::Unsubscribed(result) => handler.on_unsubscribed(result),
        Event::PingResponse(result) => handler.on_ping_response(result),
        Event::Error(error) => handler.on_error(error),
        Event::ConnectionLost(error) => handler.on_connection_lost(error),
        Event::ReconnectAttempt { attempt, delay } => handler.on_reconnect_attempt(attempt, delay),
        Event::PendingOperationsCleared { count } => handler.on_pending_operations_cleared(count),
        Event::AuthReceived(result) => handler.on_auth_received(result),
        Event::PeerCertificateReceived(certificate) => handler.on_peer_certificate(certificate),
    }
}

/// Hands batches to the callback thread through a small bounded channel.
struct ThreadSink(mpsc::Sender<Vec<Event>>);

impl EventSink for ThreadSink {
    async fn deliver(&mut self, events: Vec<Event>) {
        // The callback thread is gone only after shutdown: nobody is left to tell.
        let _ = self.0.send(events).await;
    }
}

/// Events of a client made with [`Client::with_events`], taken by blocking calls.
#[derive(Debug)]
pub struct Events {
    receiver: mpsc::Receiver<Vec<Event>>,
    current: std::vec::IntoIter<Event>,
    runtime: RuntimeUser,
}

impl Events {
    /// The next event, waiting at most `timeout`; `None` on timeout or after shutdown.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Event> {
        if let Some(event) = self.current.next() {
            return Some(event);
        }
        let receiver = &mut self.receiver;
        let batch = self
            .runtime
            .try_block_on(async { tokio::time::timeout(timeout, receiver.recv()).await.ok().flatten() })??;
        self.current = batch.into_iter();
        self.current.next()
    }
}

impl Iterator for Events {
    type Item = Event;

    /// Blocks until the next event; `None` after shutdown, and (instead of blocking where it
    /// must not) when called from inside an async runtime or in a `fork()`ed child.
    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.current.next() {
                return Some(event);
            }
            let receiver = &mut self.receiver;
            self.current = self.runtime.try_block_on(receiver.recv())??.into_iter();
        }
    }
}

/// A blocking MQTT client: the async [`client::Client`] driven from plain threads.
/// Cloneable; all clones drive the same connection.
#[derive(Debug, Clone)]
pub struct Client {
    inner: client::Client,
    runtime: RuntimeUser,
    callbacks: Option<std::sync::Arc<std::sync::Mutex<Option<JoinHandle<()>>>>>,
}

impl Client {
    /// A client whose events go to `handler` on a background thread.
    ///
    /// # Errors
    /// When the runtime or the callback thread cannot be started.
    pub fn with_handler<H: EventHandler>(options: ClientOptions, mut handler: H) -> Result<Client> {
        let runtime =
            RuntimeUser::acquire().map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
        let (sender, mut receiver) = mpsc::channel::<Vec<Event>>(8);
        let thread = std::thread::Builder::new()
            .name("mqttkit-callbacks".into())
            .spawn(move || {
                while let Some(batch) = receiver.blocking_recv() {
                    for event in batch {
                        dispatch(&mut handler, event);
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the callback thread: {e}")))?;
        let inner = {
            let _entered = runtime.handle().enter();
            client::Client::new(options, ThreadSink(sender))?
        };
        Ok(Client {
            inner,
            runtime,
            callbacks: Some(std::sync::Arc::new(std::sync::Mutex::new(Some(thread)))),
        })
    }

    /// A client and an iterator over its events.
    ///
    /// # Errors
    /// When the runtime cannot be started.
    pub fn with_events(options: ClientOptions) -> Result<(Client, Events)> {
        let runtime =
            RuntimeUser::acquire().map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
        let (sender, receiver) = mpsc::channel::<Vec<Event>>(8);
        let inner = {
            let _entered = runtime.handle().enter();
            client::Client::new(options, ThreadSink(sender))?
        };
        let events = Events { receiver, current: Vec::new().into_iter(), runtime: runtime.clone() };
        Ok((Client { inner, runtime, callbacks: None }, events))
    }

    /// The async client underneath, to mix both styles.
    pub fn as_async(&self) -> &client::Client {
        &self.inner
    }

    fn wait<T>(&self, operation: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.runtime.try_block_on(operation).unwrap_or_else(|| {
            Err(Error::InvalidArgument(if self.runtime.is_from_this_process() {
                "blocking::Client called from inside an async runtime; use mqttkit::client::Client there"
                    .into()
            } else {
                "blocking::Client created before fork(): create a new client in the child process".into()
            }))
        })
    }

    /// Whether a connection is established.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    blocking_forms! {
        /// Connects and waits for CONNACK. See [`client::Client::connect`].
        fn connect() -> ConnectResult;
        /// Connects with another timeout (`None`: as long as it takes).
        fn connect_with_timeout(timeout: Option<Duration>) -> ConnectResult;
        /// Starts connecting; the result is an event.
        fn connect_nowait() -> ();
        /// Publishes and waits for the acknowledgement.
        fn publish(topic: impl Into<ByteString>, payload: impl Into<Bytes>, qos: QoS) -> PublishResult;
        /// Publishes with every option and waits for the acknowledgement.
        fn publish_with(topic: impl Into<ByteString>, payload: impl Into<Bytes>, options: PublishOptions)
            -> PublishResult;
        /// Queues a publication; the acknowledgement is an event.
        fn publish_nowait(topic: impl Into<ByteString>, payload: impl Into<Bytes>, qos: QoS) -> ();
        /// Queues a publication with every option.
        fn publish_with_nowait(
            topic: impl Into<ByteString>,
            payload: impl Into<Bytes>,
            options: PublishOptions
        ) -> ();
        /// Subscribes and waits for SUBACK.
        fn subscribe(filter: impl Into<String>, qos: QoS) -> SubscribeResult;
        /// Subscribes to several filters and waits for SUBACK.
        fn subscribe_with(subscriptions: Vec<Subscription>, options: SubscribeOptions) -> SubscribeResult;
        /// Queues a subscription; the SUBACK is an event.
        fn subscribe_nowait(filter: impl Into<String>, qos: QoS) -> ();
        /// Queues a subscription to several filters; the SUBACK is an event.
        fn subscribe_with_nowait(subscriptions: Vec<Subscription>, options: SubscribeOptions) -> ();
        /// Unsubscribes and waits for UNSUBACK.
        fn unsubscribe(filter: impl Into<String>) -> UnsubscribeResult;
        /// Unsubscribes from several filters and waits for UNSUBACK.
        fn unsubscribe_with(filters: Vec<String>, options: UnsubscribeOptions) -> UnsubscribeResult;
        /// Queues an unsubscription; the UNSUBACK is an event.
        fn unsubscribe_nowait(filter: impl Into<String>) -> ();
        /// Queues an unsubscription from several filters; the UNSUBACK is an event.
        fn unsubscribe_with_nowait(filters: Vec<String>, options: UnsubscribeOptions) -> ();
        /// Pings and waits for PINGRESP.
        fn ping() -> PingResult;
        /// Pings with another timeout (`None`: as long as it takes).
        fn ping_with_timeout(timeout: Option<Duration>) -> PingResult;
        /// Sends PINGREQ; the PINGRESP is an event.
        fn ping_nowait() -> ();
        /// Continues enhanced authentication.
        fn auth_continue(method: impl Into<String>, data: Option<Bytes>) -> AuthResult;
        /// Continues enhanced authentication with another timeout (`None`: as long as it takes).
        fn auth_continue_with_timeout(method: impl Into<String>, data: Option<Bytes>, timeout: Option<Duration>)
            -> AuthResult;
        /// Sends AUTH Continue; the server's answer is an event.
        fn auth_continue_nowait(method: impl Into<String>, data: Option<Bytes>) -> ();
        /// Re-authenticates with the configured authenticator.
        fn re_authenticate() -> AuthResult;
        /// Re-authenticates with another timeout (`None`: as long as it takes).
        fn re_authenticate_with_timeout(timeout: Option<Duration>) -> AuthResult;
        /// Starts re-authenticating with the configured authenticator; the outcome is an event.
        fn re_authenticate_nowait() -> ();
        /// Starts re-authentication by hand.
        fn re_authenticate_with(method: impl Into<String>, data: Option<Bytes>) -> AuthResult;
        /// Starts re-authentication by hand; the server's answers are events.
        fn re_authenticate_with_nowait(method: impl Into<String>, data: Option<Bytes>) -> ();
        /// Disconnects normally and waits until the connection is closed.
        fn disconnect() -> ();
        /// Disconnects with a reason code and properties.
        fn disconnect_with(reason_code: ReasonCode, properties: DisconnectProperties) -> ();
        /// Disconnects with a reason code, properties and another timeout (`None`: as long as
        /// it takes).
        fn disconnect_with_timeout(
            reason_code: ReasonCode,
            properties: DisconnectProperties,
            timeout: Option<Duration>
        ) -> ();
        /// Starts disconnecting; a `Disconnected` event follows.
        fn disconnect_nowait() -> ();
        /// Starts disconnecting with a reason code and properties; a `Disconnected` event follows.
        fn disconnect_with_nowait(reason_code: ReasonCode, properties: DisconnectProperties) -> ();
    }

    /// Disconnects, stops the connection task and, unless called from a callback, waits
    /// until every callback has run and the callback thread has ended.
    ///
    /// # Errors
    /// As the async form.
    pub fn shutdown(&self) -> Result<()> {
        let result = self.wait(self.inner.shutdown());
        if let Some(slot) = &self.callbacks {
            let thread = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(thread) = thread {
                if thread.thread().id() == std::thread::current().id() {
                    // Called from a callback: the thread ends by itself after it returns.
                } else {
                    let _ = thread.join();
                }
            }
        }
        match result {
            Err(Error::ChannelClosed) | Ok(()) => Ok(()),
            Err(other) => Err(other),
        }
    }
}
