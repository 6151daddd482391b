//! Broker: retained messages, shared subscriptions, topic aliases, Receive Maximum,
//! Maximum Packet Size, queue limits and message expiry.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use std::time::Duration;

use bytes::Bytes;
use mqttkit::broker::{BrokerConfig, Limits};
use mqttkit::protocol::{
    Connect, ConnectProperties, Packet, PubAck, Publish, QoS, ReasonCode, RetainHandling, Subscribe,
    Subscription, SubscriptionOptions,
};
use support::{TestClient, start_broker, start_broker_with, wait_until};

fn retained(topic: &str, payload: &'static [u8]) -> Publish {
    Publish::new(topic, Bytes::from_static(payload), QoS::AtLeastOnce).with_retain(true)
}

#[tokio::test]
async fn retained_messages_are_stored_replaced_and_deleted() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish(retained("r/a", b"1")).await;
    publisher.publish(retained("r/a", b"2")).await;
    let mut with_props = retained("r/b", b"b");
    with_props.properties.user_properties = vec![("u".into(), "p".into())];
    with_props.properties.content_type = Some("text/plain".into());
    publisher.publish(with_props).await;
    assert_eq!(broker.stats().retained, 2);

    let mut sub = TestClient::connect(addr, "sub").await;
    let mut subscribe = Subscribe::new(0, vec![Subscription::new("r/+", QoS::AtLeastOnce)]);
    subscribe.properties.subscription_identifier = Some(9);
    sub.subscribe_with(subscribe).await;
    let mut got = [sub.recv_and_ack().await, sub.recv_and_ack().await];
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    assert_eq!(&got[0].payload[..], b"2");
    assert!(got.iter().all(|p| p.retain && p.properties.subscription_identifiers == [9]));
    assert_eq!(got[1].properties.user_properties, vec![("u".into(), "p".into())]);
    assert_eq!(got[1].properties.content_type.as_deref(), Some("text/plain"));

    // MQTT-3.3.1-6: an empty retained payload deletes; it is still delivered to subscribers.
    publisher.publish(retained("r/a", b"")).await;
    let deletion = sub.recv_and_ack().await;
    assert!(deletion.payload.is_empty());
    assert_eq!(broker.stats().retained, 1);
    let mut late = TestClient::connect(addr, "late").await;
    late.subscribe("r/a", QoS::AtMostOnce).await;
    late.expect_nothing().await;
    broker.shutdown().await;
}

/// Retained messages for wildcard subscriptions (looked up in the retained trie): exactly
/// the topics the filter matches, `$` topics only for filters that name their first level
/// (MQTT-4.7.2-1).
#[tokio::test]
async fn retained_messages_for_wildcard_filters_are_exactly_the_matching_topics() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut publisher = TestClient::connect(addr, "pub").await;
    let topics = ["a", "a/b/c", "a/x/c", "a/b/d", "a/b/c/e", "a//c", "$app/b/c", "b/$x/c", "/c"];
    for topic in topics {
        publisher.publish(retained(topic, b"r")).await;
    }
    for i in 0..50 {
        publisher.publish(retained(&format!("noise/{i}/c/d"), b"n")).await;
    }
    assert_eq!(broker.stats().retained, topics.len() as u64 + 50);
    let cases: [(&str, &[&str]); 9] = [
        ("a/+/c", &["a//c", "a/b/c", "a/x/c"]),
        ("+/b/c", &["a/b/c"]),
        ("+/+/c", &["a//c", "a/b/c", "a/x/c", "b/$x/c"]),
        ("a/#", &["a", "a//c", "a/b/c", "a/b/c/e", "a/b/d", "a/x/c"]),
        ("$app/#", &["$app/b/c"]),
        ("$app/+/c", &["$app/b/c"]),
        ("+/c", &["/c"]),
        ("a/b/c/e/#", &["a/b/c/e"]),
        ("nothing/+", &[]),
    ];
    for (i, (filter, expected)) in cases.into_iter().enumerate() {
        let mut sub = TestClient::connect(addr, &format!("sub-{i}")).await;
        sub.subscribe(filter, QoS::AtMostOnce).await;
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            let publish = sub.recv_publish().await;
            assert!(publish.retain, "{filter}: {}", publish.topic);
            got.push(publish.topic.to_string());
        }
        sub.expect_nothing().await;
        got.sort();
        assert_eq!(got, expected, "filter {filter}");
    }
    // `#` gets every topic but the `$` one.
    let mut all = TestClient::connect(addr, "all").await;
    all.subscribe("#", QoS::AtMostOnce).await;
    let mut got = Vec::new();
    for _ in 0..topics.len() - 1 + 50 {
        got.push(all.recv_publish().await.topic.to_string());
    }
    all.expect_nothing().await;
    assert!(!got.iter().any(|t| t.starts_with('$')));
    // Deleted retained messages are gone from the index too.
    publisher.publish(retained("a/x/c", b"")).await;
    let mut after = TestClient::connect(addr, "after").await;
    after.subscribe("a/+/c", QoS::AtMostOnce).await;
    let mut got =
        [after.recv_publish().await.topic.to_string(), after.recv_publish().await.topic.to_string()];
    got.sort();
    assert_eq!(got, ["a//c", "a/b/c"]);
    after.expect_nothing().await;
    broker.shutdown().await;
}

