//! The driver task: hands the operations JavaScript queued to the core's client in call
//! order and reports their outcomes to the [`Inbox`].
//!
//! Every operation is handed over (`submit_*`, or the fire-and-forget form) one after the
//! other, so operations reach the connection, and the wire, in the order of the calls, even
//! while the core's command queue is full. Only the waits for acknowledgements run
//! concurrently: one future per operation, and one per batch of plain publications
//! (`publishing.rs`).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use mqttkit::Error;
use mqttkit::client::{
    AuthResult, Client, ConnectResult, NO_TIMEOUT, Pending, PingResult, PublishOptions, PublishResult,
    SubscribeOptions, SubscribeResult, UnsubscribeOptions, UnsubscribeResult,
};
use mqttkit::dispatch::Event;
use mqttkit::protocol::{DisconnectProperties, ReasonCode, Subscription};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::events::{Item, Reply};
use crate::inbox::Inbox;
use crate::publishing::{PlainPublish, PublishWaits};

/// An operation queued for the driver task. Timeouts are resolved already: `None` waits
/// without limit.
pub(crate) enum Op {
    /// CONNECT, waiting for the CONNACK.
    Connect(Option<Duration>),
    /// CONNECT, fire-and-forget.
    ConnectNowait,
    /// PUBLISH, waiting for the acknowledgement.
    Publish(String, Bytes, PublishOptions),
    /// PUBLISH, fire-and-forget.
    PublishNowait(String, Bytes, PublishOptions),
    /// SUBSCRIBE, waiting for the SUBACK.
    Subscribe(Vec<Subscription>, SubscribeOptions),
    /// SUBSCRIBE, fire-and-forget.
    SubscribeNowait(Vec<Subscription>, SubscribeOptions),
    /// UNSUBSCRIBE, waiting for the UNSUBACK.
    Unsubscribe(Vec<String>, UnsubscribeOptions),
    /// UNSUBSCRIBE, fire-and-forget.
    UnsubscribeNowait(Vec<String>, UnsubscribeOptions),
    /// PINGREQ, waiting for the PINGRESP.
    Ping(Option<Duration>),
    /// PINGREQ, fire-and-forget.
    PingNowait,
    /// AUTH Continue authentication, waiting for the answer.
    AuthContinue(String, Option<Bytes>, Option<Duration>),
    /// AUTH Continue authentication, fire-and-forget.
    AuthContinueNowait(String, Option<Bytes>),
    /// AUTH Re-authenticate by hand, waiting for the first answer.
    ReAuthenticate(String, Option<Bytes>, Option<Duration>),
    /// AUTH Re-authenticate by hand, fire-and-forget.
    ReAuthenticateNowait(String, Option<Bytes>),
    /// Re-authentication run by the configured authenticator, waiting for its end.
    ReAuthenticateAuto(Option<Duration>),
    /// Re-authentication run by the configured authenticator, fire-and-forget.
    ReAuthenticateAutoNowait,
    /// DISCONNECT, waiting until the connection is closed.
    Disconnect(ReasonCode, DisconnectProperties, Option<Duration>),
    /// DISCONNECT (Normal disconnection), fire-and-forget.
    DisconnectNowait,
    /// Shuts the client down for good; nothing may follow.
    Shutdown,
}

/// What JavaScript queues for the driver task.
pub(crate) enum Request {
    /// Operation `Op` for request id `u32` (0: fire-and-forget).
    One(u32, Box<Op>),
    /// The plain publications of one `publishBatch` call, in call order.
    Batch(Vec<PlainPublish>),
}

/// A handed-over operation's outcome, still to come.
enum Waiting {
    Connect(Pending<ConnectResult>),
    Publish(Pending<PublishResult>),
    Subscribe(Pending<SubscribeResult>),
    Unsubscribe(Pending<UnsubscribeResult>),
    Ping(Pending<PingResult>),
    Auth(Pending<AuthResult>),
    Disconnect(Pending<()>),
    /// The shutdown runs as its own wait: it fails every outcome still to come.
    Shutdown(Client),
    /// Not handed over: the failure is the outcome.
    Failed(Error),
}

/// What handing an operation over gave.
enum HandedOver {
    /// A fire-and-forget operation: done once handed over.
    Done(Result<(), Error>),
    /// A wait-for-acknowledgement operation: its outcome is still to come.
    Waiting(Waiting),
}

