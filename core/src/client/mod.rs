//! The async MQTT client.
//!
//! A [`Client`] is a cheap, cloneable handle (`Send + Sync`) to one connection task that
//! owns the socket and all session state. Every operation exists in two forms:
//! wait-for-acknowledgement (`publish`, `subscribe`, ... resolve with the server's answer or
//! [`Error::Timeout`](crate::Error::Timeout)), and fire-and-forget (`publish_nowait`, ...:
//! return once the connection task has the request; the result arrives as an
//! [`Event`](crate::dispatch::Event)).
//!
//! ```no_run
//! use mqttkit::client::{Client, ClientOptions};
//! use mqttkit::protocol::QoS;
//!
//! # async fn demo() -> mqttkit::Result<()> {
//! let options = ClientOptions::builder("mqtt://127.0.0.1:1883").client_id("sensor-1").build()?;
//! let (client, mut events) = Client::with_events(options)?;
//! client.connect().await?;
//! client.subscribe("sensors/+/temp", QoS::AtLeastOnce).await?;
//! client.publish("sensors/kitchen/temp", "21.5", QoS::AtLeastOnce).await?;
//! while let Some(message) = events.next_message().await {
//!     println!("{}: {:?}", message.topic, message.payload);
//! #   break;
//! }
//! client.disconnect().await?;
//! # Ok(()) }
//! ```

mod auth;
mod call_options;
mod command;
mod connection;
mod options;
mod pending;
mod results;
mod session;
mod url;
mod worker;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::{mpsc, oneshot};

pub use auth::{AuthExchange, Authenticator, ScramSha256};
pub use call_options::{NO_TIMEOUT, PublishOptions, SubscribeOptions, UnsubscribeOptions};
pub use options::{ClientOptions, ClientOptionsBuilder, OfflineBuffer, ReconnectPolicy, Timeouts};
pub use pending::Pending;
pub use results::{
    AuthResult, ConnectResult, DisconnectInfo, Message, PingResult, PublishResult, SubscribeResult,
    UnsubscribeResult,
};
pub use url::{BrokerUrl, Scheme};

use command::Command;
use pending::{Deadline, within};
use worker::{Outbox, Shared, Worker};

use crate::dispatch::{EventHandler, EventSink, EventStream, HandlerSink, spawn_dispatcher, stream_sink};
use crate::error::{Error, Operation, Result};
use crate::protocol::{
    Auth, Disconnect, DisconnectProperties, Publish, QoS, ReasonCode, Subscribe, SubscribeProperties,
    Subscription, Unsubscribe, UnsubscribeProperties, topic,
};

