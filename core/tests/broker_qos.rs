//! Broker: publish/subscribe with QoS 0, 1 and 2 in both directions, both protocol
//! versions, subscription options and routing rules.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use bytes::Bytes;
use mqttkit::broker::{BrokerConfig, SysConfig};
use mqttkit::protocol::{
    Packet, PubRec, PubRel, Publish, QoS, ReasonCode, RetainHandling, Subscribe, Subscription,
    SubscriptionOptions,
};
use support::{TestClient, start_broker, start_broker_with};

#[tokio::test]
async fn qos0_between_v5_and_v311_clients() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub5 = TestClient::connect(addr, "sub5").await;
    let mut sub3 = TestClient::connect_v311(addr, "sub3").await;
    sub5.subscribe("a/+", QoS::AtMostOnce).await;
    sub3.subscribe("a/#", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect_v311(addr, "pub").await;
    publisher.publish_simple("a/b", "hello", QoS::AtMostOnce).await;
    for client in [&mut sub5, &mut sub3] {
        let got = client.recv_publish().await;
        assert_eq!((&*got.topic, &got.payload[..], got.qos), ("a/b", &b"hello"[..], QoS::AtMostOnce));
    }
    let stats = broker.stats();
    assert_eq!(stats.messages_in, 1);
    assert_eq!(stats.messages_out, 2);
    assert_eq!(stats.subscriptions, 2);
    assert_eq!(stats.connections, 3);
    broker.shutdown().await;
}

#[tokio::test]
async fn qos1_is_acknowledged_and_delivered_at_subscription_qos() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    let mut low = TestClient::connect(addr, "low").await;
    low.subscribe("t", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    assert_eq!(publisher.publish_simple("t", "m", QoS::AtLeastOnce).await, ReasonCode::Success);
    let got = sub.recv_and_ack().await;
    assert_eq!(got.qos, QoS::AtLeastOnce);
    assert_ne!(got.packet_id, 0);
    // MQTT-3.8.4-8: delivered at the lower of the message and subscription QoS.
    assert_eq!(low.recv_publish().await.qos, QoS::AtMostOnce);
    broker.shutdown().await;
}

#[tokio::test]
async fn puback_says_no_matching_subscribers() {
    let broker = start_broker().await;
    let mut publisher = TestClient::connect(broker.local_addr(), "pub").await;
    assert_eq!(
        publisher.publish_simple("nobody", "m", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn qos2_in_both_directions() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("q2", QoS::ExactlyOnce).await;
    let mut sub311 = TestClient::connect_v311(addr, "sub311").await;
    sub311.subscribe("q2", QoS::ExactlyOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    assert_eq!(publisher.publish_simple("q2", "once", QoS::ExactlyOnce).await, ReasonCode::Success);
    for client in [&mut sub, &mut sub311] {
        let got = client.recv_and_ack().await;
        assert_eq!((got.qos, &got.payload[..]), (QoS::ExactlyOnce, &b"once"[..]));
        client.expect_nothing().await;
    }
    broker.shutdown().await;
}

/// MQTT-4.3.3-10 (method B): a retransmitted QoS 2 PUBLISH before PUBREL is acknowledged
/// again but not delivered again.
#[tokio::test]
async fn mqtt_4_3_3_qos2_retransmission_is_not_delivered_twice() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("x", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let publish = Publish::new("x", Bytes::from_static(b"1"), QoS::ExactlyOnce).with_packet_id(7);
    publisher.send(Packet::Publish(publish.clone())).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(PubRec { packet_id: 7, .. })));
    let mut again = publish;
    again.dup = true;
    publisher.send(Packet::Publish(again)).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(PubRec { packet_id: 7, .. })));
    publisher.send(Packet::PubRel(PubRel::new(7))).await;
    assert!(matches!(publisher.recv().await, Packet::PubComp(_)));
    // A marker published after: if it arrives next, the duplicate was not delivered.
    publisher.publish_simple("x", "marker", QoS::AtMostOnce).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"1");
    assert_eq!(&sub.recv_publish().await.payload[..], b"marker");
    // After PUBREL the identifier is free again: a new message with id 7 is delivered.
    assert_eq!(
        publisher
            .publish(Publish::new("x", Bytes::from_static(b"2"), QoS::ExactlyOnce).with_packet_id(7))
            .await,
        ReasonCode::Success
    );
    assert_eq!(&sub.recv_publish().await.payload[..], b"2");
    broker.shutdown().await;
}