/// Publications whose outcomes one [`PublishWaits`] awaits: it polls every open one when
/// woken, so this bounds the polls per outcome when acknowledgements come one by one.
const WAITS_PER_FUTURE: usize = 32;

/// Hands over the publications of a batch; their waits go to `publishing`, failures to hand
/// one over to `failed`.
async fn hand_over_batch(
    client: &Client,
    publishes: Vec<PlainPublish>,
    inbox: &Arc<Inbox>,
    publishing: &mut FuturesUnordered<PublishWaits>,
    failed: &mut Vec<Item>,
) {
    let limit = client.options().timeouts().publish;
    let new_waits = |left: usize| PublishWaits::new(left.min(WAITS_PER_FUTURE), limit, inbox.clone());
    let mut waits = new_waits(publishes.len());
    // The clock is read again only after a hand-over that had to wait (a full command
    // queue): the others take microseconds, well below the timer's millisecond.
    let mut now = Instant::now();
    let total = publishes.len();
    for (index, PlainPublish { id, topic, payload, qos, retain }) in publishes.into_iter().enumerate() {
        let mut options = PublishOptions::qos(qos).retain(retain);
        if id == 0 {
            failed.extend(item(
                0,
                client.publish_with_nowait(topic, payload, options).await.map(|()| Reply::Unit),
            ));
            continue;
        }
        // The timeout is kept by `waits`.
        options.timeout = Some(NO_TIMEOUT);
        let submit = client.submit_publish_with(topic, payload, options);
        tokio::pin!(submit);
        let submitted = match std::future::poll_fn(|cx| Poll::Ready(submit.as_mut().poll(cx))).await {
            Poll::Ready(submitted) => submitted,
            Poll::Pending => {
                let submitted = submit.await;
                now = Instant::now();
                submitted
            }
        };
        match submitted {
            Ok(pending) => waits.push(id, pending, now),
            Err(error) => failed.extend(item(id, Err(error))),
        }
        if waits.len() == WAITS_PER_FUTURE {
            publishing.push(std::mem::replace(&mut waits, new_waits(total - index - 1)));
        }
    }
    if waits.len() > 0 {
        publishing.push(waits);
    }
}

/// Hands `op` to the connection task (the first step of every operation).
async fn hand_over(client: &Client, op: Op) -> HandedOver {
    use HandedOver::{Done, Waiting as W};
    let waiting = match op {
        Op::ConnectNowait => return Done(client.connect_nowait().await),
        Op::PublishNowait(topic, payload, options) => {
            return Done(client.publish_with_nowait(topic, payload, options).await);
        }
        Op::SubscribeNowait(subscriptions, options) => {
            return Done(client.subscribe_with_nowait(subscriptions, options).await);
        }
        Op::UnsubscribeNowait(filters, options) => {
            return Done(client.unsubscribe_with_nowait(filters, options).await);
        }
        Op::PingNowait => return Done(client.ping_nowait().await),
        Op::AuthContinueNowait(method, data) => return Done(client.auth_continue_nowait(method, data).await),
        Op::ReAuthenticateNowait(method, data) => {
            return Done(client.re_authenticate_with_nowait(method, data).await);
        }
        Op::ReAuthenticateAutoNowait => return Done(client.re_authenticate_nowait().await),
        Op::DisconnectNowait => return Done(client.disconnect_nowait().await),
        Op::Shutdown => return W(Waiting::Shutdown(client.clone())),
        Op::Connect(timeout) => client.submit_connect(timeout).await.map(Waiting::Connect),
        Op::Publish(topic, payload, options) => {
            client.submit_publish_with(topic, payload, options).await.map(Waiting::Publish)
        }
        Op::Subscribe(subscriptions, options) => {
            client.submit_subscribe_with(subscriptions, options).await.map(Waiting::Subscribe)
        }
        Op::Unsubscribe(filters, options) => {
            client.submit_unsubscribe_with(filters, options).await.map(Waiting::Unsubscribe)
        }
        Op::Ping(timeout) => client.submit_ping(timeout).await.map(Waiting::Ping),
        Op::AuthContinue(method, data, timeout) => {
            client.submit_auth_continue(method, data, timeout).await.map(Waiting::Auth)
        }
        Op::ReAuthenticate(method, data, timeout) => {
            client.submit_re_authenticate_with(method, data, timeout).await.map(Waiting::Auth)
        }
        Op::ReAuthenticateAuto(timeout) => client.submit_re_authenticate(timeout).await.map(Waiting::Auth),
        Op::Disconnect(reason, properties, timeout) => {
            client.submit_disconnect_with(reason, properties, timeout).await.map(Waiting::Disconnect)
        }
    };
    match waiting {
        Ok(waiting) => W(waiting),
        // Not handed over: report the failure like the outcome it replaces.
        Err(error) => W(Waiting::Failed(error)),
    }
}

