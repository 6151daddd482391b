//! Local to remote: the bridge's internal session, subscribed in the local router, and the
//! task that hands its queue to the bridge client while the remote is connected.
//!
//! A QoS 1/2 message holds one of `max_inflight` slots from the moment it leaves the queue
//! until the remote acknowledges it (an acknowledgement task waits for the outcomes in
//! order), so a slow remote leaves messages in the session's bounded queue, where the
//! broker's queue limits and publisher backpressure apply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::config::map_topic;
use super::{BridgeConfig, BridgeStatus, LinkState};
use crate::broker::session::{Delivery, Session, SubscriptionEntry};
use crate::broker::stats::Counters;
use crate::broker::{Shared, write};
use crate::client::{Client, NO_TIMEOUT, Pending, PublishOptions, PublishResult};
use crate::protocol::{PublishProperties, QoS, RetainHandling, SubscriptionOptions, TopicFilter};

/// A rule that takes local messages out.
#[derive(Debug)]
struct OutRule {
    local_filter: String,
    local_prefix: String,
    remote_prefix: String,
}

/// A QoS 1/2 publication handed to the client, holding its in-flight slot.
type InFlight = (Pending<PublishResult>, OwnedSemaphorePermit);

/// The outgoing half of a bridge.
pub(crate) struct Outbound {
    shared: Arc<Shared>,
    status: Arc<BridgeStatus>,
    session: Arc<Session>,
    /// Indexed by subscription identifier - 1.
    rules: Vec<OutRule>,
    slots: Arc<Semaphore>,
    in_flight: mpsc::UnboundedSender<InFlight>,
    acknowledgements: JoinHandle<()>,
    v5: bool,
    refused_delay: Duration,
}

impl Outbound {
    /// Subscribes the internal session to the local filters of the `out` and `both` rules
    /// (queueing the matching retained messages, as for any new subscription).
    pub(crate) fn subscribe(
        shared: Arc<Shared>,
        status: Arc<BridgeStatus>,
        session: Arc<Session>,
        config: &BridgeConfig,
    ) -> Self {
        let mut rules = Vec::new();
        for rule in config.topics.iter().filter(|rule| rule.direction.outgoing()) {
            rules.push(OutRule {
                local_filter: rule.local_filter(),
                local_prefix: rule.local_prefix.clone(),
                remote_prefix: rule.remote_prefix.clone(),
            });
            let options = SubscriptionOptions {
                qos: rule.max_qos(),
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::SendAtSubscribe,
            };
            let entry = SubscriptionEntry { options, id: u32::try_from(rules.len()).ok() };
            let filter = rule.local_filter();
            let Ok(parsed) = TopicFilter::parse(&filter) else { continue };
            if !write(shared.router()).subscribe(parsed.filter, None, &session, entry) {
                Counters::add(&shared.counters.subscriptions, 1);
            }
            for message in shared.retained_matching(parsed.filter) {
                let delivery = Delivery {
                    qos: message.qos.min(entry.options.qos),
                    retain: true,
                    subscription_ids: entry.id.into_iter().collect(),
                    shared: None,
                    store_id: 0,
                    message,
                };
                shared.deliver(&session, delivery);
            }
        }
        let (in_flight, outcomes) = mpsc::unbounded_channel();
        let acknowledgements = tokio::spawn(acknowledgements(outcomes, status.clone(), shared.clone()));
        Outbound {
            slots: Arc::new(Semaphore::new(usize::from(config.max_inflight))),
            v5: config.protocol_version.version() == crate::protocol::ProtocolVersion::V5,
            refused_delay: config.reconnect_max_delay(),
            shared,
            status,
            session,
            rules,
            in_flight,
            acknowledgements,
        }
    }

    /// Forwards queued messages while the remote is connected, until the broker stops.
    pub(crate) async fn run(&self, client: &Client) {
        let mut state = self.status.state.subscribe();
        let mut slot = None;
        loop {
            let link = *state.borrow_and_update();
            match link {
                LinkState::Connecting => {
                    if !matches!(self.wait(state.changed()).await, Some(Ok(()))) {
                        return;
                    }
                    continue;
                }
                LinkState::Refused => {
                    if self.wait(tokio::time::sleep(self.refused_delay)).await.is_none() {
                        return;
                    }
                    self.status.set_state(LinkState::Connecting);
                    let _ = client.connect_nowait().await;
                    continue;
                }
                LinkState::Connected => {}
            }
            if slot.is_none() {
                match self.wait(self.slots.clone().acquire_owned()).await {
                    Some(Ok(permit)) => slot = Some(permit),
                    _ => return,
                }
            }
            let queued = self.session.notify.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            match self.take() {
                Some(delivery) => self.forward(client, delivery, &mut slot).await,
                None => {
                    let woken = tokio::select! {
                        _ = queued => true,
                        changed = state.changed() => changed.is_ok(),
                        _ = self.shared.stop.wait() => false,
                    };
                    if !woken {
                        return;
                    }
                }
            }
        }
    }