/// A handle to an MQTT client. Clone it freely; all clones drive the same connection.
/// When the last clone is dropped, the connection task disconnects and ends.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    options: Arc<ClientOptions>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.options.url.to_string())
            .field("client_id", &self.inner.options.client_id)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Client {
    /// Creates a client whose events go to `sink`. Nothing connects until
    /// [`connect`](Client::connect).
    ///
    /// # Errors
    /// [`Error::Internal`] when called outside a Tokio runtime.
    pub fn new<S: EventSink>(options: ClientOptions, sink: S) -> Result<Client> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Internal("Client::new must be called inside a Tokio runtime".into()));
        }
        let options = Arc::new(options);
        let (commands, receiver) = mpsc::channel(options.command_queue_size);
        let (ack_sender, acks) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            options: options.clone(),
            commands: receiver,
            acks,
            ack_sender,
            events: Outbox::new(spawn_dispatcher(sink)),
            session: Default::default(),
            offline: VecDeque::new(),
            replay: VecDeque::new(),
            shared: shared.clone(),
            connection_id: 0,
            first_connect_done: false,
            assigned_client_id: None,
        };
        tokio::spawn(worker.run());
        Ok(Client { inner: Arc::new(Inner { commands, options, shared }) })
    }

    /// Creates a client whose events go to `handler`'s callbacks.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn with_handler<H: EventHandler>(options: ClientOptions, handler: H) -> Result<Client> {
        Client::new(options, HandlerSink(handler))
    }

    /// Creates a client and the stream of its events.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn with_events(options: ClientOptions) -> Result<(Client, EventStream)> {
        let (sink, stream) = stream_sink();
        Ok((Client::new(options, sink)?, stream))
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Whether a connection is established right now.
    pub fn is_connected(&self) -> bool {
        self.inner.shared.connected.load(Ordering::Acquire)
    }

    /// QoS 0 messages dropped from the offline buffer to make room (see
    /// [`OfflineBuffer`]).
    pub fn dropped_messages(&self) -> u64 {
        self.inner.shared.dropped_messages.load(Ordering::Relaxed)
    }

    async fn send(&self, command: Command) -> Result<()> {
        self.inner.commands.send(command).await.map_err(|_| Error::ChannelClosed)
    }

    /// Sends `make(reply)` and waits for its result, at most `timeout` from now (handing
    /// the command over included).
    async fn request<T>(
        &self,
        operation: Operation,
        timeout: Option<Duration>,
        make: impl FnOnce(command::Reply<T>) -> Command,
    ) -> Result<T> {
        let deadline = Deadline::after(timeout);
        let (sender, receiver) = oneshot::channel();
        within(deadline, operation, async {
            self.send(make(Some(sender))).await?;
            receiver.await.unwrap_or(Err(Error::ChannelClosed))
        })
        .await
    }

    /// Fails at once where re-authentication by the configured authenticator cannot work.
    fn check_authenticator(&self) -> Result<()> {
        match self.inner.options.authenticator {
            Some(_) => Ok(()),
            None => Err(connection::no_authenticator()),
        }
    }

    fn timeouts(&self) -> &Timeouts {
        &self.inner.options.timeouts
    }

    /// Connects and waits for CONNACK (default timeout 30 s). A refused connection is
    /// [`Error::ConnectionRefused`]; it is not retried. Once connected, lost connections
    /// are re-established according to the reconnect policy.
    ///
    /// # Errors
    /// Timeout, network failure, refusal, or [`Error::AlreadyConnected`].
    pub async fn connect(&self) -> Result<ConnectResult> {
        self.connect_with_timeout(self.timeouts().connect).await
    }

    /// [`connect`](Client::connect) with another timeout (`None`: wait as long as it takes).
    ///
    /// # Errors
    /// As [`connect`](Client::connect).
    pub async fn connect_with_timeout(&self, timeout: Option<Duration>) -> Result<ConnectResult> {
        self.request(Operation::Connect, timeout, Command::Connect).await
    }

    /// Starts connecting and returns; the result is a `Connected` or `Error` event. Failed
    /// attempts are retried according to the reconnect policy.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn connect_nowait(&self) -> Result<()> {
        self.send(Command::Connect(None)).await
    }

    /// Builds and validates a PUBLISH here, on the caller's task, so that the connection
    /// task can encode it without checking it again.
    fn publish_packet(topic: ByteString, payload: Bytes, options: PublishOptions) -> Result<Publish> {
        let publish = Publish {
            dup: false,
            qos: options.qos,
            retain: options.retain,
            topic,
            packet_id: 0,
            properties: options.properties,
            payload,
        };
        publish
            .validate()
            .map_err(|error| Error::InvalidArgument(format!("publish to {:?}: {error}", &*publish.topic)))?;
        Ok(publish)
    }

    /// Publishes and waits for the acknowledgement: PUBACK for QoS 1, PUBCOMP for QoS 2,
    /// and for QoS 0 until the message is handed to the connection.
    ///
    /// While the client reconnects, the message waits in the offline buffer.
    ///
    /// # Errors
    /// [`Error::PublishFailed`] with the server's reason code, timeout, invalid topic,
    /// buffer full, not connected (no buffering).
    pub async fn publish(
        &self,
        topic: impl Into<ByteString>,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> Result<PublishResult> {
        self.publish_with(topic, payload, PublishOptions::qos(qos)).await
    }

    /// [`publish`](Client::publish) with every option.
    ///
    /// # Errors
    /// As [`publish`](Client::publish).
    pub async fn publish_with(
        &self,
        topic: impl Into<ByteString>,
        payload: impl Into<Bytes>,
        options: PublishOptions,
    ) -> Result<PublishResult> {
        let timeout = options.timeout.or(self.timeouts().publish);
        let publish = Self::publish_packet(topic.into(), payload.into(), options)?;
        self.request(Operation::Publish, timeout, |reply| Command::Publish(publish, reply)).await
    }

    /// Queues a publication and returns; QoS 1/2 acknowledgements arrive as `Published`
    /// events, failures as `Error` events. Waits only while the command queue is full.
    ///
    /// # Errors
    /// An invalid topic; [`Error::ChannelClosed`] after shutdown.
    pub async fn publish_nowait(
        &self,
        topic: impl Into<ByteString>,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> Result<()> {
        self.publish_with_nowait(topic, payload, PublishOptions::qos(qos)).await
    }

    /// [`publish_nowait`](Client::publish_nowait) with every option.
    ///
    /// # Errors
    /// As [`publish_nowait`](Client::publish_nowait).
    pub async fn publish_with_nowait(
        &self,
        topic: impl Into<ByteString>,
        payload: impl Into<Bytes>,
        options: PublishOptions,
    ) -> Result<()> {
        let publish = Self::publish_packet(topic.into(), payload.into(), options)?;
        self.send(Command::Publish(publish, None)).await
    }

    fn subscribe_packet(subscriptions: Vec<Subscription>, options: &SubscribeOptions) -> Result<Subscribe> {
        if subscriptions.is_empty() {
            return Err(Error::InvalidArgument("subscribe needs at least one topic filter".into()));
        }
        for subscription in &subscriptions {
            topic::validate_topic_filter(&subscription.filter).map_err(|error| {
                Error::InvalidArgument(format!("topic filter {:?}: {error}", &*subscription.filter))
            })?;
            if subscription.options.no_local && subscription.filter.starts_with(topic::SHARED_PREFIX) {
                return Err(Error::InvalidArgument(format!(
                    "No Local cannot be set on shared subscription {:?} (MQTT-3.8.3-4)",
                    &*subscription.filter
                )));
            }
        }
        if options.subscription_identifier.is_some_and(|id| id == 0 || id > crate::protocol::MAX_VAR_INT) {
            return Err(Error::InvalidArgument(
                "subscription identifier must be within 1..=268435455".into(),
            ));
        }
        let mut subscribe = Subscribe::new(0, subscriptions);
        subscribe.properties = SubscribeProperties {
            subscription_identifier: options.subscription_identifier,
            user_properties: options.user_properties.clone(),
        };
        Ok(subscribe)
    }

    /// Subscribes to one filter and waits for SUBACK.
    ///
    /// # Errors
    /// [`Error::SubscribeFailed`] when the server refuses, timeout, invalid filter.
    pub async fn subscribe(&self, filter: impl Into<String>, qos: QoS) -> Result<SubscribeResult> {
        let subscription = Subscription::new(ByteString::from(filter.into()), qos);
        self.subscribe_with(vec![subscription], SubscribeOptions::default()).await
    }

    /// Subscribes to several filters, each with its own
    /// [`SubscriptionOptions`](crate::protocol::SubscriptionOptions), and waits
    /// for SUBACK. Fails with [`Error::SubscribeFailed`] (carrying every reason code) if the
    /// server refused any of them.
    ///
    /// # Errors
    /// As [`subscribe`](Client::subscribe).
    pub async fn subscribe_with(
        &self,
        subscriptions: Vec<Subscription>,
        options: SubscribeOptions,
    ) -> Result<SubscribeResult> {
        let subscribe = Self::subscribe_packet(subscriptions, &options)?;
        let timeout = options.timeout.or(self.timeouts().subscribe);
        self.request(Operation::Subscribe, timeout, |reply| Command::Subscribe(subscribe, reply)).await
    }

    /// Queues a subscription and returns; the SUBACK arrives as a `Subscribed` event.
    ///
    /// # Errors
    /// An invalid filter; [`Error::ChannelClosed`] after shutdown.
    pub async fn subscribe_nowait(&self, filter: impl Into<String>, qos: QoS) -> Result<()> {
        let subscription = Subscription::new(ByteString::from(filter.into()), qos);
        self.subscribe_with_nowait(vec![subscription], SubscribeOptions::default()).await
    }

    /// [`subscribe_with`](Client::subscribe_with), fire-and-forget.
    ///
    /// # Errors
    /// As [`subscribe_nowait`](Client::subscribe_nowait).
    pub async fn subscribe_with_nowait(
        &self,
        subscriptions: Vec<Subscription>,
        options: SubscribeOptions,
    ) -> Result<()> {
        let subscribe = Self::subscribe_packet(subscriptions, &options)?;
        self.send(Command::Subscribe(subscribe, None)).await
    }

    fn unsubscribe_packet(filters: Vec<String>, options: &UnsubscribeOptions) -> Result<Unsubscribe> {
        if filters.is_empty() {
            return Err(Error::InvalidArgument("unsubscribe needs at least one topic filter".into()));
        }
        let mut unsubscribe = Unsubscribe::new(0, filters.into_iter().map(ByteString::from).collect());
        unsubscribe.properties = UnsubscribeProperties { user_properties: options.user_properties.clone() };
        Ok(unsubscribe)
    }

    /// Unsubscribes from one filter and waits for UNSUBACK.
    ///
    /// # Errors
    /// [`Error::UnsubscribeFailed`], timeout, invalid filter.
    pub async fn unsubscribe(&self, filter: impl Into<String>) -> Result<UnsubscribeResult> {
        self.unsubscribe_with(vec![filter.into()], UnsubscribeOptions::default()).await
    }

    /// Unsubscribes from several filters and waits for UNSUBACK.
    ///
    /// # Errors
    /// As [`unsubscribe`](Client::unsubscribe).
    pub async fn unsubscribe_with(
        &self,
        filters: Vec<String>,
        options: UnsubscribeOptions,
    ) -> Result<UnsubscribeResult> {
        let unsubscribe = Self::unsubscribe_packet(filters, &options)?;
        let timeout = options.timeout.or(self.timeouts().unsubscribe);
        self.request(Operation::Unsubscribe, timeout, |reply| Command::Unsubscribe(unsubscribe, reply)).await
    }

    /// Queues an unsubscription; the UNSUBACK arrives as an `Unsubscribed` event.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn unsubscribe_nowait(&self, filter: impl Into<String>) -> Result<()> {
        let unsubscribe = Self::unsubscribe_packet(vec![filter.into()], &UnsubscribeOptions::default())?;
        self.send(Command::Unsubscribe(unsubscribe, None)).await
    }

    /// [`unsubscribe_with`](Client::unsubscribe_with), fire-and-forget.
    ///
    /// # Errors
    /// As [`unsubscribe_nowait`](Client::unsubscribe_nowait).
    pub async fn unsubscribe_with_nowait(
        &self,
        filters: Vec<String>,
        options: UnsubscribeOptions,
    ) -> Result<()> {
        let unsubscribe = Self::unsubscribe_packet(filters, &options)?;
        self.send(Command::Unsubscribe(unsubscribe, None)).await
    }

    /// Sends PINGREQ and waits for PINGRESP (default timeout 5 s).
    ///
    /// # Errors
    /// Timeout, [`Error::NotConnected`].
    pub async fn ping(&self) -> Result<PingResult> {
        self.ping_with_timeout(self.timeouts().ping).await
    }

    /// [`ping`](Client::ping) with another timeout.
    ///
    /// # Errors
    /// As [`ping`](Client::ping).
    pub async fn ping_with_timeout(&self, timeout: Option<Duration>) -> Result<PingResult> {
        self.request(Operation::Ping, timeout, Command::Ping).await
    }

    /// Sends PINGREQ; PINGRESP arrives as a `PingResponse` event.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn ping_nowait(&self) -> Result<()> {
        self.send(Command::Ping(None)).await
    }

    /// Sends AUTH with reason Continue authentication (0x18) and waits for the server's
    /// answer (MQTT 5 enhanced authentication).
    ///
    /// # Errors
    /// Timeout, [`Error::InvalidArgument`] on MQTT 3.1.1.
    pub async fn auth_continue(&self, method: impl Into<String>, data: Option<Bytes>) -> Result<AuthResult> {
        self.auth_continue_with_timeout(method, data, self.timeouts().auth).await
    }

    /// [`auth_continue`](Client::auth_continue) with another timeout (`None`: wait as long
    /// as it takes).
    ///
    /// # Errors
    /// As [`auth_continue`](Client::auth_continue).
    pub async fn auth_continue_with_timeout(
        &self,
        method: impl Into<String>,
        data: Option<Bytes>,
        timeout: Option<Duration>,
    ) -> Result<AuthResult> {
        let auth = Auth::new(ReasonCode::ContinueAuthentication, ByteString::from(method.into()), data);
        self.request(Operation::Auth, timeout, |reply| Command::Auth(auth, reply)).await
    }

    /// Re-authenticates with the configured [`Authenticator`], which answers every
    /// challenge, and waits for the server's AUTH Success.
    ///
    /// # Errors
    /// [`Error::AuthFailed`] when the exchange fails, [`Error::InvalidArgument`] without an
    /// authenticator, timeout.
    pub async fn re_authenticate(&self) -> Result<AuthResult> {
        self.re_authenticate_with_timeout(self.timeouts().auth).await
    }

    /// [`re_authenticate`](Client::re_authenticate) with another timeout (`None`: wait as
    /// long as it takes).
    ///
    /// # Errors
    /// As [`re_authenticate`](Client::re_authenticate).
    pub async fn re_authenticate_with_timeout(&self, timeout: Option<Duration>) -> Result<AuthResult> {
        self.check_authenticator()?;
        self.request(Operation::Auth, timeout, Command::ReAuthenticate).await
    }

    /// Starts a re-authentication by hand (AUTH with reason 0x19) and waits for the server's
    /// answer: an AUTH Success, or an AUTH Continue (also delivered as an `AuthReceived`
    /// event) to answer with [`auth_continue`](Client::auth_continue).
    ///
    /// # Errors
    /// As [`auth_continue`](Client::auth_continue).
    pub async fn re_authenticate_with(
        &self,
        method: impl Into<String>,
        data: Option<Bytes>,
    ) -> Result<AuthResult> {
        let auth = Auth::new(ReasonCode::ReAuthenticate, ByteString::from(method.into()), data);
        self.request(Operation::Auth, self.timeouts().auth, |reply| Command::Auth(auth, reply)).await
    }

    /// [`auth_continue`](Client::auth_continue), fire-and-forget: the server's answer is an
    /// `AuthReceived` event.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn auth_continue_nowait(&self, method: impl Into<String>, data: Option<Bytes>) -> Result<()> {
        let auth = Auth::new(ReasonCode::ContinueAuthentication, ByteString::from(method.into()), data);
        self.send(Command::Auth(auth, None)).await
    }

    /// [`re_authenticate`](Client::re_authenticate), fire-and-forget: the outcome is an
    /// `AuthReceived` event (success) or an `Error` event.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn re_authenticate_nowait(&self) -> Result<()> {
        self.check_authenticator()?;
        self.send(Command::ReAuthenticate(None)).await
    }

    /// [`re_authenticate_with`](Client::re_authenticate_with), fire-and-forget: the server's
    /// answers are `AuthReceived` events.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn re_authenticate_with_nowait(
        &self,
        method: impl Into<String>,
        data: Option<Bytes>,
    ) -> Result<()> {
        let auth = Auth::new(ReasonCode::ReAuthenticate, ByteString::from(method.into()), data);
        self.send(Command::Auth(auth, None)).await
    }

    /// Sends DISCONNECT (Normal disconnection), closes the connection and waits until it is
    /// closed. No will message is published and no reconnect follows. The client can
    /// [`connect`](Client::connect) again.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn disconnect(&self) -> Result<()> {
        self.disconnect_with(ReasonCode::Success, DisconnectProperties::default()).await
    }

    /// Disconnects with a reason code (e.g. 0x04, Disconnect with Will Message) and
    /// properties (e.g. a new Session Expiry Interval).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a reason code DISCONNECT cannot carry.
    pub async fn disconnect_with(
        &self,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
    ) -> Result<()> {
        self.disconnect_with_timeout(reason_code, properties, self.timeouts().auth).await
    }

    /// [`disconnect_with`](Client::disconnect_with) with its own timeout for the DISCONNECT
    /// to be written and the connection closed (`None`: as long as it takes).
    ///
    /// # Errors
    /// As [`disconnect_with`](Client::disconnect_with); [`Error::Timeout`].
    pub async fn disconnect_with_timeout(
        &self,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let disconnect = Self::disconnect_packet(reason_code, properties)?;
        self.request(Operation::Disconnect, timeout, |reply| Command::Disconnect(disconnect, reply)).await
    }

    fn disconnect_packet(reason_code: ReasonCode, properties: DisconnectProperties) -> Result<Disconnect> {
        if !reason_code.allowed_in(crate::protocol::PacketType::Disconnect) {
            return Err(Error::InvalidArgument(format!("{reason_code} is not a DISCONNECT reason code")));
        }
        Ok(Disconnect { reason_code, properties })
    }

    /// [`disconnect_with`](Client::disconnect_with), fire-and-forget: a `Disconnected` event
    /// follows.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a reason code DISCONNECT cannot carry.
    pub async fn disconnect_with_nowait(
        &self,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
    ) -> Result<()> {
        let disconnect = Self::disconnect_packet(reason_code, properties)?;
        self.send(Command::Disconnect(disconnect, None)).await
    }

    /// Starts disconnecting and returns; a `Disconnected` event follows.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn disconnect_nowait(&self) -> Result<()> {
        self.send(Command::Disconnect(Disconnect::new(ReasonCode::Success), None)).await
    }

    /// Disconnects if connected and stops the connection task for good: every operation
    /// after this fails with [`Error::ChannelClosed`], pending ones too.
    ///
    /// # Errors
    /// None in practice; [`Error::ChannelClosed`] if it was already shut down.
    pub async fn shutdown(&self) -> Result<()> {
        self.request(Operation::Disconnect, None, Command::Shutdown).await
    }
}