impl Waiting {
    /// Waits for the outcome (the second step).
    async fn outcome(self) -> Result<Reply, Error> {
        match self {
            Waiting::Connect(pending) => pending.wait().await.map(Reply::Connect),
            Waiting::Publish(pending) => pending.wait().await.map(Reply::Publish),
            Waiting::Subscribe(pending) => pending.wait().await.map(Reply::Subscribe),
            Waiting::Unsubscribe(pending) => pending.wait().await.map(Reply::Unsubscribe),
            Waiting::Ping(pending) => pending.wait().await.map(Reply::Ping),
            Waiting::Auth(pending) => pending.wait().await.map(Reply::Auth),
            Waiting::Disconnect(pending) => pending.wait().await.map(|()| Reply::Unit),
            Waiting::Shutdown(client) => client.shutdown().await.map(|()| Reply::Unit),
            Waiting::Failed(error) => Err(error),
        }
    }
}

/// The outcome of request `id` as an inbox item; fire-and-forget (`id` 0) failures become
/// `error` events and their successes nothing.
fn item(id: u32, result: Result<Reply, Error>) -> Option<Item> {
    match (id, result) {
        (0, Ok(_)) => None,
        (0, Err(error)) => Some(Item::Event(Event::Error(error), 0)),
        (id, result) => Some(Item::Done(id, result)),
    }
}

/// Runs the operations queued on `requests` until the client is shut down (see the module
/// docs), then reports the end to the inbox once every event was delivered.
pub(crate) async fn drive(client: Client, mut requests: mpsc::UnboundedReceiver<Request>, inbox: Arc<Inbox>) {
    let mut waiting = FuturesUnordered::new();
    let mut publishing = FuturesUnordered::new();
    let mut batch = Vec::with_capacity(256);
    let mut open = true;
    while open || !waiting.is_empty() || !publishing.is_empty() {
        tokio::select! {
            // Outcomes first: they free the JS side's pending requests.
            biased;
            Some(first) = waiting.next(), if !waiting.is_empty() => {
                let mut finished = Vec::new();
                finished.extend(first);
                // Everything else that is ready now, to wake JS once for all of it.
                while let Some(Some(more)) = futures_util::FutureExt::now_or_never(waiting.next()) {
                    finished.extend(more);
                }
                inbox.push_all(finished);
            }
            // A batch reports its outcomes to the inbox itself, as they arrive.
            Some(()) = publishing.next(), if !publishing.is_empty() => {}
            received = requests.recv_many(&mut batch, 256), if open => {
                if received == 0 {
                    open = false;
                }
                let mut failed = Vec::new();
                for request in batch.drain(..) {
                    let (id, op) = match request {
                        Request::One(id, op) => (id, *op),
                        Request::Batch(publishes) => {
                            hand_over_batch(&client, publishes, &inbox, &mut publishing, &mut failed).await;
                            continue;
                        }
                    };
                    let shutdown = matches!(op, Op::Shutdown);
                    match hand_over(&client, op).await {
                        HandedOver::Done(result) => failed.extend(item(id, result.map(|()| Reply::Unit))),
                        HandedOver::Waiting(outcome) => {
                            waiting.push(async move { item(id, outcome.outcome().await) });
                        }
                    }
                    if shutdown {
                        // Nothing may be queued after the shutdown.
                        requests.close();
                    }
                }
                if !failed.is_empty() {
                    inbox.push_all(failed);
                }
            }
        }
    }
    drop(client);
    // Every operation is done; the core's dispatcher ends once the connection task has
    // stopped and every event was delivered (the sink is dropped then). The bound only
    // matters if the connection task outlives its last handle for a moment.
    let _ = tokio::time::timeout(Duration::from_secs(5), inbox.sink_dropped.notified()).await;
    inbox.closed.store(true, Ordering::Release);
    inbox.drained.notify_waiters();
    inbox.push(Item::Closed);
}
