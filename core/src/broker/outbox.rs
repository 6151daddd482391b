//! The QoS 0 deliveries a connection routed while handling one read's worth of packets,
//! grouped by receiving session, so that each session's queue is locked and its connection
//! woken once per batch instead of once per message.
//!
//! A fan-out publisher otherwise locks every subscriber's queue once per message while the
//! subscribers' connections lock the same queues to drain them: on a multi-core runtime each
//! of those locks moves the queue's cache line between cores. QoS 0 deliveries can wait for
//! the end of the batch because nothing is answered for them: they cannot be refused and
//! never slow the publisher down. The connection flushes its outbox before it handles any
//! other packet (so a QoS 1/2 message or a subscription change stays behind the QoS 0
//! messages received before it), at the end of each read, and when it ends.

use std::collections::HashMap;
use std::sync::Arc;

use super::session::{Delivery, Session};

/// Flush when this many deliveries are waiting, even within one read.
pub(crate) const MAX_DELIVERIES: usize = 4096;
/// Up to this many groups, a session's group is found by a linear search (no index).
const LINEAR: usize = 8;

/// Deliveries waiting to be queued, by session, in routing order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    groups: Vec<Group>,
    /// Group of each session by address, for sessions not found at their usual place among
    /// more than [`LINEAR`] groups; filled lazily, in group order.
    index: HashMap<usize, usize>,
    deliveries: usize,
    /// Messages routed into this outbox since the last flush.
    pub(crate) messages: u64,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) session: Arc<Session>,
    pub(crate) deliveries: Vec<Delivery>,
}

impl Outbox {
    /// Adds a delivery for `session`, the `nth` receiver of its message: a message's
    /// receivers usually come in the same order as the previous message's, so the `nth`
    /// group is tried first.
    pub(crate) fn push(&mut self, nth: usize, session: &Arc<Session>, delivery: Delivery) {
        let at = match self.groups.get(nth) {
            Some(group) if Arc::ptr_eq(&group.session, session) => nth,
            _ => self.find(session).unwrap_or_else(|| {
                self.groups.push(Group { session: session.clone(), deliveries: Vec::new() });
                self.groups.len() - 1
            }),
        };
        self.groups[at].deliveries.push(delivery);
        self.deliveries += 1;
    }

    /// The group of `session`: searched among a few, looked up by address among many.
    fn find(&mut self, session: &Arc<Session>) -> Option<usize> {
        if self.groups.len() <= LINEAR {
            return self.groups.iter().position(|group| Arc::ptr_eq(&group.session, session));
        }
        // The index holds the first `index.len()` groups: add the ones created since.
        for (at, group) in self.groups.iter().enumerate().skip(self.index.len()) {
            self.index.insert(Arc::as_ptr(&group.session) as usize, at);
        }
        self.index.get(&(Arc::as_ptr(session) as usize)).copied()
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.messages == 0 && self.deliveries == 0
    }

    /// Whether it should be flushed before more is routed into it.
    pub(crate) fn is_full(&self) -> bool {
        self.deliveries >= MAX_DELIVERIES
    }

    /// Takes the groups out (in order of first delivery) and the message count.
    pub(crate) fn take(&mut self) -> (std::vec::Drain<'_, Group>, u64) {
        self.index.clear();
        self.deliveries = 0;
        (self.groups.drain(..), std::mem::take(&mut self.messages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::session::Message;
    use crate::protocol::{ProtocolVersion, Publish, QoS};

    fn delivery(n: u8) -> Delivery {
        let publish = Publish::new("t", bytes::Bytes::from(vec![n]), QoS::AtMostOnce);
        Delivery {
            message: Arc::new(Message::from_publish(publish, "t".into(), None, None)),
            qos: QoS::AtMostOnce,
            retain: false,
            subscription_ids: Vec::new(),
            shared: None,
            store_id: 0,
        }
    }

    fn session(id: &str) -> Arc<Session> {
        Arc::new(Session::new(id.into(), ProtocolVersion::V5))
    }

    /// Each session gets one group holding its deliveries in routing order, whatever order
    /// the receivers come in.
    #[test]
    fn groups_by_session_keeping_each_sessions_order() {
        let (a, b, c) = (session("a"), session("b"), session("c"));
        let mut outbox = Outbox::default();
        let routed = [vec![&a, &b], vec![&b, &a], vec![&c, &a, &b], vec![&a, &b, &c]];
        let mut n = 0;
        for receivers in routed {
            for (nth, session) in receivers.into_iter().enumerate() {
                outbox.push(nth, session, delivery(n));
                n += 1;
            }
            outbox.messages += 1;
        }
        assert!(!outbox.is_empty());
        let (groups, messages) = outbox.take();
        assert_eq!(messages, 4);
        let got: Vec<(String, Vec<u8>)> = groups
            .map(|g| {
                (g.session.client_id.to_string(), g.deliveries.iter().map(|d| d.message.payload[0]).collect())
            })
            .collect();
        assert_eq!(
            got,
            [("a".into(), vec![0, 3, 5, 7]), ("b".into(), vec![1, 2, 6, 8]), ("c".into(), vec![4, 9])]
        );
        assert!(outbox.is_empty());
    }

    /// Beyond the linear search: many sessions in a different order for every message.
    #[test]
    fn groups_many_sessions_through_the_index() {
        let sessions: Vec<Arc<Session>> = (0..3 * LINEAR).map(|i| session(&i.to_string())).collect();
        let mut outbox = Outbox::default();
        for round in 0..4u8 {
            for (nth, i) in
                (0..sessions.len()).map(|k| (k * 5 + usize::from(round)) % sessions.len()).enumerate()
            {
                outbox.push(nth, &sessions[i], delivery(round));
            }
            outbox.messages += 1;
        }
        let (groups, _) = outbox.take();
        let groups: Vec<Group> = groups.collect();
        assert_eq!(groups.len(), sessions.len());
        for group in groups {
            let payloads: Vec<u8> = group.deliveries.iter().map(|d| d.message.payload[0]).collect();
            assert_eq!(payloads, [0, 1, 2, 3], "{}", group.session.client_id);
        }
    }
}
