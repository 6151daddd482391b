//! Live counters of a running broker.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a broker's counters ([`super::BrokerHandle::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerStats {
    /// Connections currently open (CONNECT accepted or not).
    pub connections: u64,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// Most connections open at once since start.
    pub connections_max: u64,
    /// PUBLISH packets received from clients (wills included).
    pub messages_in: u64,
    /// PUBLISH packets sent to clients.
    pub messages_out: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Subscriptions currently held by sessions.
    pub subscriptions: u64,
    /// Retained messages currently stored (the broker's own `$SYS` messages left out).
    pub retained: u64,
    /// Messages waiting in session queues (not yet in flight).
    pub queued: u64,
    /// Messages that were not delivered to a subscriber: queue full, larger than the
    /// client's Maximum Packet Size, or retained store full. Every drop is also logged.
    pub dropped: u64,
    /// Messages discarded because their Message Expiry Interval passed while queued.
    pub expired: u64,
    /// Pauses imposed by the rate limits: a connection not read from because it was over
    /// `max_publish_rate` or `max_publish_bytes_rate`, a listener not accepting because it
    /// was over `max_connection_rate`.
    pub throttled: u64,
    /// PUBLISH packets and wills refused because their client may not write the topic.
    pub publish_denied: u64,
    /// SUBSCRIBE topic filters refused because their client may not read what they match.
    pub subscribe_denied: u64,
}

/// The atomic counters behind [`BrokerStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_max: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) subscriptions: AtomicU64,
    pub(crate) retained: AtomicU64,
    pub(crate) queued: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) publish_denied: AtomicU64,
    pub(crate) subscribe_denied: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BrokerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BrokerStats {
            connections: get(&self.connections),
            connections_total: get(&self.connections_total),
            connections_max: get(&self.connections_max),
            messages_in: get(&self.messages_in),
            messages_out: get(&self.messages_out),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            subscriptions: get(&self.subscriptions),
            retained: get(&self.retained),
            queued: get(&self.queued),
            dropped: get(&self.dropped),
            expired: get(&self.expired),
            throttled: get(&self.throttled),
            publish_denied: get(&self.publish_denied),
            subscribe_denied: get(&self.subscribe_denied),
        }
    }
}
