//! The one event layer every binding shares: [`Event`], the [`EventSink`] trait, and the
//! dispatcher that hands events to a sink in order, in batches, with backpressure.
//!
//! A client's connection task produces events into a bounded channel; one dispatch task per
//! client takes everything queued so far as one batch and awaits the sink's
//! [`EventSink::deliver`]. While the sink is busy the channel fills, the connection task
//! stops reading from its socket, and TCP flow control slows the server: nothing is dropped
//! and memory stays bounded. The Rust [`EventHandler`] trait and [`EventStream`] are sinks
//! built on this layer, exactly as the Python, Node and C bindings' are.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use crate::client::{
    AuthResult, ConnectResult, DisconnectInfo, Message, PingResult, PublishResult, SubscribeResult,
    UnsubscribeResult,
};
use crate::error::Error;

/// How many events the channel between a connection task and its dispatcher holds.
pub(crate) const EVENT_QUEUE_CAPACITY: usize = 1024;

/// Everything a client reports.
///
/// Bindings convert it exhaustively (no catch-all arm), so a new kind of event fails their
/// build until they handle it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection was established (CONNACK Success).
    Connected(ConnectResult),
    /// The connection ended: the application disconnected, or the server sent DISCONNECT.
    Disconnected(DisconnectInfo),
    /// A message arrived.
    Message(Message),
    /// A fire-and-forget QoS 1/2 publish was acknowledged (success or failure reason code).
    Published(PublishResult),
    /// A fire-and-forget subscribe was acknowledged.
    Subscribed(SubscribeResult),
    /// A fire-and-forget unsubscribe was acknowledged.
    Unsubscribed(UnsubscribeResult),
    /// A fire-and-forget ping was answered.
    PingResponse(PingResult),
    /// Something failed that no caller is waiting for (a fire-and-forget operation, a
    /// failed reconnect).
    Error(Error),
    /// The connection was lost; the client reconnects if its policy says so.
    ConnectionLost(Error),
    /// A reconnect attempt is about to start after `delay`.
    ReconnectAttempt {
        /// 1 for the first attempt after a loss.
        attempt: u32,
        /// The back-off delay before this attempt.
        delay: std::time::Duration,
    },
    /// Operations that could not survive a reconnect (the server had no session) were
    /// failed; their callers got an error.
    PendingOperationsCleared {
        /// How many.
        count: usize,
    },
    /// The server sent AUTH during enhanced authentication or re-authentication.
    AuthReceived(AuthResult),
    /// The TLS peer certificate (DER) of a new connection.
    PeerCertificateReceived(Vec<u8>),
}

/// Receives a client's events, in order, on the client's dispatch task.
///
/// `deliver` gets every event queued since the last call, as one batch. While it runs, no
/// further batch is delivered; if it is slow, the client slows down reading from the
/// network rather than dropping events. Never block the thread inside `deliver`: await.
pub trait EventSink: Send + 'static {
    /// Handles one batch of events (never empty).
    fn deliver(&mut self, events: Vec<Event>) -> impl Future<Output = ()> + Send;
}

/// Starts the dispatch task for `sink` on the current Tokio runtime and returns the sending
/// side for the connection task.
pub(crate) fn spawn_dispatcher<S: EventSink>(mut sink: S) -> mpsc::Sender<Event> {
    let (sender, mut receiver) = mpsc::channel::<Event>(EVENT_QUEUE_CAPACITY);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(64);
        while receiver.recv_many(&mut batch, EVENT_QUEUE_CAPACITY).await > 0 {
            let events = std::mem::replace(&mut batch, Vec::with_capacity(64));
            sink.deliver(events).await;
        }
    });
    sender
}

/// Receives a client's events as an async stream: `while let Some(event) =
/// events.next().await`. It also implements [`futures_core::Stream`].
///
/// The stream is bounded: a client whose stream is not read stops reading from the
/// network. Ends when the client is shut down and every event was taken.
#[derive(Debug)]
pub struct EventStream {
    receiver: mpsc::Receiver<Vec<Event>>,
    current: std::vec::IntoIter<Event>,
}