/// MQTT-3.3.1-9 .. 3.3.1-11: Retain Handling 0, 1 and 2.
#[tokio::test]
async fn mqtt_3_3_1_9_retain_handling() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish(retained("rh", b"x")).await;
    let mut sub = TestClient::connect(addr, "sub").await;
    let opts = |rh| SubscriptionOptions { retain_handling: rh, ..SubscriptionOptions::new(QoS::AtMostOnce) };
    sub.subscribe_opts("rh", opts(RetainHandling::DoNotSend)).await;
    sub.expect_nothing().await;
    sub.unsubscribe("rh").await;
    sub.subscribe_opts("rh", opts(RetainHandling::SendIfNewSubscription)).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"x");
    sub.subscribe_opts("rh", opts(RetainHandling::SendIfNewSubscription)).await;
    sub.expect_nothing().await;
    sub.subscribe_opts("rh", opts(RetainHandling::SendAtSubscribe)).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"x");
    broker.shutdown().await;
}

#[tokio::test]
async fn shared_subscription_distributes_round_robin_without_retained() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish(retained("jobs/old", b"old")).await;
    let mut a = TestClient::connect(addr, "a").await;
    let mut b = TestClient::connect(addr, "b").await;
    a.subscribe("$share/workers/jobs/+", QoS::AtLeastOnce).await;
    b.subscribe("$share/workers/jobs/+", QoS::AtLeastOnce).await;
    let mut plain = TestClient::connect(addr, "plain").await;
    plain.subscribe("jobs/+", QoS::AtMostOnce).await;
    let _ = plain.recv_publish().await; // the retained one: plain subscriptions get it
    for i in 0..4 {
        publisher.publish_simple("jobs/new", &i.to_string(), QoS::AtLeastOnce).await;
    }
    let from_a = [a.recv_and_ack().await, a.recv_and_ack().await];
    let from_b = [b.recv_and_ack().await, b.recv_and_ack().await];
    let mut all: Vec<Vec<u8>> = from_a.iter().chain(&from_b).map(|p| p.payload.to_vec()).collect();
    all.sort();
    assert_eq!(all, [b"0".to_vec(), b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    a.expect_nothing().await;
    b.expect_nothing().await;
    for _ in 0..4 {
        plain.recv_publish().await;
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn shared_subscription_prefers_online_members() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let persistent = |id: &str| Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(300), ..Default::default() },
        ..Connect::new(id)
    };
    let (mut a, _) = TestClient::connect_with(addr, persistent("a")).await;
    a.subscribe("$share/g/t", QoS::AtLeastOnce).await;
    let mut b = TestClient::connect(addr, "b").await;
    b.subscribe("$share/g/t", QoS::AtLeastOnce).await;
    a.disconnect().await;
    wait_until("a is offline", || broker.stats().connections == 1).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    for i in 0..3 {
        publisher.publish_simple("t", &i.to_string(), QoS::AtLeastOnce).await;
    }
    for i in 0..3 {
        assert_eq!(b.recv_and_ack().await.payload, i.to_string().as_bytes());
    }
    broker.shutdown().await;
}

