//! Session state that outlives a connection: packet identifiers, outgoing QoS 1/2
//! publications, incoming QoS 2 publications awaiting PUBREL, pending subscribe and
//! unsubscribe requests, and the subscriptions to restore when the server has no session.

use std::collections::HashMap;

use super::command::Reply;
use super::results::{PublishResult, SubscribeResult, UnsubscribeResult};
use crate::error::{Error, Result};
use crate::protocol::{Subscribe, Subscription, Unsubscribe};

/// Where an outgoing QoS 1/2 publication stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// PUBLISH sent (or to be sent); waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitingAck,
    /// PUBREL sent; waiting for PUBCOMP.
    AwaitingComplete,
}

#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) publish: crate::protocol::Publish,
    pub(crate) stage: Stage,
    pub(crate) reply: Reply<PublishResult>,
    /// Order of first sending, for resending in order after a reconnect.
    pub(crate) sequence: u64,
}

/// An incoming QoS 2 publication between PUBLISH and PUBREL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncomingQos2 {
    /// Delivered to the application, which has not acknowledged it yet (auto-ack off), on
    /// the connection with this id. Its acknowledgement counts on any later connection of
    /// the same session (the server resends the PUBLISH, MQTT-4.4.0-1, and waits for the
    /// PUBREC).
    AwaitingApplication { delivered_on: u64 },
    /// PUBREC sent.
    Received,
}

#[derive(Debug, Default)]
pub(crate) struct Session {
    next_packet_id: u16,
    next_sequence: u64,
    pub(crate) outgoing: HashMap<u16, Outgoing>,
    pub(crate) incoming_qos2: HashMap<u16, IncomingQos2>,
    /// SUBSCRIBE requests awaiting SUBACK, with their sequence number (submission order).
    pub(crate) subscribes: HashMap<u16, (u64, Subscribe, Reply<SubscribeResult>)>,
    /// UNSUBSCRIBE requests awaiting UNSUBACK, with their sequence number.
    pub(crate) unsubscribes: HashMap<u16, (u64, Unsubscribe, Reply<UnsubscribeResult>)>,
    /// Subscriptions the server acknowledged, with their Subscription Identifier, to restore
    /// when it has no session.
    pub(crate) subscriptions: Vec<(Subscription, Option<u32>)>,
}

impl Session {
    fn in_use(&self, id: u16) -> bool {
        self.outgoing.contains_key(&id)
            || self.subscribes.contains_key(&id)
            || self.unsubscribes.contains_key(&id)
    }

    /// A packet identifier not in flight (`MQTT-2.2.1-3`, never reused while in use).
    pub(crate) fn allocate_packet_id(&mut self) -> Result<u16> {
        for _ in 0..u16::MAX {
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if !self.in_use(self.next_packet_id) {
                return Ok(self.next_packet_id);
            }
        }
        Err(Error::PacketIdExhausted)
    }

    pub(crate) fn next_sequence(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence
    }

    /// Outgoing publications in the order they were first sent.
    pub(crate) fn outgoing_in_order(&self) -> Vec<u16> {
        let mut ids: Vec<(u64, u16)> = self.outgoing.iter().map(|(id, out)| (out.sequence, *id)).collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, id)| id).collect()
    }

    /// Records subscriptions the server granted (with the Subscription Identifier of their
    /// SUBSCRIBE), replacing earlier ones to the same filter.
    pub(crate) fn remember_subscriptions(
        &mut self,
        granted: impl IntoIterator<Item = Subscription>,
        id: Option<u32>,
    ) {
        for subscription in granted {
            self.subscriptions.retain(|(known, _)| known.filter != subscription.filter);
            self.subscriptions.push((subscription, id));
        }
    }

    pub(crate) fn forget_subscriptions(&mut self, filters: &[bytestring::ByteString]) {
        self.subscriptions.retain(|(known, _)| !filters.contains(&known.filter));
    }
}

/// SUBSCRIBE packets for `wanted` subscriptions (with their Subscription Identifiers): one
/// per identifier, in the order the identifiers come, each split so that it stays within the
/// server's Maximum Packet Size (MQTT-3.1.2-24).
pub(crate) fn restoring_subscribes(
    wanted: &[(Subscription, Option<u32>)],
    maximum_packet_size: Option<usize>,
) -> Vec<Subscribe> {
    // Fixed header, packet identifier and properties (a Subscription Identifier) take at most
    // 16 bytes; each subscription its filter, a length and an options byte.
    let budget = maximum_packet_size.map_or(usize::MAX, |max| max.saturating_sub(16));
    let size = |subscription: &Subscription| subscription.filter.len() + 3;
    let mut subscribes: Vec<(Subscribe, usize)> = Vec::new();
    for (subscription, id) in wanted {
        let room = subscribes.iter_mut().rev().find(|(subscribe, used)| {
            subscribe.properties.subscription_identifier == *id && used + size(subscription) <= budget
        });
        match room {
            Some((subscribe, used)) => {
                subscribe.subscriptions.push(subscription.clone());
                *used += size(subscription);
            }
            None => {
                let mut subscribe = Subscribe::new(0, vec![subscription.clone()]);
                subscribe.properties.subscription_identifier = *id;
                subscribes.push((subscribe, size(subscription)));
            }
        }
    }
    subscribes.into_iter().map(|(subscribe, _)| subscribe).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::QoS;

    #[test]
    fn restoring_subscribes_group_by_identifier_and_fit_the_maximum_packet_size() {
        let mut session = Session::default();
        let filter = |n: usize| Subscription::new(format!("filter/{n:03}"), QoS::AtLeastOnce);
        session.remember_subscriptions((0..10).map(filter), None);
        session.remember_subscriptions([filter(10)], Some(7));
        let unlimited = restoring_subscribes(&session.subscriptions, None);
        assert_eq!(unlimited.len(), 2);
        assert_eq!(
            (unlimited[0].subscriptions.len(), unlimited[0].properties.subscription_identifier),
            (10, None)
        );
        assert_eq!(
            (unlimited[1].subscriptions.len(), unlimited[1].properties.subscription_identifier),
            (1, Some(7))
        );
        // 13 bytes per subscription, 16 for the rest: 3 subscriptions fit in 60 bytes.
        let small = restoring_subscribes(&session.subscriptions, Some(60));
        let sizes: Vec<usize> = small.iter().map(|s| s.subscriptions.len()).collect();
        assert_eq!(sizes, [3, 3, 3, 1, 1]);
        for subscribe in small {
            let mut packet = subscribe;
            packet.packet_id = 1;
            let len = crate::protocol::Packet::Subscribe(packet)
                .encoded_len(crate::protocol::ProtocolVersion::V5)
                .unwrap();
            assert!(len <= 60, "{len}");
        }
    }
}
