//! Sessions: per client identifier, the subscriptions, the queue of messages waiting to be
//! sent, the QoS 1/2 messages in flight in both directions, and the expiry and will state
//! that outlive a connection.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::Notify;

use super::config::Limits;
use super::frame::Frames;
use super::stats::Counters;
use crate::protocol::{ProtocolVersion, Publish, PublishProperties, QoS, SubscriptionOptions, Will};

/// An application message as the broker routes it: one allocation shared by every
/// subscriber, the payload a zero-copy `Bytes`.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) topic: ByteString,
    pub(crate) payload: Bytes,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    /// Properties as received, without Topic Alias and Subscription Identifiers.
    pub(crate) properties: PublishProperties,
    /// Client identifier of the publisher (for No Local).
    pub(crate) publisher: Option<Arc<str>>,
    /// When the Message Expiry Interval ends.
    pub(crate) expires_at: Option<Instant>,
    /// The PUBLISH encoded once for every subscriber that needs nothing specific.
    pub(crate) frames: Frames,
}

impl Message {
    /// A message from a received PUBLISH (topic already resolved from any alias).
    pub(crate) fn from_publish(
        publish: Publish,
        topic: ByteString,
        publisher: Option<Arc<str>>,
        max_expiry: Option<u32>,
    ) -> Self {
        let mut properties = publish.properties;
        properties.topic_alias = None;
        properties.subscription_identifiers.clear();
        let expiry = match (properties.message_expiry_interval, max_expiry) {
            (Some(e), Some(max)) => Some(e.min(max)),
            (None, Some(max)) => Some(max),
            (e, None) => e,
        };
        properties.message_expiry_interval = expiry;
        Message {
            topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties,
            publisher,
            expires_at: expiry.map(|e| Instant::now() + Duration::from_secs(e.into())),
            frames: Frames::default(),
        }
    }

    /// A will message published on behalf of a client.
    pub(crate) fn from_will(will: Will, publisher: Arc<str>, max_expiry: Option<u32>) -> Self {
        let p = will.properties;
        let properties = PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            topic_alias: None,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data,
            user_properties: p.user_properties,
            subscription_identifiers: Vec::new(),
            content_type: p.content_type,
        };
        let publish = Publish { properties, ..Publish::new(will.topic.clone(), will.payload, will.qos) };
        let mut message = Message::from_publish(publish, will.topic, Some(publisher), max_expiry);
        message.retain = will.retain;
        message
    }

    /// Seconds left before expiry: `Some(None)` if it never expires, `None` if expired.
    pub(crate) fn remaining_expiry(&self, now: Instant) -> Option<Option<u32>> {
        match self.expires_at {
            None => Some(None),
            Some(at) if at <= now => None,
            Some(at) => Some(Some((at - now).as_secs_f64().ceil() as u32)),
        }
    }

    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// One delivery of a message to one session.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) message: Arc<Message>,
    /// QoS of this delivery: the lower of the message's and the subscription's.
    pub(crate) qos: QoS,
    /// RETAIN flag to send.
    pub(crate) retain: bool,
    /// Subscription identifiers of the matching subscriptions.
    pub(crate) subscription_ids: Vec<u32>,
    /// The shared subscription this delivery came from, so that it can go to another
    /// member if this session ends before acknowledging it.
    pub(crate) shared: Option<SharedOrigin>,
    /// Key of this delivery in storage (0: not stored).
    pub(crate) store_id: u64,
}

/// A shared subscription: group name and filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedOrigin {
    pub(crate) group: Arc<str>,
    pub(crate) filter: Arc<str>,
}

impl Delivery {
    fn size(&self) -> usize {
        self.message.payload.len() + self.message.topic.len()
    }

    /// The PUBLISH for this delivery (topic alias not applied).
    pub(crate) fn to_publish(&self, packet_id: u16, dup: bool, now: Instant) -> Option<Publish> {
        let remaining = match self.message.remaining_expiry(now) {
            Some(remaining) => remaining,
            // Resent: its onward delivery started before it expired, so it goes out again
            // (MQTT-4.4.0-1; a QoS 2 receiver holds its packet identifier until PUBREL),
            // with no time left.
            None if dup => Some(0),
            None => return None,
        };
        let mut properties = self.message.properties.clone();
        properties.message_expiry_interval = remaining;
        properties.subscription_identifiers.clone_from(&self.subscription_ids);
        Some(Publish {
            dup: dup && self.qos != QoS::AtMostOnce,
            qos: self.qos,
            retain: self.retain,
            topic: self.message.topic.clone(),
            packet_id: if self.qos == QoS::AtMostOnce { 0 } else { packet_id },
            properties,
            payload: self.message.payload.clone(),
        })
    }
}

