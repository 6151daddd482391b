//! Broker rate limits (`limits.max_publish_rate`, `max_publish_bytes_rate`,
//! `max_connection_rate`): a client over its limit is slowed down, never dropped from, and
//! only that client is; the limits are checked at start.
//!
//! The assertions on time are lower bounds, which the token buckets guarantee however
//! fast the machine is; the others are on the order of packets.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use mqttkit::broker::{BrokerConfig, Limits};
use mqttkit::protocol::{Packet, Publish, QoS};
use support::{TestClient, start_broker_with};

fn limited(limits: Limits) -> BrokerConfig {
    BrokerConfig { limits, ..BrokerConfig::default() }
}

fn message(topic: &str, payload: Vec<u8>) -> Packet {
    Packet::Publish(Publish::new(topic, Bytes::from(payload), QoS::AtMostOnce))
}

#[tokio::test]
async fn a_publisher_over_max_publish_rate_is_slowed_down_and_loses_nothing() {
    let broker = start_broker_with(limited(Limits { max_publish_rate: Some(20), ..Limits::default() })).await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("rate/#", QoS::AtMostOnce).await;
    let mut fast = TestClient::connect(addr, "fast").await;
    let mut calm = TestClient::connect(addr, "calm").await;

    let start = Instant::now();
    for i in 0..50u32 {
        fast.send(message("rate/fast", i.to_be_bytes().to_vec())).await;
    }
    // The limit is per connection: another publisher is not held up behind the fast one.
    calm.send(message("rate/calm", b"calm".to_vec())).await;
    let mut fast_seen = Vec::new();
    let mut calm_before_last_fast = false;
    while fast_seen.len() < 50 {
        let publish = sub.recv_publish().await;
        match &*publish.topic {
            "rate/fast" => fast_seen.push(u32::from_be_bytes(publish.payload[..].try_into().unwrap())),
            "rate/calm" => calm_before_last_fast = true,
            other => panic!("unexpected topic {other}"),
        }
    }
    // 20 at once (one second's burst), the other 30 at 20 a second.
    assert!(start.elapsed() >= Duration::from_millis(1400), "not paced: {:?}", start.elapsed());
    assert_eq!(fast_seen, (0..50).collect::<Vec<_>>(), "every message, in order");
    assert!(calm_before_last_fast, "the calm publisher waited for the fast one");
    assert!(broker.stats().throttled >= 1);
    fast.ping().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_publisher_over_max_publish_bytes_rate_is_paced_by_bytes() {
    let limits = Limits { max_publish_bytes_rate: Some(100_000), ..Limits::default() };
    let broker = start_broker_with(limited(limits)).await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("bytes", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "publisher").await;

    let start = Instant::now();
    for i in 0..300u32 {
        publisher.send(message("bytes", vec![i as u8; 1000])).await;
    }
    for i in 0..300u32 {
        let publish = sub.recv_publish().await;
        assert_eq!(&publish.payload[..], &[i as u8; 1000][..]);
    }
    // About 300 kB at 100 kB/s: a burst of one second's worth, and the last read (at most
    // 64 KiB) is handled before its debt is paid, so at least (300 - 100 - 64) / 100 s.
    assert!(start.elapsed() >= Duration::from_millis(1300), "not paced: {:?}", start.elapsed());
    assert!(broker.stats().throttled >= 1);
    broker.shutdown().await;
}

#[tokio::test]
async fn a_throttled_client_still_receives_its_messages() {
    let broker = start_broker_with(limited(Limits { max_publish_rate: Some(10), ..Limits::default() })).await;
    let addr = broker.local_addr();
    let mut throttled = TestClient::connect(addr, "throttled").await;
    throttled.subscribe("to/throttled", QoS::AtMostOnce).await;
    let mut other = TestClient::connect(addr, "other").await;

    // 40 publishes at 10 a second: the broker reads this client for about 3 more seconds,
    // and answers its PINGREQ only after them.
    for _ in 0..40 {
        throttled.send(message("elsewhere", b"x".to_vec())).await;
    }
    throttled.send(Packet::PingReq).await;
    other.send(message("to/throttled", b"for you".to_vec())).await;
    match throttled.recv().await {
        Packet::Publish(publish) => assert_eq!(&publish.payload[..], b"for you"),
        other => panic!("expected the delivery before PINGRESP, got {other:?}"),
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn a_listener_over_max_connection_rate_accepts_later_not_never() {
    let broker =
        start_broker_with(limited(Limits { max_connection_rate: Some(5), ..Limits::default() })).await;
    let addr = broker.local_addr();
    let start = Instant::now();
    let mut clients = Vec::new();
    for i in 0..10 {
        clients.push(TestClient::connect(addr, &format!("c{i}")).await);
    }
    // 5 at once, the other 5 at 5 a second.
    assert!(start.elapsed() >= Duration::from_millis(800), "not paced: {:?}", start.elapsed());
    assert!(broker.stats().throttled >= 1);
    for client in clients {
        client.disconnect().await;
    }
    broker.shutdown().await;
}

#[test]
fn a_zero_rate_is_rejected_with_its_name() {
    let error = BrokerConfig::from_toml_str("[limits]\nmax_publish_rate = 0\n", "broker.toml")
        .expect_err("0 is not a rate");
    let text = error.to_string();
    assert!(text.contains("broker.toml") && text.contains("limits.max_publish_rate"), "{text}");
    let config = BrokerConfig::from_toml_str(
        "[limits]\nmax_publish_rate = 100\nmax_publish_bytes_rate = 65536\nmax_connection_rate = 50\n",
        "broker.toml",
    )
    .expect("valid limits");
    assert_eq!(config.limits.max_publish_rate, Some(100));
    assert_eq!(config.limits.max_publish_bytes_rate, Some(65536));
    assert_eq!(config.limits.max_connection_rate, Some(50));
}
