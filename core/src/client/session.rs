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
    /// Delivered to the application, which has not acknowledged it yet (auto-ack off).
    AwaitingApplication,
    /// PUBREC sent.
    Received,
}

#[derive(Debug, Default)]
pub(crate) struct Session {
    next_packet_id: u16,
    next_sequence: u64,
    pub(crate) outgoing: HashMap<u16, Outgoing>,
    pub(crate) incoming_qos2: HashMap<u16, IncomingQos2>,
    pub(crate) subscribes: HashMap<u16, (Subscribe, Reply<SubscribeResult>)>,
    pub(crate) unsubscribes: HashMap<u16, (Unsubscribe, Reply<UnsubscribeResult>)>,
    /// Subscriptions the server acknowledged, to restore when it has no session.
    pub(crate) subscriptions: Vec<Subscription>,
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

    /// Records subscriptions the server granted, replacing earlier ones to the same filter.
    pub(crate) fn remember_subscriptions(&mut self, granted: impl IntoIterator<Item = Subscription>) {
        for subscription in granted {
            self.subscriptions.retain(|known| known.filter != subscription.filter);
            self.subscriptions.push(subscription);
        }
    }

    pub(crate) fn forget_subscriptions(&mut self, filters: &[bytestring::ByteString]) {
        self.subscriptions.retain(|known| !filters.contains(&known.filter));
    }
}