    /// Runs `future` unless the broker stops first (`None` then).
    async fn wait<F: Future>(&self, future: F) -> Option<F::Output> {
        tokio::select! {
            output = future => Some(output),
            _ = self.shared.stop.wait() => None,
        }
    }

    /// The next queued delivery (expired ones are dropped and counted on the way).
    fn take(&self) -> Option<Delivery> {
        let counters = &self.shared.counters;
        let mut expired = Vec::new();
        let mut state = self.session.lock();
        let delivery = state.next_to_send(1, Instant::now(), counters, &mut expired);
        let drained = state.queue.len() < self.shared.congestion_mark();
        drop(state);
        if delivery.is_some() {
            Counters::sub(&counters.queued, 1);
        }
        if drained {
            self.session.released.notify_waiters();
        }
        delivery
    }

    /// Hands one delivery to the client, mapped to its remote topic.
    async fn forward(&self, client: &Client, delivery: Delivery, slot: &mut Option<OwnedSemaphorePermit>) {
        let message = &delivery.message;
        let rule = delivery.subscription_ids.iter().min().and_then(|id| self.rules.get(*id as usize - 1));
        let topic = rule.and_then(|rule| remote_topic(&message.topic, rule));
        let (Some(topic), Some(expiry)) = (topic, message.remaining_expiry(Instant::now())) else {
            BridgeStatus::count(&self.status.dropped);
            tracing::debug!(bridge = self.status.name(), topic = %message.topic, "not forwarded");
            return;
        };
        let properties = if self.v5 {
            PublishProperties { message_expiry_interval: expiry, ..message.properties.clone() }
        } else {
            PublishProperties::default()
        };
        let options = PublishOptions {
            qos: delivery.qos,
            retain: delivery.retain,
            properties,
            timeout: Some(NO_TIMEOUT),
        };
        let payload = message.payload.clone();
        if delivery.qos == QoS::AtMostOnce {
            if client.publish_with_nowait(topic, payload, options).await.is_ok() {
                BridgeStatus::count(&self.status.messages_out);
            }
            return;
        }
        match client.submit_publish_with(topic, payload, options).await {
            Ok(pending) => {
                if let Some(permit) = slot.take() {
                    let _ = self.in_flight.send((pending, permit));
                }
            }
            Err(error) => {
                BridgeStatus::count(&self.status.refused_out);
                tracing::warn!(bridge = self.status.name(), %error, "message not forwarded");
            }
        }
    }

    /// Leaves the router, drops what is still queued and waits for the outcomes of what is
    /// in flight (the client has been shut down: they are all known).
    pub(crate) async fn finish(self) {
        let filters: Vec<String> = self.rules.iter().map(|rule| rule.local_filter.clone()).collect();
        {
            let mut router = write(self.shared.router());
            for filter in &filters {
                if let Ok(parsed) = TopicFilter::parse(filter)
                    && router.unsubscribe(parsed.filter, None, &self.session)
                {
                    Counters::sub(&self.shared.counters.subscriptions, 1);
                }
            }
        }
        {
            let mut state = self.session.lock();
            state.discarded = true;
            state.clear_queue(&self.shared.counters);
        }
        drop(self.in_flight);
        let _ = self.acknowledgements.await;
    }
}

/// The remote topic of a local one (the same `ByteString` when the prefixes are equal).
fn remote_topic(topic: &ByteString, rule: &OutRule) -> Option<ByteString> {
    if rule.local_prefix == rule.remote_prefix {
        return Some(topic.clone());
    }
    map_topic(topic, &rule.local_prefix, &rule.remote_prefix).map(ByteString::from)
}

/// Counts the remote's answers to forwarded QoS 1/2 messages, in order, releasing their
/// slots.
async fn acknowledgements(
    mut outcomes: mpsc::UnboundedReceiver<InFlight>,
    status: Arc<BridgeStatus>,
    shared: Arc<Shared>,
) {
    while let Some((pending, slot)) = outcomes.recv().await {
        let outcome = pending.wait().await;
        drop(slot);
        match outcome {
            Ok(result) if result.is_success() => BridgeStatus::count(&status.messages_out),
            Ok(result) => {
                BridgeStatus::count(&status.refused_out);
                tracing::warn!(bridge = status.name(), reason = %result.reason_code, "the remote refused a message");
            }
            Err(error) if shared.stop.is_stopping() => {
                BridgeStatus::count(&status.refused_out);
                tracing::debug!(bridge = status.name(), %error, "in flight when the broker stopped");
            }
            Err(error) => {
                BridgeStatus::count(&status.refused_out);
                tracing::warn!(bridge = status.name(), %error, "a forwarded message failed");
            }
        }
    }
}