#[tokio::test]
async fn pubrel_for_unknown_packet_id_gets_pubcomp_0x92() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr(), "c").await;
    client.send(Packet::PubRel(PubRel::new(99))).await;
    match client.recv().await {
        Packet::PubComp(comp) => assert_eq!(comp.reason_code, ReasonCode::PacketIdentifierNotFound),
        other => panic!("{other:?}"),
    }
    broker.shutdown().await;
}

/// MQTT 5.0 §3.3.4: overlapping subscriptions give one delivery with the highest QoS and
/// every subscription identifier.
#[tokio::test]
async fn overlapping_subscriptions_deliver_once_with_all_subscription_identifiers() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    let mut s1 = Subscribe::new(0, vec![Subscription::new("a/+", QoS::AtMostOnce)]);
    s1.properties.subscription_identifier = Some(11);
    sub.subscribe_with(s1).await;
    let mut s2 = Subscribe::new(0, vec![Subscription::new("a/#", QoS::AtLeastOnce)]);
    s2.properties.subscription_identifier = Some(22);
    sub.subscribe_with(s2).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish_simple("a/b", "x", QoS::AtLeastOnce).await;
    let got = sub.recv_and_ack().await;
    assert_eq!(got.qos, QoS::AtLeastOnce);
    let mut ids = got.properties.subscription_identifiers.clone();
    ids.sort();
    assert_eq!(ids, [11, 22]);
    sub.expect_nothing().await;
    broker.shutdown().await;
}

/// MQTT-3.8.3-3: No Local.
#[tokio::test]
async fn mqtt_3_8_3_3_no_local_is_honoured() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr(), "self").await;
    let options = SubscriptionOptions { no_local: true, ..SubscriptionOptions::new(QoS::AtMostOnce) };
    client.subscribe_opts("me", options).await;
    client.subscribe("other", QoS::AtMostOnce).await;
    client.publish_simple("me", "mine", QoS::AtMostOnce).await;
    client.publish_simple("other", "x", QoS::AtMostOnce).await;
    assert_eq!(&*client.recv_publish().await.topic, "other");
    broker.shutdown().await;
}

/// MQTT-3.3.1-12 / 3.3.1-13: Retain As Published.
#[tokio::test]
async fn mqtt_3_3_1_12_retain_as_published() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut keep = TestClient::connect(addr, "keep").await;
    let options = SubscriptionOptions {
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
        ..SubscriptionOptions::new(QoS::AtMostOnce)
    };
    keep.subscribe_opts("r", options).await;
    let mut clear = TestClient::connect(addr, "clear").await;
    clear.subscribe("r", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish(Publish::new("r", Bytes::from_static(b"v"), QoS::AtMostOnce).with_retain(true)).await;
    assert!(keep.recv_publish().await.retain);
    assert!(!clear.recv_publish().await.retain);
    broker.shutdown().await;
}