/// MQTT 5.0 §3.3.2.3.4: the client's topic aliases are accepted up to our maximum.
#[tokio::test]
async fn topic_aliases_from_the_client() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut sub = TestClient::connect(addr, "sub").await;
    sub.subscribe("long/topic/name", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let mut first = Publish::new("long/topic/name", Bytes::from_static(b"1"), QoS::AtMostOnce);
    first.properties.topic_alias = Some(3);
    publisher.publish(first).await;
    let mut second = Publish::new("", Bytes::from_static(b"2"), QoS::AtLeastOnce);
    second.properties.topic_alias = Some(3);
    assert_eq!(publisher.publish(second).await, ReasonCode::Success);
    for payload in [b"1", b"2"] {
        let got = sub.recv_publish().await;
        assert_eq!((&*got.topic, &got.payload[..]), ("long/topic/name", &payload[..]));
    }
    broker.shutdown().await;
}

/// MQTT-3.3.2-9 / §3.3.2.3.4: an alias above the maximum is a Topic Alias invalid (0x94).
#[tokio::test]
async fn mqtt_3_3_2_9_topic_alias_above_maximum_is_0x94() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr(), "c").await;
    let mut publish = Publish::new("t", Bytes::new(), QoS::AtMostOnce);
    publish.properties.topic_alias = Some(65_000);
    client.send(Packet::Publish(publish)).await;
    assert_eq!(client.expect_closed().await, Some(ReasonCode::TopicAliasInvalid));
    broker.shutdown().await;
}

#[tokio::test]
async fn unknown_topic_alias_is_a_protocol_error() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr(), "c").await;
    let mut publish = Publish::new("", Bytes::new(), QoS::AtMostOnce);
    publish.properties.topic_alias = Some(1);
    client.send(Packet::Publish(publish)).await;
    assert_eq!(client.expect_closed().await, Some(ReasonCode::ProtocolError));
    broker.shutdown().await;
}

/// Towards the client: aliases only up to its Topic Alias Maximum (MQTT-3.3.2-10).
#[tokio::test]
async fn mqtt_3_3_2_10_topic_aliases_towards_the_client() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let connect = Connect {
        properties: ConnectProperties { topic_alias_maximum: Some(1), ..Default::default() },
        ..Connect::new("sub")
    };
    let (mut sub, _) = TestClient::connect_with(addr, connect).await;
    sub.subscribe("#", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    for topic in ["x/1", "x/1", "x/2"] {
        publisher.publish_simple(topic, "p", QoS::AtMostOnce).await;
    }
    let first = sub.recv_publish().await;
    assert_eq!((&*first.topic, first.properties.topic_alias), ("x/1", Some(1)));
    let second = sub.recv_publish().await;
    assert_eq!((&*second.topic, second.properties.topic_alias), ("", Some(1)));
    let third = sub.recv_publish().await;
    assert_eq!((&*third.topic, third.properties.topic_alias), ("x/2", None));
    broker.shutdown().await;
}