/// Where an outgoing QoS 1/2 message is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREL sent, waiting for PUBCOMP.
    Released,
}

/// An outgoing QoS 1/2 message in flight.
#[derive(Debug, Clone)]
pub(crate) struct Inflight {
    pub(crate) packet_id: u16,
    pub(crate) delivery: Delivery,
    pub(crate) state: OutState,
}

/// A subscription as the session remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubscriptionEntry {
    pub(crate) options: SubscriptionOptions,
    pub(crate) id: Option<u32>,
}

/// The will of a closed connection, waiting for its Will Delay Interval.
#[derive(Debug)]
pub(crate) struct PendingWill {
    pub(crate) will: Will,
    pub(crate) due: Instant,
}

/// Result of offering a delivery to a session's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Queued (possibly after dropping an older QoS 0 message).
    Queued,
    /// Not queued: the queue is full (already counted and logged).
    Dropped,
    /// Not queued: the session has ended (a delivery racing with its end; not an error).
    Ignored,
}

/// Whose session it is, for authorization of what it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A client, with the user it authenticated as (`None`: anonymous).
    Client(Option<Arc<str>>),
    /// A bridge's internal session: not subject to the ACL.
    Bridge,
}

impl Owner {
    /// The user name of a client's session.
    pub(crate) fn username(&self) -> Option<&str> {
        match self {
            Owner::Client(username) => username.as_deref(),
            Owner::Bridge => None,
        }
    }
}

/// The mutable part of a session, behind the session's mutex.
#[derive(Debug)]
pub(crate) struct SessionState {
    pub(crate) version: ProtocolVersion,
    /// Set by the connection that attaches (the user may differ from the last one's).
    pub(crate) owner: Owner,
    /// By filter (a B-tree: half the inline size of a hash map, for a rarely searched map).
    pub(crate) subscriptions: BTreeMap<ByteString, SubscriptionEntry>,
    pub(crate) queue: VecDeque<Delivery>,
    queued_bytes: usize,
    queued_qos0: usize,
    /// Queued messages with a Message Expiry Interval (the others never need a scan).
    queued_expiring: usize,
    /// No queued message expires before this (when `queued_expiring > 0`): a full queue
    /// scans for expired messages only once one can be.
    earliest_expiry: Option<Instant>,
    pub(crate) inflight: VecDeque<Inflight>,
    /// How many entries at the end of `inflight` the attached connection has not resent
    /// yet: a resumed session resends no more than the client's Receive Maximum at once
    /// (MQTT-3.3.4-9), the rest as acknowledgements make room.
    unsent_resends: usize,
    next_packet_id: u16,
    /// Incoming QoS 2 packet identifiers answered with PUBREC, awaiting PUBREL.
    pub(crate) incoming_qos2: BTreeSet<u16>,
    /// Session Expiry Interval in seconds (`u32::MAX`: never).
    pub(crate) expiry_interval: u32,
    /// The connection attached to this session, by connection id.
    pub(crate) connection: Option<u64>,
    /// A newer connection with the same client identifier waits for this one to go.
    pub(crate) taken_over: bool,
    /// The session has ended; late deliveries are ignored.
    pub(crate) discarded: bool,
    /// Publishers are not slowed down for this session before then (it did not drain
    /// within the backpressure timeout).
    pub(crate) backpressure_off_until: Option<Instant>,
    /// Bumped at every attach and detach; timers carry it to detect staleness.
    pub(crate) generation: u64,
    /// Boxed: most sessions have none.
    pub(crate) pending_will: Option<Box<PendingWill>>,
    /// When the session expires, once detached.
    pub(crate) expires_at: Option<Instant>,
}