/// MQTT-4.7.2-1: `#` and `+` at the root do not match `$` topics; clients cannot publish
/// to `$SYS`.
#[tokio::test]
async fn mqtt_4_7_2_1_dollar_topics() {
    // Without the broker's own $SYS messages, which could arrive at any time.
    let config = BrokerConfig { sys: SysConfig { interval_secs: 0 }, ..Default::default() };
    let broker = start_broker_with(config).await;
    let addr = broker.local_addr();
    let mut all = TestClient::connect(addr, "all").await;
    all.subscribe("#", QoS::AtMostOnce).await;
    let mut sys = TestClient::connect(addr, "sys").await;
    sys.subscribe("$SYS/#", QoS::AtMostOnce).await;
    let mut dollar = TestClient::connect(addr, "dollar").await;
    dollar.subscribe("$app/+", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    assert_eq!(publisher.publish_simple("$SYS/fake", "x", QoS::AtLeastOnce).await, ReasonCode::NotAuthorized);
    // A 3.1.1 publisher cannot be told (its PUBACK has no reason code): not routed either.
    let mut old = TestClient::connect_v311(addr, "old").await;
    assert_eq!(old.publish_simple("$SYS/fake", "y", QoS::AtLeastOnce).await, ReasonCode::Success);
    publisher.publish_simple("$app/x", "d", QoS::AtMostOnce).await;
    publisher.publish_simple("plain", "p", QoS::AtMostOnce).await;
    assert_eq!(&*all.recv_publish().await.topic, "plain");
    assert_eq!(&*dollar.recv_publish().await.topic, "$app/x");
    sys.expect_nothing().await;
    broker.shutdown().await;
}

/// User properties (in order), response topic, correlation data, content type and payload
/// format pass through unchanged.
#[tokio::test]
async fn publish_properties_pass_through() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("req", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let mut publish = Publish::new("req", Bytes::from_static(b"{}"), QoS::AtMostOnce);
    publish.properties.user_properties =
        vec![("b".into(), "2".into()), ("a".into(), "1".into()), ("b".into(), "3".into())];
    publish.properties.response_topic = Some("resp/1".into());
    publish.properties.correlation_data = Some(Bytes::from_static(b"\x00\x01"));
    publish.properties.content_type = Some("application/json".into());
    publish.properties.payload_format_indicator = Some(mqttkit::protocol::PayloadFormat::Utf8);
    publisher.publish(publish.clone()).await;
    let got = sub.recv_publish().await;
    assert_eq!(got.properties, publish.properties);
    broker.shutdown().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("u/1", QoS::AtMostOnce).await;
    sub.subscribe("u/2", QoS::AtMostOnce).await;
    let unsuback = sub.unsubscribe("u/1").await;
    assert_eq!(unsuback.reason_codes, [ReasonCode::Success]);
    assert_eq!(sub.unsubscribe("u/1").await.reason_codes, [ReasonCode::NoSubscriptionExisted]);
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish_simple("u/1", "gone", QoS::AtMostOnce).await;
    publisher.publish_simple("u/2", "here", QoS::AtMostOnce).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"here");
    assert_eq!(broker.stats().subscriptions, 1);
    broker.shutdown().await;
}

/// Messages of mixed QoS reach each subscriber in the order they were published (MQTT
/// 5.0 §4.6), through the shared-frame path (MQTT 3.1.1) and the per-subscriber path (a
/// Subscription Identifier), and are counted once each.
#[tokio::test]
async fn mixed_qos_messages_keep_their_order() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut plain = TestClient::connect_v311(addr, "plain").await;
    plain.subscribe("order", QoS::AtLeastOnce).await;
    let mut with_id = TestClient::connect(addr, "with-id").await;
    let mut subscribe = Subscribe::new(0, vec![Subscription::new("order", QoS::AtLeastOnce)]);
    subscribe.properties.subscription_identifier = Some(3);
    with_id.subscribe_with(subscribe).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    const N: usize = 300;
    let levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtMostOnce];
    for i in 0..N {
        let publish = Publish::new("order", Bytes::from(i.to_string()), levels[i % levels.len()]);
        publisher.publish(publish).await;
    }
    for (client, ids) in [(&mut plain, &[][..]), (&mut with_id, &[3][..])] {
        for i in 0..N {
            let got = client.recv_and_ack().await;
            assert_eq!(got.payload, Bytes::from(i.to_string()));
            assert_eq!(got.qos, levels[i % levels.len()].min(QoS::AtLeastOnce));
            assert_eq!(got.properties.subscription_identifiers, ids);
        }
        client.expect_nothing().await;
    }
    let stats = broker.stats();
    assert_eq!((stats.messages_in, stats.messages_out, stats.queued), (N as u64, 2 * N as u64, 0));
    broker.shutdown().await;
}

/// Packets encoded back to back, to be sent in one write (so that the broker reads them
/// in one go and handles them as one batch).
fn encoded(version: mqttkit::protocol::ProtocolVersion, packets: &[Packet]) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    for packet in packets {
        packet.encode(version, &mut buf).expect("encodes");
    }
    buf.to_vec()
}

