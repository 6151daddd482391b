//! p50 and p99 publish-to-delivery latency at 1,000 msg/s.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mqttkit::protocol::{Packet, ProtocolVersion, Publish, QoS};

use super::conn::{Conn, io_err, payload, seq_of, stamp_of};

/// Messages sent before the measured ones (connection warm-up).
const WARM_UP: u64 = 300;

/// p50 and p99 latency of QoS 0 messages published at 1,000 msg/s for `duration`, each
/// stamped with its send time and timed when its read completes.
pub(crate) async fn run(addr: SocketAddr, duration: Duration) -> Result<(Duration, Duration), String> {
    let v = ProtocolVersion::V311;
    let topic = "bench/latency";
    let base = Instant::now();
    let mut sub = Conn::connect(addr, "latency-sub", v).await?;
    sub.subscribe(topic, QoS::AtMostOnce).await?;
    let mut publisher = Conn::connect(addr, "latency-pub", v).await?;
    let total = (duration.as_secs_f64() * 1000.0) as u64 + WARM_UP;
    let reader = tokio::spawn(async move {
        let mut samples = Vec::with_capacity(total as usize);
        while (samples.len() as u64) < total - WARM_UP {
            let mut stamps = Vec::new();
            let read = sub.recv_batch(|p| {
                if let Packet::Publish(p) = p {
                    stamps.push((seq_of(&p.payload), stamp_of(&p.payload)));
                }
            });
            let read = tokio::time::timeout(Duration::from_secs(2), read).await;
            let now = base.elapsed().as_nanos() as u64;
            if !matches!(read, Ok(Ok(()))) {
                break;
            }
            for (seq, stamp) in stamps {
                if seq >= WARM_UP {
                    samples.push(now.saturating_sub(stamp));
                }
            }
        }
        samples
    });
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    for seq in 0..total {
        ticker.tick().await;
        let stamp = base.elapsed().as_nanos() as u64;
        publisher.push(&Packet::Publish(Publish::new(topic, payload(seq, stamp), QoS::AtMostOnce)));
        publisher.flush().await?;
    }
    let mut samples = reader.await.map_err(io_err)?;
    if samples.is_empty() {
        return Err("no message delivered".into());
    }
    samples.sort_unstable();
    let pick = |q: f64| Duration::from_nanos(samples[((samples.len() - 1) as f64 * q) as usize]);
    Ok((pick(0.50), pick(0.99)))
}
