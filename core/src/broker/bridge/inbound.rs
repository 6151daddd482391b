//! Remote to local: the bridge client's events. Messages from the remote are routed into
//! the local router under the bridge's internal session name and acknowledged once queued
//! here; connection events update the bridge's state and are logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;

use super::config::map_topic;
use super::{BridgeConfig, BridgeStatus, LinkState};
use crate::broker::Shared;
use crate::broker::session::{Message, Session};
use crate::client::Message as RemoteMessage;
use crate::dispatch::{Event, EventSink};
use crate::protocol::{Publish, QoS, RetainHandling, Subscription, SubscriptionOptions, topic};

/// Longest wait for congested local subscribers before acknowledging a message (as a
/// connection's backpressure); afterwards they are not waited for during 30 s.
const BACKPRESSURE_TIMEOUT: Duration = Duration::from_secs(5);

/// A rule that brings remote messages in.
#[derive(Debug)]
struct InRule {
    remote_filter: String,
    remote_prefix: String,
    local_prefix: String,
    qos: QoS,
}

/// The remote subscriptions of a bridge's `in` and `both` rules: No Local (MQTT 5) so that
/// what the bridge forwards out does not come back, Retain As Published so that retained
/// messages stay retained here.
pub(crate) fn remote_subscriptions(config: &BridgeConfig) -> Vec<Subscription> {
    let v5 = config.protocol_version.version() == crate::protocol::ProtocolVersion::V5;
    config
        .topics
        .iter()
        .filter(|rule| rule.direction.incoming())
        .map(|rule| {
            let options = SubscriptionOptions {
                qos: rule.max_qos(),
                no_local: v5,
                retain_as_published: v5,
                retain_handling: RetainHandling::SendAtSubscribe,
            };
            Subscription { filter: rule.remote_filter().into(), options }
        })
        .collect()
}

/// The bridge client's [`EventSink`].
pub(crate) struct Inbound {
    shared: Arc<Shared>,
    status: Arc<BridgeStatus>,
    rules: Vec<InRule>,
}

impl Inbound {
    pub(crate) fn new(shared: Arc<Shared>, status: Arc<BridgeStatus>, config: &BridgeConfig) -> Self {
        let rules = config
            .topics
            .iter()
            .filter(|rule| rule.direction.incoming())
            .map(|rule| InRule {
                remote_filter: rule.remote_filter(),
                remote_prefix: rule.remote_prefix.clone(),
                local_prefix: rule.local_prefix.clone(),
                qos: rule.max_qos(),
            })
            .collect();
        Inbound { shared, status, rules }
    }

    fn name(&self) -> &str {
        self.status.name()
    }

    fn on_event(&self, event: Event) {
        match event {
            Event::Connected(result) => {
                self.status.set_state(LinkState::Connected);
                BridgeStatus::count(&self.status.connects);
                tracing::info!(
                    bridge = self.name(),
                    session_present = result.session_present,
                    "bridge connected"
                );
            }
            Event::ConnectionLost(error) => {
                self.status.set_state(LinkState::Connecting);
                tracing::warn!(bridge = self.name(), %error, "bridge disconnected; reconnecting");
            }
            Event::Disconnected(info) => {
                self.status.set_state(LinkState::Connecting);
                tracing::info!(bridge = self.name(), reason = %info.reason_code, "bridge disconnected");
            }
            Event::Error(error) if error.is_fatal() && !self.status.is_connected() => {
                self.status.set_state(LinkState::Refused);
                tracing::warn!(bridge = self.name(), %error, "the remote broker refuses the bridge");
            }
            Event::Error(error) => tracing::debug!(bridge = self.name(), %error, "bridge"),
            Event::Subscribed(result) if !result.is_success() => {
                tracing::warn!(
                    bridge = self.name(),
                    reasons = ?result.reason_codes,
                    "the remote broker refused some of the bridge's subscriptions"
                );
            }
            Event::ReconnectAttempt { attempt, delay } => {
                tracing::debug!(bridge = self.name(), attempt, ?delay, "bridge reconnecting");
            }
            _ => {}
        }
    }

    /// Routes a remote message here and acknowledges it.
    async fn on_message(&self, remote: RemoteMessage) {
        match self.to_local(&remote) {
            Some(message) => {
                let outcome = self.shared.route(Arc::new(message));
                if outcome.refused > 0 {
                    BridgeStatus::count(&self.status.dropped);
                }
                BridgeStatus::count(&self.status.messages_in);
                if !outcome.congested.is_empty() {
                    wait_for_drain(&self.shared, outcome.congested).await;
                }
            }
            None => {
                BridgeStatus::count(&self.status.dropped);
                tracing::debug!(bridge = self.name(), topic = %remote.topic, "no bridge rule maps this remote topic");
            }
        }
        if let Err(error) = remote.ack() {
            tracing::debug!(bridge = self.name(), %error, "acknowledgement not sent");
        }
    }

    /// The local message for a remote one, by the first rule whose remote filter matches.
    fn to_local(&self, remote: &RemoteMessage) -> Option<Message> {
        let rule = self.rules.iter().find(|rule| topic::topic_matches(&rule.remote_filter, &remote.topic))?;
        let local = if rule.remote_prefix == rule.local_prefix {
            remote.topic.clone()
        } else {
            ByteString::from(map_topic(&remote.topic, &rule.remote_prefix, &rule.local_prefix)?)
        };
        let config = &self.shared.config;
        let publish = Publish {
            dup: false,
            qos: remote.qos.min(rule.qos).min(config.maximum_qos()),
            retain: remote.retain && config.features.retain_available,
            topic: local.clone(),
            packet_id: 0,
            properties: remote.properties.clone(),
            payload: remote.payload.clone(),
        };
        let publisher = Some(self.status.session.client_id.clone());
        Some(Message::from_publish(publish, local, publisher, config.limits.max_message_expiry))
    }
}

impl EventSink for Inbound {
    async fn deliver(&mut self, events: Vec<Event>) {
        for event in events {
            match event {
                Event::Message(message) => self.on_message(message).await,
                other => self.on_event(other),
            }
        }
    }
}

/// Waits until the local sessions a message congested have drained below their mark (as a
/// publishing connection does), at most [`BACKPRESSURE_TIMEOUT`]; a session that did not
/// drain is not waited for during the next 30 s.
async fn wait_for_drain(shared: &Shared, congested: Vec<Arc<Session>>) {
    let deadline = tokio::time::Instant::now() + BACKPRESSURE_TIMEOUT;
    let mark = shared.congestion_mark();
    for session in congested {
        loop {
            let drained = session.released.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let state = session.lock();
                if state.queue.len() < mark || state.discarded || !session.is_online() {
                    break;
                }
            }
            tokio::select! {
                _ = drained => {}
                _ = tokio::time::sleep_until(deadline) => {
                    session.lock().backpressure_off_until = Some(Instant::now() + Duration::from_secs(30));
                    return;
                }
                _ = shared.stop.wait() => return,
            }
        }
    }
}