/// MQTT-3.3.4-9: no more QoS 1/2 PUBLISH in flight than the client's Receive Maximum.
#[tokio::test]
async fn mqtt_3_3_4_9_receive_maximum_towards_the_client() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let connect = Connect {
        properties: ConnectProperties { receive_maximum: Some(2), ..Default::default() },
        ..Connect::new("slow")
    };
    let (mut sub, _) = TestClient::connect_with(addr, connect).await;
    sub.subscribe("w", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    for i in 0..5 {
        publisher.publish_simple("w", &i.to_string(), QoS::AtLeastOnce).await;
    }
    let first = sub.recv_publish().await;
    let second = sub.recv_publish().await;
    sub.expect_nothing().await; // the window is full
    sub.send(Packet::PubAck(PubAck::new(first.packet_id))).await;
    let third = sub.recv_publish().await;
    assert_eq!(&third.payload[..], b"2");
    sub.expect_nothing().await;
    sub.send(Packet::PubAck(PubAck::new(second.packet_id))).await;
    sub.send(Packet::PubAck(PubAck::new(third.packet_id))).await;
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"3");
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"4");
    broker.shutdown().await;
}

/// MQTT-3.3.4-7 / §3.3.4: a client exceeding our Receive Maximum gets DISCONNECT 0x93.
#[tokio::test]
async fn mqtt_3_3_4_7_receive_maximum_exceeded_is_0x93() {
    let config =
        BrokerConfig { limits: Limits { receive_maximum: 2, ..Limits::default() }, ..Default::default() };
    let broker = start_broker_with(config).await;
    let mut client = TestClient::connect(broker.local_addr(), "greedy").await;
    for id in 1..=3 {
        let publish = Publish::new("t", Bytes::new(), QoS::ExactlyOnce).with_packet_id(id);
        client.send(Packet::Publish(publish)).await;
    }
    assert!(matches!(client.recv().await, Packet::PubRec(_)));
    assert!(matches!(client.recv().await, Packet::PubRec(_)));
    assert_eq!(client.expect_closed().await, Some(ReasonCode::ReceiveMaximumExceeded));
    broker.shutdown().await;
}

/// MQTT-3.2.2-15 / §3.2.2.3.6: a packet above our Maximum Packet Size is 0x95.
#[tokio::test]
async fn mqtt_3_2_2_15_packet_too_large_inbound() {
    let config =
        BrokerConfig { limits: Limits { max_packet_size: 1024, ..Limits::default() }, ..Default::default() };
    let broker = start_broker_with(config).await;
    let mut client = TestClient::connect(broker.local_addr(), "big").await;
    client.send(Packet::Publish(Publish::new("t", vec![0u8; 2000], QoS::AtMostOnce))).await;
    assert_eq!(client.expect_closed().await, Some(ReasonCode::PacketTooLarge));
    broker.shutdown().await;
}

/// MQTT-3.1.2-25: never send a packet larger than the client's Maximum Packet Size; the
/// message is dropped for that client and counted.
#[tokio::test]
async fn mqtt_3_1_2_25_packets_larger_than_the_client_allows_are_not_sent() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let connect = Connect {
        properties: ConnectProperties { maximum_packet_size: Some(100), ..Default::default() },
        ..Connect::new("tiny")
    };
    let (mut sub, _) = TestClient::connect_with(addr, connect).await;
    sub.subscribe("m", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish(Publish::new("m", vec![1u8; 500], QoS::AtLeastOnce)).await;
    publisher.publish_simple("m", "small", QoS::AtLeastOnce).await;
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"small");
    assert_eq!(broker.stats().dropped, 1);
    broker.shutdown().await;
}

/// A broker whose sessions queue at most 2 messages, and an offline persistent session
/// `client_id` subscribed to `f/#` at QoS 1; the broker and the CONNECT that resumes it.
async fn two_message_queue_for_an_offline_session(
    client_id: &str,
) -> (mqttkit::broker::BrokerHandle, Connect) {
    let config =
        BrokerConfig { limits: Limits { max_queued_messages: 2, ..Limits::default() }, ..Default::default() };
    let broker = start_broker_with(config).await;
    let connect = Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(300), ..Default::default() },
        ..Connect::new(client_id)
    };
    let (mut sub, _) = TestClient::connect_with(broker.local_addr(), connect.clone()).await;
    sub.subscribe("f/#", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    (broker, connect)
}