impl SessionState {
    /// Offers a delivery to the queue under the limits (policy documented on
    /// [`Limits::max_queued_messages`]). The caller adds a queued delivery to
    /// `counters.queued` (in one step for all the sessions of a message). Expired messages
    /// make room first; the stored ones among them are added to `expired_ids`.
    pub(crate) fn enqueue(
        &mut self,
        delivery: Delivery,
        limits: &Limits,
        counters: &Counters,
        client_id: &str,
        expired_ids: &mut Vec<u64>,
    ) -> Enqueued {
        if self.discarded {
            return Enqueued::Ignored;
        }
        let size = delivery.size();
        let full = |s: &Self| {
            s.queue.len() >= limits.max_queued_messages || s.queued_bytes + size > limits.max_queued_bytes
        };
        if full(self) {
            self.drop_expired(Instant::now(), counters, expired_ids);
        }
        while full(self) && self.queued_qos0 > 0 {
            if let Some(pos) = self.queue.iter().position(|d| d.qos == QoS::AtMostOnce) {
                let old = self.queue.remove(pos).expect("position is in range");
                self.forget(&old, counters);
                Counters::add(&counters.dropped, 1);
                tracing::debug!(client_id, topic = %old.message.topic, "queue full: dropped oldest QoS 0 message");
            } else {
                break;
            }
        }
        if full(self) && !self.queue.is_empty() {
            Counters::add(&counters.dropped, 1);
            if delivery.qos == QoS::AtMostOnce {
                tracing::debug!(client_id, topic = %delivery.message.topic, "queue full: dropped QoS 0 message");
            } else {
                tracing::warn!(
                    client_id,
                    topic = %delivery.message.topic,
                    qos = delivery.qos as u8,
                    queued = self.queue.len(),
                    "queue full: QoS 1/2 message refused for this session"
                );
            }
            return Enqueued::Dropped;
        }
        self.account(&delivery);
        self.queue.push_back(delivery);
        Enqueued::Queued
    }

    /// Drops the queued messages whose Message Expiry Interval has passed (MQTT-3.3.2-5).
    fn drop_expired(&mut self, now: Instant, counters: &Counters, expired_ids: &mut Vec<u64>) {
        if self.queued_expiring == 0 || self.earliest_expiry.is_some_and(|earliest| now < earliest) {
            return;
        }
        self.earliest_expiry = None;
        for delivery in std::mem::take(&mut self.queue) {
            if delivery.message.is_expired(now) {
                self.forget(&delivery, counters);
                Counters::add(&counters.expired, 1);
                if delivery.store_id != 0 {
                    expired_ids.push(delivery.store_id);
                }
            } else {
                self.note_expiry(&delivery);
                self.queue.push_back(delivery);
            }
        }
    }

    /// Keeps `earliest_expiry` at or before the expiry of every queued message.
    fn note_expiry(&mut self, delivery: &Delivery) {
        if let Some(at) = delivery.message.expires_at {
            self.earliest_expiry = Some(self.earliest_expiry.map_or(at, |earliest| earliest.min(at)));
        }
    }

    fn forget(&mut self, delivery: &Delivery, counters: &Counters) {
        self.unaccount(delivery);
        Counters::sub(&counters.queued, 1);
    }

    /// Counts a delivery entering the queue in this session's totals.
    fn account(&mut self, delivery: &Delivery) {
        self.queued_bytes += delivery.size();
        self.queued_qos0 += usize::from(delivery.qos == QoS::AtMostOnce);
        self.queued_expiring += usize::from(delivery.message.expires_at.is_some());
        self.note_expiry(delivery);
    }

    /// Takes a delivery leaving the queue out of this session's totals.
    fn unaccount(&mut self, delivery: &Delivery) {
        self.queued_bytes -= delivery.size();
        self.queued_qos0 -= usize::from(delivery.qos == QoS::AtMostOnce);
        self.queued_expiring -= usize::from(delivery.message.expires_at.is_some());
    }

    /// Takes the next queued delivery that may be sent now, dropping expired ones.
    /// `window` is how many QoS 1/2 messages may be in flight.
    /// Stored deliveries dropped on the way are added to `expired_ids`. The caller takes
    /// the deliveries it gets out of `counters.queued` (in one step for a batch).
    pub(crate) fn next_to_send(
        &mut self,
        window: usize,
        now: Instant,
        counters: &Counters,
        expired_ids: &mut Vec<u64>,
    ) -> Option<Delivery> {
        loop {
            let front = self.queue.front()?;
            if front.message.is_expired(now) {
                let old = self.queue.pop_front().expect("front exists");
                self.forget(&old, counters);
                Counters::add(&counters.expired, 1);
                if old.store_id != 0 {
                    expired_ids.push(old.store_id);
                }
                continue;
            }
            // In-flight messages still to be resent come first (and keep their place at
            // the end of `inflight`).
            if front.qos != QoS::AtMostOnce && (self.inflight.len() >= window || self.unsent_resends > 0) {
                return None;
            }
            let delivery = self.queue.pop_front().expect("front exists");
            self.unaccount(&delivery);
            return Some(delivery);
        }
    }