fn qos0(topic: &str, payload: String) -> Packet {
    Packet::Publish(Publish::new(topic, Bytes::from(payload), QoS::AtMostOnce))
}

/// QoS 0 deliveries from one read are queued per subscriber at the end of the read: each
/// subscriber still gets its messages in publication order, whatever mix of topics (and so
/// of receiving sessions) the read holds.
#[tokio::test]
async fn a_burst_of_qos0_messages_reaches_every_subscriber_in_order() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let filters = ["a/1", "a/2", "a/+", "#"];
    let mut subs = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let mut sub = TestClient::connect(addr, &format!("sub{i}")).await;
        sub.subscribe(filter, QoS::AtMostOnce).await;
        subs.push(sub);
    }
    let mut publisher = TestClient::connect(addr, "pub").await;
    let messages: Vec<(String, String)> =
        (0..200).map(|n| (format!("a/{}", 1 + (n * 7 % 3 == 0) as u8), n.to_string())).collect();
    let packets: Vec<Packet> = messages.iter().map(|(t, p)| qos0(t, p.clone())).collect();
    publisher.raw.send_raw(encoded(publisher.version, &packets)).await.unwrap();
    for (sub, filter) in subs.iter_mut().zip(filters) {
        let expected: Vec<&(String, String)> = messages
            .iter()
            .filter(|(topic, _)| filter == "a/+" || filter == "#" || topic == filter)
            .collect();
        for (topic, payload) in expected {
            let got = sub.recv_publish().await;
            assert_eq!((&*got.topic, &got.payload[..]), (topic.as_str(), payload.as_bytes()), "{filter}");
        }
        sub.expect_nothing().await;
    }
    assert_eq!(broker.stats().messages_in, 200);
    broker.shutdown().await;
}

/// A QoS 1 message, a subscription change and a protocol violation come after the QoS 0
/// messages read with them: the QoS 0 deliveries are queued first.
#[tokio::test]
async fn qos0_messages_stay_ahead_of_what_follows_them_in_one_read() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let mut will = mqttkit::protocol::Will::new("t/will", Bytes::from_static(b"will"));
    will.qos = QoS::AtLeastOnce;
    let connect = mqttkit::protocol::Connect { will: Some(will), ..mqttkit::protocol::Connect::new("pub") };
    let (mut publisher, _) = TestClient::connect_with(addr, connect).await;
    // The publisher subscribes to its own topic in the middle of the read: it gets what was
    // published after its SUBACK only.
    let mut own = Subscribe::new(1, vec![Subscription::new("t/own", QoS::AtMostOnce)]);
    own.packet_id = 7;
    let packets = [
        qos0("t/own", "0".into()),
        qos0("t/a", "1".into()),
        Packet::Publish(Publish::new("t/a", Bytes::from_static(b"2"), QoS::AtLeastOnce).with_packet_id(1)),
        Packet::Subscribe(own),
        qos0("t/own", "3".into()),
    ];
    publisher.raw.send_raw(encoded(publisher.version, &packets)).await.unwrap();
    assert!(matches!(publisher.recv().await, Packet::PubAck(ack) if ack.packet_id == 1));
    assert!(matches!(publisher.recv().await, Packet::SubAck(ack) if ack.packet_id == 7));
    assert_eq!(&publisher.recv_publish().await.payload[..], b"3");
    // Then a QoS 0 message and a malformed packet (reserved type 0) in one read: the
    // message is delivered, then the will.
    let mut bytes = encoded(publisher.version, &[qos0("t/a", "4".into())]);
    bytes.extend_from_slice(&[0x00, 0x00]);
    publisher.raw.send_raw(bytes).await.unwrap();
    publisher.expect_closed().await;
    for expected in ["0", "1", "2", "3", "4", "will"] {
        let got = sub.recv_and_ack().await;
        assert_eq!(&got.payload[..], expected.as_bytes());
    }
    sub.expect_nothing().await;
    broker.shutdown().await;
}