/// Queue full: QoS 1 is refused with PUBACK 0x97 (counted); QoS 0 drops the oldest QoS 0.
#[tokio::test]
async fn full_queue_refuses_qos1_with_quota_exceeded_and_drops_oldest_qos0() {
    let (broker, connect) = two_message_queue_for_an_offline_session("offline").await;
    let addr = broker.local_addr();
    let mut publisher = TestClient::connect(addr, "pub").await;
    assert_eq!(publisher.publish_simple("f/1", "1", QoS::AtLeastOnce).await, ReasonCode::Success);
    assert_eq!(publisher.publish_simple("f/0", "a", QoS::AtMostOnce).await, ReasonCode::Success);
    // Full: a new QoS 0 message pushes out the oldest QoS 0 one.
    publisher.publish_simple("f/0", "b", QoS::AtMostOnce).await;
    wait_until("one message dropped", || broker.stats().dropped == 1).await;
    // Full of QoS 1 + QoS 0: QoS 1 evicts the QoS 0 message...
    assert_eq!(publisher.publish_simple("f/2", "2", QoS::AtLeastOnce).await, ReasonCode::Success);
    // ... and then there is nothing left to evict.
    assert_eq!(publisher.publish_simple("f/3", "3", QoS::AtLeastOnce).await, ReasonCode::QuotaExceeded);
    assert_eq!(broker.stats().dropped, 3);
    let (mut sub, _) = TestClient::connect_with(addr, connect).await;
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"1");
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"2");
    sub.expect_nothing().await;
    broker.shutdown().await;
}

/// MQTT-3.3.2-5 / 3.3.2-6: expired messages are not delivered; the interval is decremented.
#[tokio::test]
async fn mqtt_3_3_2_6_message_expiry_is_decremented_and_enforced() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let connect = Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(300), ..Default::default() },
        ..Connect::new("exp")
    };
    let (mut sub, _) = TestClient::connect_with(addr, connect.clone()).await;
    sub.subscribe("e/#", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let mut short = Publish::new("e/short", Bytes::from_static(b"s"), QoS::AtLeastOnce);
    short.properties.message_expiry_interval = Some(1);
    publisher.publish(short).await;
    let mut long = Publish::new("e/long", Bytes::from_static(b"l"), QoS::AtLeastOnce);
    long.properties.message_expiry_interval = Some(100);
    publisher.publish(long).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // let the short one expire
    let (mut sub, _) = TestClient::connect_with(addr, connect).await;
    let got = sub.recv_and_ack().await;
    assert_eq!(&*got.topic, "e/long");
    let left = got.properties.message_expiry_interval.expect("expiry forwarded");
    assert!((98..100).contains(&left), "{left}");
    sub.expect_nothing().await;
    assert_eq!(broker.stats().expired, 1);
    broker.shutdown().await;
}