    /// A packet identifier not used by any message in flight.
    pub(crate) fn next_packet_id(&mut self) -> u16 {
        loop {
            self.next_packet_id = self.next_packet_id.wrapping_add(1);
            if self.next_packet_id == 0 {
                self.next_packet_id = 1;
            }
            let id = self.next_packet_id;
            if !self.inflight.iter().any(|i| i.packet_id == id) {
                return id;
            }
        }
    }

    /// Drops everything queued and in flight (session discarded); returns the QoS 1/2
    /// deliveries that came from shared subscriptions, for redelivery to another member.
    pub(crate) fn clear_queue(&mut self, counters: &Counters) -> Vec<Delivery> {
        Counters::sub(&counters.queued, self.queue.len() as u64);
        let queued = self.queue.drain(..);
        let inflight = self.inflight.drain(..).filter(|i| i.state == OutState::Published).map(|i| i.delivery);
        let shared =
            inflight.chain(queued).filter(|d| d.shared.is_some() && d.qos != QoS::AtMostOnce).collect();
        self.queued_bytes = 0;
        self.queued_qos0 = 0;
        self.queued_expiring = 0;
        self.earliest_expiry = None;
        self.unsent_resends = 0;
        shared
    }

    /// A connection resumed the session: everything in flight is to be resent (MQTT-4.4.0-1);
    /// returns the entries that fit in `window`, the rest wait for [`Self::take_resends`].
    pub(crate) fn start_resend(&mut self, window: usize) -> Vec<Inflight> {
        self.unsent_resends = self.inflight.len();
        self.take_resends(window)
    }

    /// The next entries still to be resent, as many as `window` has room for, in order.
    pub(crate) fn take_resends(&mut self, window: usize) -> Vec<Inflight> {
        let sent = self.inflight.len() - self.unsent_resends;
        let count = window.saturating_sub(sent).min(self.unsent_resends);
        let first = self.inflight.len() - self.unsent_resends;
        self.unsent_resends -= count;
        self.inflight.range(first..first + count).cloned().collect()
    }

    /// Whether in-flight entries are still waiting to be resent.
    pub(crate) fn has_unsent_resends(&self) -> bool {
        self.unsent_resends > 0
    }

    /// Removes the in-flight entry at `pos` (acknowledged, or refused by the client).
    pub(crate) fn remove_inflight(&mut self, pos: usize) -> Option<Inflight> {
        if pos >= self.inflight.len() - self.unsent_resends {
            // Acknowledged before it was resent (the client had it from the last connection).
            self.unsent_resends -= 1;
        }
        self.inflight.remove(pos)
    }

    /// Puts a restored delivery back in the queue (no limits: it was accepted before).
    pub(crate) fn restore_queued(&mut self, delivery: Delivery, counters: &Counters) {
        self.account(&delivery);
        self.queue.push_back(delivery);
        Counters::add(&counters.queued, 1);
    }

    /// Finds the in-flight message with this packet identifier.
    pub(crate) fn inflight_position(&self, packet_id: u16) -> Option<usize> {
        self.inflight.iter().position(|i| i.packet_id == packet_id)
    }
}

/// A session, shared between the router (which queues deliveries into it) and the
/// connection attached to it (which sends them).
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client_id: Arc<str>,
    online: AtomicBool,
    /// Wakes the attached connection: something was queued, or it was taken over.
    pub(crate) notify: Notify,
    /// Wakes the tasks waiting for this session to let go: a connection taking it over
    /// (the attached one detached) and publishers slowed down for it (its queue drained).
    /// Each re-checks its own condition after waking.
    pub(crate) released: Notify,
    state: Mutex<SessionState>,
}

impl Session {
    pub(crate) fn new(client_id: Arc<str>, version: ProtocolVersion) -> Self {
        Session {
            client_id,
            online: AtomicBool::new(false),
            notify: Notify::new(),
            released: Notify::new(),
            state: Mutex::new(SessionState {
                version,
                owner: Owner::Client(None),
                subscriptions: BTreeMap::new(),
                queue: VecDeque::new(),
                queued_bytes: 0,
                queued_qos0: 0,
                queued_expiring: 0,
                earliest_expiry: None,
                inflight: VecDeque::new(),
                unsent_resends: 0,
                next_packet_id: 0,
                incoming_qos2: BTreeSet::new(),
                expiry_interval: 0,
                connection: None,
                taken_over: false,
                discarded: false,
                backpressure_off_until: None,
                generation: 0,
                pending_will: None,
                expires_at: None,
            }),
        }
    }

    /// Locks the state. A poisoned lock (a panic elsewhere) is recovered: the state is
    /// plain data that stays consistent between statements.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    pub(crate) fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Relaxed);
    }
}
