//! The throughput rows: 1:1 QoS 0 and QoS 1, fan-in and fan-out, in deliveries per second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqttkit::protocol::{ProtocolVersion, QoS};
use tokio::sync::Notify;

use super::conn::{self, Conn};
use super::report::{Cpu, Sample};

/// QoS 1 messages a publisher keeps unacknowledged.
pub(crate) const WINDOW: usize = 64;

/// One throughput row.
pub(crate) struct Shape {
    pub(crate) publishers: usize,
    pub(crate) subscribers: usize,
    pub(crate) qos: QoS,
}

/// Deliveries per second with `shape` on one topic for `duration` (after 0.5 s of warm-up),
/// with the CPU the broker (process `pid`) and this load generator used meanwhile. Each publisher keeps at most [`WINDOW`] QoS 1 messages
/// unacknowledged; all publishers together stay at most `ahead` messages per subscriber
/// ahead of the deliveries (below every broker's queue limit), so that the row measures
/// sustained forwarding, not dropping.
pub(crate) async fn run(
    addr: SocketAddr,
    shape: &Shape,
    duration: Duration,
    ahead: u64,
    tag: &str,
    pid: u32,
) -> Result<Sample, String> {
    let v = ProtocolVersion::V311;
    let topic = format!("bench/{tag}");
    let received = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..shape.subscribers {
        let mut conn = Conn::connect(addr, &format!("{tag}-sub-{i}"), v).await?;
        conn.subscribe(&topic, shape.qos).await?;
        tasks.push(tokio::spawn(subscriber(conn, received.clone(), progress.clone())));
    }
    let frame = conn::publish_frame(&topic, conn::payload(0, 0), shape.qos, v);
    let publisher = Publisher {
        received: received.clone(),
        sent: AtomicU64::new(0),
        progress,
        stop: stop.clone(),
        subscribers: shape.subscribers as u64,
        ahead: ahead * shape.subscribers as u64,
        qos: shape.qos,
        topic_len: topic.len(),
    };
    let publisher = Arc::new(publisher);
    for i in 0..shape.publishers {
        let conn = Conn::connect(addr, &format!("{tag}-pub-{i}"), v).await?;
        tasks.push(tokio::spawn(publisher.clone().run(conn, frame.clone())));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = Cpu::start(pid);
    let (r0, t0) = (received.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(duration).await;
    let (r1, t1) = (received.load(Ordering::Relaxed), Instant::now());
    let sample = cpu.sample((r1 - r0) as f64 / (t1 - t0).as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    Ok(sample)
}

/// Counts the PUBLISH packets it reads and acknowledges the QoS 1 ones.
async fn subscriber(mut conn: Conn, received: Arc<AtomicU64>, progress: Arc<Notify>) {
    loop {
        let mut n = 0;
        let mut acks = Vec::new();
        let read = conn.scan_batch(|first, body| {
            if conn::is_publish(first) {
                n += 1;
                if let Some(id) = conn::publish_packet_id(first, body) {
                    acks.push(id);
                }
            }
        });
        if read.await.is_err() {
            return;
        }
        for id in acks {
            conn.output.extend_from_slice(&conn::puback(id));
        }
        if conn.flush().await.is_err() {
            return;
        }
        received.fetch_add(n, Ordering::Relaxed);
        progress.notify_waiters();
    }
}

struct Publisher {
    received: Arc<AtomicU64>,
    sent: AtomicU64,
    progress: Arc<Notify>,
    stop: Arc<AtomicBool>,
    subscribers: u64,
    ahead: u64,
    qos: QoS,
    topic_len: usize,
}

impl Publisher {
    /// Publishes copies of `frame` in batches of [`WINDOW`] until told to stop.
    async fn run(self: Arc<Self>, mut conn: Conn, mut frame: BytesMut) {
        let mut inflight = 0usize;
        let mut next_id: u16 = 0;
        while !self.stop.load(Ordering::Relaxed) {
            if !self.wait_for_subscribers().await {
                return;
            }
            let batch = if self.qos == QoS::AtMostOnce { WINDOW } else { WINDOW - inflight };
            for _ in 0..batch {
                if self.qos != QoS::AtMostOnce {
                    next_id = next_id % 65_000 + 1;
                    conn::set_packet_id(&mut frame, self.topic_len, next_id);
                    inflight += 1;
                }
                conn.output.extend_from_slice(&frame);
            }
            self.sent.fetch_add(batch as u64, Ordering::Relaxed);
            if conn.flush().await.is_err() {
                return;
            }
            if self.qos == QoS::AtMostOnce {
                tokio::task::yield_now().await;
                continue;
            }
            while inflight >= WINDOW {
                let mut acked = 0;
                if conn.scan_batch(|first, _| acked += usize::from(conn::is_puback(first))).await.is_err() {
                    return;
                }
                inflight -= acked.min(inflight);
            }
        }
    }

    /// End-to-end window: waits for the subscribers to catch up; false once stopped.
    async fn wait_for_subscribers(&self) -> bool {
        loop {
            let notified = self.progress.notified();
            let sent = self.sent.load(Ordering::Relaxed) * self.subscribers;
            if sent <= self.received.load(Ordering::Relaxed) + self.ahead {
                return true;
            }
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            // No delivery for 50 ms: the broker dropped what is missing (QoS 0); carry on
            // rather than stall.
            if tokio::time::timeout(Duration::from_millis(50), notified).await.is_err() {
                return true;
            }
        }
    }
}
