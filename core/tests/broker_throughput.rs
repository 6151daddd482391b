//! Throughput smoke benchmark (ignored by default; not the comparative benchmark of the
//! issue): `cargo test --release -p mqttkit --features broker,protocol-testing --test
//! broker_throughput -- --ignored --nocapture`.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use std::time::Instant;

use bytes::BytesMut;
use mqttkit::protocol::{Packet, ProtocolVersion, PubAck, Publish, QoS};
use support::{TestClient, start_broker};

async fn one_to_one(qos: QoS) {
    let messages: usize =
        std::env::var("MQTTKIT_BENCH_MESSAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("bench", qos).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let payload = bytes::Bytes::from(vec![b'x'; 64]);
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        // Pipelined: encode in batches, read acknowledgements as they come.
        let mut sent = 0;
        let mut acked = 0;
        while sent < messages {
            let mut buf = BytesMut::new();
            for _ in 0..64.min(messages - sent) {
                sent += 1;
                let publish =
                    Publish::new("bench", payload.clone(), qos).with_packet_id((sent % 60_000 + 1) as u16);
                Packet::Publish(publish).encode(ProtocolVersion::V5, &mut buf).unwrap();
            }
            publisher.raw.send_raw(&buf).await.unwrap();
            if qos != QoS::AtMostOnce {
                while acked + 64 < sent {
                    publisher.recv().await;
                    acked += 1;
                }
            }
        }
        publisher
    });
    let mut received = 0;
    let mut acks = BytesMut::new();
    // QoS 0 may be dropped under overload (drop-oldest, counted): every message is either
    // received or counted as dropped.
    while received + (broker.stats().dropped as usize) < messages {
        let Ok(packet) = sub.raw.receive_packet(ProtocolVersion::V5, std::time::Duration::from_secs(2)).await
        else {
            continue;
        };
        let Packet::Publish(publish) = packet else { continue };
        received += 1;
        if publish.qos == QoS::AtLeastOnce {
            Packet::PubAck(PubAck::new(publish.packet_id)).encode(ProtocolVersion::V5, &mut acks).unwrap();
            if acks.len() >= 32 * 4 {
                sub.raw.send_raw(&acks).await.unwrap();
                acks.clear();
            }
        }
    }
    if !acks.is_empty() {
        sub.raw.send_raw(&acks).await.unwrap();
    }
    let elapsed = start.elapsed();
    let _ = producer.await;
    let rate = received as f64 / elapsed.as_secs_f64();
    println!(
        "1:1 QoS {}: {received} of {messages} messages of 64 B delivered in {elapsed:?} = {rate:.0} msg/s",
        qos as u8
    );
    println!("{:?}", broker.stats());
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn throughput_one_to_one_qos0() {
    one_to_one(QoS::AtMostOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn throughput_one_to_one_qos1() {
    one_to_one(QoS::AtLeastOnce).await;
}