impl EventStream {
    /// The next event, or `None` once the client is shut down.
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The next received [`Message`], skipping other events.
    pub async fn next_message(&mut self) -> Option<Message> {
        loop {
            if let Event::Message(message) = self.next().await? {
                return Some(message);
            }
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            if let Some(event) = self.current.next() {
                return Poll::Ready(Some(event));
            }
            match self.receiver.poll_recv(cx) {
                Poll::Ready(Some(batch)) => self.current = batch.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl futures_core::Stream for EventStream {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().poll_event(cx)
    }
}

/// The sink behind [`EventStream`]: batches go through a small bounded channel.
pub(crate) struct StreamSink(mpsc::Sender<Vec<Event>>);

impl EventSink for StreamSink {
    async fn deliver(&mut self, events: Vec<Event>) {
        // A dropped stream means nobody listens any more: the events have nowhere to go.
        let _ = self.0.send(events).await;
    }
}

/// A sink feeding a new [`EventStream`].
pub(crate) fn stream_sink() -> (StreamSink, EventStream) {
    let (sender, receiver) = mpsc::channel(8);
    (StreamSink(sender), EventStream { receiver, current: Vec::new().into_iter() })
}

/// Callbacks for a client's events, run in order on its dispatch task. Every method has a
/// do-nothing default; implement the ones you need (with `async fn`).
pub trait EventHandler: Send + 'static {
    /// A connection was established.
    fn on_connected(&mut self, result: ConnectResult) -> impl Future<Output = ()> + Send {
        let _ = result;
        async {}
    }
    /// The connection ended at the application's or the server's request.
    fn on_disconnected(&mut self, info: DisconnectInfo) -> impl Future<Output = ()> + Send {
        let _ = info;
        async {}
    }
    /// A message arrived.
    fn on_message(&mut self, message: Message) -> impl Future<Output = ()> + Send {
        let _ = message;
        async {}
    }
    /// A fire-and-forget publish was acknowledged.
    fn on_published(&mut self, result: PublishResult) -> impl Future<Output = ()> + Send {
        let _ = result;
        async {}
    }
    /// A fire-and-forget subscribe was acknowledged.
    fn on_subscribed(&mut self, result: SubscribeResult) -> impl Future<Output = ()> + Send {
        let _ = result;
        async {}
    }
    /// A fire-and-forget unsubscribe was acknowledged.
    fn on_unsubscribed(&mut self, result: UnsubscribeResult) -> impl Future<Output = ()> + Send {
        let _ = result;
        async {}
    }
    /// A fire-and-forget ping was answered.
    fn on_ping_response(&mut self, result: PingResult) -> impl Future<Output = ()> + Send {
        let _ = result;
        async {}
    }
    /// Something failed that no caller is waiting for.
    fn on_error(&mut self, error: Error) -> impl Future<Output = ()> + Send {
        let _ = error;
        async {}
    }
    /// The connection was lost.
    fn on_connection_lost(&mut self, error: Error) -> impl Future<Output = ()> + Send {
        let _ = error;
        async {}
    }
    /// A reconnect attempt is about to start.
    fn on_reconnect_attempt(
        &mut self,
        attempt: u32,
        delay: std::time::Duration,
    ) -> impl Future<Output = ()> + Send {
        let _ = (attempt, delay);
        async {}
    }
    /// Operations were failed because the server had lost the session.
    fn on_pending_operations_cleared(&mut self, count: usize) -> impl Future<Output = ()> + Send {
        let _ = count;
        async {}
    }
    /// The server sent AUTH.
    fn on_auth_received(&mut self, result: AuthResult) -> impl Future<Output = ()> + Send {
        let _ = result;
        async {}
    }
    /// The TLS peer certificate of a new connection (DER).
    fn on_peer_certificate(&mut self, certificate: Vec<u8>) -> impl Future<Output = ()> + Send {
        let _ = certificate;
        async {}
    }
}

/// The sink that calls an [`EventHandler`].
pub(crate) struct HandlerSink<H>(pub(crate) H);

impl<H: EventHandler> EventSink for HandlerSink<H> {
    async fn deliver(&mut self, events: Vec<Event>) {
        for event in events {
            let handler = &mut self.0;
            match event {
                Event::Connected(result) => handler.on_connected(result).await,
                Event::Disconnected(info) => handler.on_disconnected(info).await,
                Event::Message(message) => handler.on_message(message).await,
                Event::Published(result) => handler.on_published(result).await,
                Event::Subscribed(result) => handler.on_subscribed(result).await,
                Event::Unsubscribed(result) => handler.on_unsubscribed(result).await,
                Event::PingResponse(result) => handler.on_ping_response(result).await,
                Event::Error(error) => handler.on_error(error).await,
                Event::ConnectionLost(error) => handler.on_connection_lost(error).await,
                Event::ReconnectAttempt { attempt, delay } => {
                    handler.on_reconnect_attempt(attempt, delay).await
                }
                Event::PendingOperationsCleared { count } => {
                    handler.on_pending_operations_cleared(count).await
                }
                Event::AuthReceived(result) => handler.on_auth_received(result).await,
                Event::PeerCertificateReceived(certificate) => handler.on_peer_certificate(certificate).await,
            }
        }
    }
}