/// Expired messages take no room: a full queue drops them (MQTT-3.3.2-5) before it
/// refuses a new QoS 1 message.
#[tokio::test]
async fn expired_messages_make_room_in_a_full_queue() {
    let (broker, connect) = two_message_queue_for_an_offline_session("full").await;
    let addr = broker.local_addr();
    let mut publisher = TestClient::connect(addr, "pub").await;
    for topic in ["f/a", "f/b"] {
        let mut brief = Publish::new(topic, Bytes::from_static(b"brief"), QoS::AtLeastOnce);
        brief.properties.message_expiry_interval = Some(1);
        assert_eq!(publisher.publish(brief).await, ReasonCode::Success);
    }
    assert_eq!(publisher.publish_simple("f/c", "early", QoS::AtLeastOnce).await, ReasonCode::QuotaExceeded);
    tokio::time::sleep(Duration::from_millis(1100)).await; // let the brief ones expire
    assert_eq!(publisher.publish_simple("f/c", "fresh", QoS::AtLeastOnce).await, ReasonCode::Success);
    assert_eq!(broker.stats().expired, 2);
    let (mut sub, _) = TestClient::connect_with(addr, connect).await;
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"fresh");
    sub.expect_nothing().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn qos_above_maximum_is_0x9b() {
    let mut config = BrokerConfig::default();
    config.features.maximum_qos = 1;
    let broker = start_broker_with(config).await;
    let mut client = TestClient::connect(broker.local_addr(), "c").await;
    let suback = client.subscribe("t", QoS::ExactlyOnce).await;
    assert_eq!(suback.reason_codes, [ReasonCode::GrantedQos1]);
    client.send(Packet::Publish(Publish::new("t", Bytes::new(), QoS::ExactlyOnce).with_packet_id(1))).await;
    assert_eq!(client.expect_closed().await, Some(ReasonCode::QosNotSupported));
    broker.shutdown().await;
}

#[tokio::test]
async fn invalid_and_unsupported_filters_are_refused_in_suback() {
    let mut config = BrokerConfig::default();
    config.features.shared_subscriptions = false;
    let broker = start_broker_with(config).await;
    let mut client = TestClient::connect(broker.local_addr(), "c").await;
    let subscribe = Subscribe::new(
        0,
        vec![Subscription::new("ok", QoS::AtMostOnce), Subscription::new("$share/g/t", QoS::AtMostOnce)],
    );
    let suback = client.subscribe_with(subscribe).await;
    assert_eq!(suback.reason_codes, [ReasonCode::Success, ReasonCode::SharedSubscriptionsNotSupported]);
    assert!(suback.properties.reason_string.is_some());
    broker.shutdown().await;
}

/// MQTT-3.1.2-29: with Request Problem Information 0, no Reason String on PUBACK/SUBACK.
#[tokio::test]
async fn request_problem_information_false_suppresses_reason_strings() {
    let mut config = BrokerConfig::default();
    config.features.shared_subscriptions = false;
    let broker = start_broker_with(config).await;
    let connect = Connect {
        properties: ConnectProperties { request_problem_information: Some(false), ..Default::default() },
        ..Connect::new("quiet")
    };
    let (mut client, _) = TestClient::connect_with(broker.local_addr(), connect).await;
    let suback = client
        .subscribe_with(Subscribe::new(0, vec![Subscription::new("$share/g/t", QoS::AtMostOnce)]))
        .await;
    assert_eq!(suback.reason_codes, [ReasonCode::SharedSubscriptionsNotSupported]);
    assert_eq!(suback.properties.reason_string, None);
    let puback = refused_puback(&mut client).await;
    assert_eq!((puback.reason_code, puback.properties.reason_string), (ReasonCode::NotAuthorized, None));
    broker.shutdown().await;
}

