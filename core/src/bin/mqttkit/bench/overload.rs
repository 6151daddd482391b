//! QoS 1 under overload: every message accounted for (acknowledged, refused with a reason
//! code, or delivered), so that a silent drop shows.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mqttkit::protocol::{Packet, ProtocolVersion, PubAck, Publish, QoS};

use super::conn::{Conn, payload, seq_of};
use super::throughput::WINDOW;

pub(crate) struct Overload {
    pub(crate) published: u64,
    pub(crate) acked_ok: u64,
    pub(crate) refused: BTreeMap<u8, u64>,
    pub(crate) unacked: u64,
    pub(crate) delivered: u64,
    pub(crate) duplicates: u64,
}

/// QoS 1 towards a subscriber that does not read: the publisher sends `messages` (window
/// 64, at most 10 s), then the subscriber reads and acknowledges everything until nothing
/// arrives for 2 s. Every message is accounted for.
pub(crate) async fn run(addr: SocketAddr, messages: usize) -> Result<Overload, String> {
    let v = ProtocolVersion::V5;
    let topic = "bench/overload";
    let mut sub = Conn::connect(addr, "overload-sub", v).await?;
    sub.subscribe(topic, QoS::AtLeastOnce).await?;
    let mut publisher = Conn::connect(addr, "overload-pub", v).await?;
    let mut result = Overload {
        published: 0,
        acked_ok: 0,
        refused: BTreeMap::new(),
        unacked: 0,
        delivered: 0,
        duplicates: 0,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut inflight = 0usize;
    let mut seq = 0u64;
    'publish: while (seq as usize) < messages || inflight > 0 {
        while inflight < WINDOW && (seq as usize) < messages {
            seq += 1;
            let id = (seq % 65_000 + 1) as u16;
            publisher.push(&Packet::Publish(
                Publish::new(topic, payload(seq, 0), QoS::AtLeastOnce).with_packet_id(id),
            ));
            inflight += 1;
        }
        publisher.flush().await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut acks = Vec::new();
        match tokio::time::timeout(
            remaining,
            publisher.recv_batch(|p| {
                if let Packet::PubAck(ack) = p {
                    acks.push(ack.reason_code);
                }
            }),
        )
        .await
        {
            Ok(r) => r?,
            Err(_) => break 'publish,
        }
        for code in acks {
            inflight = inflight.saturating_sub(1);
            if code.is_error() {
                *result.refused.entry(code.code()).or_default() += 1;
            } else {
                result.acked_ok += 1;
            }
        }
    }
    result.published = seq;
    result.unacked = inflight as u64;
    let mut seen = HashSet::new();
    let drain_end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < drain_end {
        let mut acks = Vec::new();
        let mut got = Vec::new();
        match tokio::time::timeout(
            Duration::from_secs(2),
            sub.recv_batch(|p| {
                if let Packet::Publish(p) = p {
                    got.push(seq_of(&p.payload));
                    if p.qos == QoS::AtLeastOnce {
                        acks.push(p.packet_id);
                    }
                }
            }),
        )
        .await
        {
            Ok(r) => r?,
            Err(_) => break,
        }
        for s in got {
            if !seen.insert(s) {
                result.duplicates += 1;
            }
        }
        for id in acks {
            sub.push(&Packet::PubAck(PubAck::new(id)));
        }
        sub.flush().await?;
    }
    result.delivered = seen.len() as u64;
    Ok(result)
}

impl Overload {
    /// One line of the report.
    pub(crate) fn describe(&self, name: &str) -> String {
        let refused: u64 = self.refused.values().sum();
        let codes: Vec<String> = self.refused.iter().map(|(c, n)| format!("{n}×0x{c:02X}")).collect();
        let silent = self.acked_ok.saturating_sub(self.delivered);
        format!(
            "{name:>10}: published {}, PUBACK success {}, refused with a reason code {} [{}], \
             unacknowledged at the deadline {}, delivered {} (+{} duplicates), \
             acknowledged but never delivered (silent drop) {}",
            self.published,
            self.acked_ok,
            refused,
            codes.join(" "),
            self.unacked,
            self.delivered,
            self.duplicates,
            silent
        )
    }
}
