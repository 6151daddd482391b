//! Broker limits from the configuration: the inflight window towards a client, queued bytes
//! per session, the Message Expiry cap and the retained-message cap. What happens at each
//! limit is counted, never silent.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use bytes::Bytes;
use mqttkit::broker::{BrokerConfig, Limits};
use mqttkit::protocol::{Connect, ConnectProperties, Packet, PubAck, Publish, QoS, ReasonCode};
use support::{TestClient, start_broker_with, wait_until};

fn with_limits(limits: Limits) -> BrokerConfig {
    BrokerConfig { limits, ..BrokerConfig::default() }
}

fn persistent(client_id: &str) -> Connect {
    Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(300), ..Default::default() },
        ..Connect::new(client_id)
    }
}

/// `max_inflight` caps the window even for a client whose Receive Maximum is larger: no
/// more than 2 unacknowledged messages at once, the next one after each PUBACK.
#[tokio::test]
async fn max_inflight_caps_unacknowledged_messages_towards_a_client() {
    let broker = start_broker_with(with_limits(Limits { max_inflight: 2, ..Limits::default() })).await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("w", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    for i in 0..4 {
        publisher.publish_simple("w", &i.to_string(), QoS::AtLeastOnce).await;
    }
    let first = sub.recv_publish().await;
    let second = sub.recv_publish().await;
    sub.expect_nothing().await;
    sub.send(Packet::PubAck(PubAck::new(first.packet_id))).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"2");
    sub.expect_nothing().await;
    sub.send(Packet::PubAck(PubAck::new(second.packet_id))).await;
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"3");
    broker.shutdown().await;
}

/// `max_queued_bytes` (topic + payload) per session: a QoS 1 message that does not fit is
/// refused with 0x97 Quota exceeded and counted in `dropped`.
#[tokio::test]
async fn max_queued_bytes_refuses_qos1_beyond_it() {
    let broker = start_broker_with(with_limits(Limits { max_queued_bytes: 1000, ..Limits::default() })).await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("offline")).await;
    sub.subscribe("b", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let payload = "x".repeat(599);
    assert_eq!(publisher.publish_simple("b", &payload, QoS::AtLeastOnce).await, ReasonCode::Success);
    assert_eq!(publisher.publish_simple("b", &payload, QoS::AtLeastOnce).await, ReasonCode::QuotaExceeded);
    assert_eq!(publisher.publish_simple("b", &"y".repeat(399), QoS::AtLeastOnce).await, ReasonCode::Success);
    assert_eq!(broker.stats().dropped, 1);
    let (mut sub, _) = TestClient::connect_with(addr, persistent("offline")).await;
    assert_eq!(sub.recv_and_ack().await.payload.len(), 599);
    assert_eq!(sub.recv_and_ack().await.payload.len(), 399);
    sub.expect_nothing().await;
    broker.shutdown().await;
}

/// `max_message_expiry` caps the Message Expiry Interval, and gives one to messages that
/// have none: the subscriber sees at most the cap.
#[tokio::test]
async fn max_message_expiry_caps_and_sets_the_interval() {
    let broker =
        start_broker_with(with_limits(Limits { max_message_expiry: Some(60), ..Limits::default() })).await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("e/#", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let mut long = Publish::new("e/long", Bytes::from_static(b"l"), QoS::AtLeastOnce);
    long.properties.message_expiry_interval = Some(3600);
    publisher.publish(long).await;
    publisher.publish_simple("e/none", "n", QoS::AtLeastOnce).await;
    let mut short = Publish::new("e/short", Bytes::from_static(b"s"), QoS::AtLeastOnce);
    short.properties.message_expiry_interval = Some(10);
    publisher.publish(short).await;
    for (topic, most) in [("e/long", 60), ("e/none", 60), ("e/short", 10)] {
        let got = sub.recv_and_ack().await;
        assert_eq!(&*got.topic, topic);
        let left = got.properties.message_expiry_interval.expect("an expiry interval");
        assert!((most - 1..=most).contains(&left), "{topic}: {left}");
    }
    broker.shutdown().await;
}

/// `max_retained_messages`: a retained message on a new topic beyond the cap is delivered
/// but not retained (counted in `dropped`); replacing or deleting a stored one still works.
#[tokio::test]
async fn max_retained_messages_keeps_the_first_and_counts_the_rest() {
    let broker =
        start_broker_with(with_limits(Limits { max_retained_messages: 1, ..Limits::default() })).await;
    let addr = broker.local_addr();
    let mut live = TestClient::connect(addr, "live").await;
    live.subscribe("r/#", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let retained = |topic: &str, payload: &'static [u8]| {
        let mut publish = Publish::new(topic, Bytes::from_static(payload), QoS::AtLeastOnce);
        publish.retain = true;
        publish
    };
    assert_eq!(publisher.publish(retained("r/first", b"1")).await, ReasonCode::Success);
    assert_eq!(publisher.publish(retained("r/second", b"2")).await, ReasonCode::Success);
    assert_eq!(publisher.publish(retained("r/first", b"one")).await, ReasonCode::Success);
    for payload in [&b"1"[..], b"2", b"one"] {
        assert_eq!(&live.recv_and_ack().await.payload[..], payload, "delivered live");
    }
    assert_eq!((broker.stats().retained, broker.stats().dropped), (1, 1));
    let mut late = TestClient::connect(addr, "late").await;
    late.subscribe("r/#", QoS::AtLeastOnce).await;
    let got = late.recv_and_ack().await;
    assert_eq!((&*got.topic, &got.payload[..]), ("r/first", &b"one"[..]));
    late.expect_nothing().await;

    // Deleting the stored one makes room again.
    assert_eq!(publisher.publish(retained("r/first", b"")).await, ReasonCode::Success);
    wait_until("the retained message is deleted", || broker.stats().retained == 0).await;
    assert_eq!(publisher.publish(retained("r/second", b"2")).await, ReasonCode::Success);
    wait_until("the new one is retained", || broker.stats().retained == 1).await;
    broker.shutdown().await;
}