/// Publishes QoS 1 to `$SYS/x`, which the broker refuses; its PUBACK.
async fn refused_puback(client: &mut TestClient) -> PubAck {
    let packet_id = client.next_id();
    let mut publish = Publish::new("$SYS/x", Bytes::from_static(b"x"), QoS::AtLeastOnce);
    publish.packet_id = packet_id;
    client.send(Packet::Publish(publish)).await;
    match client.recv().await {
        Packet::PubAck(puback) if puback.packet_id == packet_id => puback,
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

/// MQTT-3.4.2-2, 3.9.2-1: a Reason String that would make an acknowledgement larger than
/// the client's Maximum Packet Size is left out; the acknowledgement itself is sent.
#[tokio::test]
async fn reason_strings_are_left_out_beyond_the_clients_maximum_packet_size() {
    let mut config = BrokerConfig::default();
    config.features.shared_subscriptions = false;
    let broker = start_broker_with(config).await;
    let connect = Connect {
        properties: ConnectProperties { maximum_packet_size: Some(20), ..Default::default() },
        ..Connect::new("small")
    };
    let (mut client, _) = TestClient::connect_with(broker.local_addr(), connect).await;
    let suback = client
        .subscribe_with(Subscribe::new(0, vec![Subscription::new("$share/g/t", QoS::AtMostOnce)]))
        .await;
    assert_eq!(suback.reason_codes, [ReasonCode::SharedSubscriptionsNotSupported]);
    assert_eq!(suback.properties.reason_string, None);
    let puback = refused_puback(&mut client).await;
    assert_eq!((puback.reason_code, puback.properties.reason_string), (ReasonCode::NotAuthorized, None));
    // A client with room for them gets them.
    let (mut roomy, _) = TestClient::connect_with(broker.local_addr(), Connect::new("roomy")).await;
    assert!(refused_puback(&mut roomy).await.properties.reason_string.is_some());
    broker.shutdown().await;
}

/// MQTT 5.0 §4.8.2: a QoS 1 message unacknowledged by a shared-subscription member whose
/// session ends goes to another member of the group.
#[tokio::test]
async fn shared_subscription_redelivers_unacknowledged_messages_to_another_member() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut a = TestClient::connect(addr, "a").await;
    a.subscribe("$share/g/work", QoS::AtLeastOnce).await;
    let mut b = TestClient::connect(addr, "b").await;
    b.subscribe("$share/g/work", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish_simple("work", "first", QoS::AtLeastOnce).await;
    publisher.publish_simple("work", "second", QoS::AtLeastOnce).await;
    // Round robin: one each. a never acknowledges and goes away (session expiry 0).
    let to_a = a.recv_publish().await;
    let to_b = b.recv_and_ack().await;
    assert_ne!(to_a.payload, to_b.payload);
    a.drop_connection().await;
    let redelivered = b.recv_and_ack().await;
    assert_eq!(redelivered.payload, to_a.payload);
    assert_eq!(broker.stats().dropped, 0);
    broker.shutdown().await;
}

/// Backpressure (DESIGN.md): a pipelined QoS 1 burst much larger than an online
/// subscriber's queue limit is slowed down, not refused: everything is delivered, nothing
/// dropped.
#[tokio::test]
async fn qos1_burst_to_an_online_subscriber_gets_backpressure_not_refusal() {
    let config =
        BrokerConfig { limits: Limits { max_queued_messages: 4, ..Limits::default() }, ..Default::default() };
    let broker = start_broker_with(config).await;
    let addr = broker.local_addr();
    let connect = Connect {
        properties: ConnectProperties { receive_maximum: Some(2), ..Default::default() },
        ..Connect::new("slow")
    };
    let (mut sub, _) = TestClient::connect_with(addr, connect).await;
    sub.subscribe("burst", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "fast").await;
    let mut burst = bytes::BytesMut::new();
    for id in 1..=50u16 {
        let publish = Publish::new("burst", Bytes::from(id.to_string()), QoS::AtLeastOnce).with_packet_id(id);
        Packet::Publish(publish).encode(mqttkit::protocol::ProtocolVersion::V5, &mut burst).unwrap();
    }
    publisher.raw.send_raw(&burst).await.unwrap(); // all 50 in one write
    let reader = tokio::spawn(async move {
        let mut reasons = Vec::new();
        for _ in 0..50 {
            match publisher.recv().await {
                Packet::PubAck(ack) => reasons.push(ack.reason_code),
                other => panic!("{other:?}"),
            }
        }
        reasons
    });
    for id in 1..=50u16 {
        assert_eq!(sub.recv_and_ack().await.payload, id.to_string().as_bytes());
    }
    let reasons = reader.await.unwrap();
    assert!(reasons.iter().all(|r| *r == ReasonCode::Success), "{reasons:?}");
    assert_eq!(broker.stats().dropped, 0);
    broker.shutdown().await;
}
