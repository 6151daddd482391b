//! Broker: sessions (clean start, expiry, resume, takeover), wills, keep-alive, CONNACK
//! and graceful shutdown.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use mqttkit::broker::{BrokerConfig, Limits};
use mqttkit::protocol::{
    Connect, ConnectProperties, Disconnect, Packet, ProtocolVersion, PubAck, PubRec, Publish, QoS,
    ReasonCode, Will,
};
use support::{TestClient, start_broker, start_broker_with, wait_until};

fn persistent(client_id: &str, expiry: u32) -> Connect {
    Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(expiry), ..Default::default() },
        ..Connect::new(client_id)
    }
}

#[tokio::test]
async fn mqtt_3_2_2_2_session_resumes_with_queued_messages() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut sub, connack) = TestClient::connect_with(addr, persistent("keeper", 300)).await;
    assert!(!connack.session_present);
    sub.subscribe("q/#", QoS::ExactlyOnce).await;
    sub.disconnect().await;

    let mut publisher = TestClient::connect(addr, "pub").await;
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce].into_iter().enumerate() {
        assert_eq!(
            publisher.publish_simple(&format!("q/{i}"), &i.to_string(), qos).await,
            ReasonCode::Success
        );
    }
    wait_until("3 messages are queued", || broker.stats().queued == 3).await;

    let (mut sub, connack) = TestClient::connect_with(addr, persistent("keeper", 300)).await;
    assert!(connack.session_present);
    for i in 0..3 {
        let got = sub.recv_and_ack().await;
        assert_eq!(&*got.topic, format!("q/{i}"));
    }
    sub.expect_nothing().await;
    assert_eq!(broker.stats().queued, 0);
    broker.shutdown().await;
}

/// MQTT-4.4.0-1: unacknowledged messages are resent with DUP on resume, PUBREL for those
/// already PUBREC'd.
#[tokio::test]
async fn mqtt_4_4_0_1_unacknowledged_messages_are_resent_with_dup() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("resend", 300)).await;
    sub.subscribe("r/1", QoS::AtLeastOnce).await;
    sub.subscribe("r/2", QoS::ExactlyOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish_simple("r/1", "one", QoS::AtLeastOnce).await;
    publisher.publish_simple("r/2", "two", QoS::ExactlyOnce).await;
    let first = sub.recv_publish().await;
    assert!(!first.dup);
    let second = sub.recv_publish().await;
    sub.send(Packet::PubRec(PubRec::new(second.packet_id))).await;
    assert!(matches!(sub.recv().await, Packet::PubRel(_)));
    sub.drop_connection().await;

    let (mut sub, connack) = TestClient::connect_with(addr, persistent("resend", 300)).await;
    assert!(connack.session_present);
    let again = sub.recv_publish().await;
    assert!(again.dup);
    assert_eq!((again.packet_id, &again.payload[..]), (first.packet_id, &b"one"[..]));
    match sub.recv().await {
        Packet::PubRel(rel) => assert_eq!(rel.packet_id, second.packet_id),
        other => panic!("expected PUBREL, got {other:?}"),
    }
    broker.shutdown().await;
}

/// MQTT-3.3.4-9 on resume: a client that comes back with a smaller Receive Maximum gets no
/// more unacknowledged messages resent at once than it allows; the rest follow, in order
/// and with their original packet identifiers, as it acknowledges (MQTT-4.4.0-1).
#[tokio::test]
async fn mqtt_3_3_4_9_resend_on_resume_stays_within_the_receive_maximum() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("narrow", 300)).await;
    sub.subscribe("n", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    for i in 0..5 {
        publisher.publish_simple("n", &i.to_string(), QoS::AtLeastOnce).await;
    }
    let mut first_ids = Vec::new();
    for _ in 0..5 {
        first_ids.push(sub.recv_publish().await.packet_id);
    }
    sub.drop_connection().await;

    let mut connect = persistent("narrow", 300);
    connect.properties.receive_maximum = Some(2);
    let (mut sub, connack) = TestClient::connect_with(addr, connect).await;
    assert!(connack.session_present);
    let mut resent = vec![sub.recv_publish().await, sub.recv_publish().await];
    sub.expect_nothing().await;
    for i in 0..5 {
        let got = &resent[i];
        assert!(got.dup);
        assert_eq!((got.packet_id, &got.payload[..]), (first_ids[i], i.to_string().as_bytes()));
        sub.send(Packet::PubAck(PubAck::new(got.packet_id))).await;
        if i + 2 < 5 {
            resent.push(sub.recv_publish().await);
        }
    }
    sub.expect_nothing().await;
    broker.shutdown().await;
}

/// A QoS 2 message whose onward delivery started before its Message Expiry Interval ran out
/// is still resent on resume (MQTT-4.4.0-1; MQTT-3.3.2-5 only deletes messages not yet
/// sent): the client holds its packet identifier until the flow completes.
#[tokio::test]
async fn an_expired_qos_2_message_in_flight_is_still_resent_on_resume() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("slow", 300)).await;
    sub.subscribe("e", QoS::ExactlyOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let mut publish = Publish::new("e", Bytes::from_static(b"brief"), QoS::ExactlyOnce);
    publish.properties.message_expiry_interval = Some(1);
    publisher.publish(publish).await;
    let first = sub.recv_publish().await;
    sub.drop_connection().await;
    let expired_at = Instant::now() + Duration::from_millis(1100);
    wait_until("the message has expired", || Instant::now() >= expired_at).await;

    let (mut sub, _) = TestClient::connect_with(addr, persistent("slow", 300)).await;
    let again = sub.recv_publish().await;
    assert!(again.dup);
    assert_eq!((again.packet_id, &again.payload[..]), (first.packet_id, &b"brief"[..]));
    assert_eq!(again.properties.message_expiry_interval, Some(0));
    sub.send(Packet::PubRec(PubRec::new(again.packet_id))).await;
    assert!(matches!(sub.recv().await, Packet::PubRel(rel) if rel.packet_id == first.packet_id));
    broker.shutdown().await;
}

#[tokio::test]
async fn clean_start_discards_the_previous_session() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("c", 300)).await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let (mut fresh, connack) = TestClient::connect_with(addr, Connect::new("c")).await;
    assert!(!connack.session_present);
    let mut publisher = TestClient::connect(addr, "pub").await;
    assert_eq!(publisher.publish_simple("t", "x", QoS::AtLeastOnce).await, ReasonCode::NoMatchingSubscribers);
    fresh.expect_nothing().await;
    assert_eq!(broker.stats().subscriptions, 0);
    broker.shutdown().await;
}

#[tokio::test]
async fn session_expiry_zero_ends_the_session_at_disconnect() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("z", 0)).await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    wait_until("the session is gone", || broker.stats().subscriptions == 0).await;
    let (_again, connack) = TestClient::connect_with(addr, persistent("z", 0)).await;
    assert!(!connack.session_present);
    broker.shutdown().await;
}

#[tokio::test]
async fn session_expires_after_its_interval() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("e", 1)).await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    wait_until("the session expires", || broker.stats().subscriptions == 0).await;
    broker.shutdown().await;
}

/// MQTT-3.1.4-3 and MQTT 5.0 §4.13: the old connection gets DISCONNECT 0x8E.
#[tokio::test]
async fn mqtt_3_1_4_3_session_takeover_disconnects_the_old_connection() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut old, _) = TestClient::connect_with(addr, persistent("same", 300)).await;
    old.subscribe("t", QoS::AtLeastOnce).await;
    let (mut new, connack) = TestClient::connect_with(addr, persistent("same", 300)).await;
    assert!(connack.session_present);
    assert_eq!(old.expect_closed().await, Some(ReasonCode::SessionTakenOver));
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish_simple("t", "to new", QoS::AtLeastOnce).await;
    assert_eq!(&new.recv_and_ack().await.payload[..], b"to new");
    broker.shutdown().await;
}

/// A connection closed by a takeover did not send DISCONNECT: its will is published
/// (no Will Delay Interval; MQTT-3.1.2-8).
#[tokio::test]
async fn a_taken_over_connection_publishes_its_will() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut watcher = TestClient::connect(addr, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    let (mut old, _) =
        TestClient::connect_with(addr, with_will("twin", Will::new("wills/twin", "old"))).await;
    let (_new, _) = TestClient::connect_with(addr, Connect::new("twin")).await;
    assert_eq!(old.expect_closed().await, Some(ReasonCode::SessionTakenOver));
    assert_eq!(&watcher.recv_publish().await.payload[..], b"old");
    broker.shutdown().await;
}

#[tokio::test]
async fn takeover_of_a_v311_client_closes_it() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut old = TestClient::connect_v311(addr, "same311").await;
    let _new = TestClient::connect_v311(addr, "same311").await;
    assert_eq!(old.expect_closed().await, None);
    broker.shutdown().await;
}

fn with_will(client_id: &str, will: Will) -> Connect {
    Connect { will: Some(will), ..Connect::new(client_id) }
}

#[tokio::test]
async fn will_is_published_on_abnormal_close() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut watcher = TestClient::connect(addr, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut will = Will::new("wills/a", Bytes::from_static(b"gone"));
    will.qos = QoS::AtLeastOnce;
    will.properties.user_properties = vec![("k".into(), "v".into())];
    let (dying, _) = TestClient::connect_with(addr, with_will("a", will)).await;
    dying.drop_connection().await;
    let got = watcher.recv_and_ack().await;
    assert_eq!((&*got.topic, &got.payload[..]), ("wills/a", &b"gone"[..]));
    assert_eq!(got.properties.user_properties, vec![("k".into(), "v".into())]);
    broker.shutdown().await;
}

/// MQTT-3.14.4-3: no will after DISCONNECT 0x00; a will after DISCONNECT 0x04.
#[tokio::test]
async fn mqtt_3_14_4_3_will_depends_on_the_disconnect_reason() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut watcher = TestClient::connect(addr, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    let (normal, _) = TestClient::connect_with(addr, with_will("n", Will::new("wills/n", "n"))).await;
    normal.disconnect().await;
    let (mut with, _) = TestClient::connect_with(addr, with_will("w", Will::new("wills/w", "w"))).await;
    with.send(Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWill))).await;
    // The first will to arrive is w's: n's was never published.
    assert_eq!(&*watcher.recv_publish().await.topic, "wills/w");
    broker.shutdown().await;
}

/// A will cannot reach the broker's `$SYS` topics any more than a PUBLISH can: CONNECT is
/// refused with 0x87 Not authorized (0x05 in 3.1.1), and nothing appears under `$SYS`.
#[tokio::test]
async fn a_will_on_a_sys_topic_is_refused_at_connect() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
        let mut will = Will::new("$SYS/broker/version", Bytes::from_static(b"forged"));
        will.retain = true;
        let connect = Connect { protocol_version: version, will: Some(will), ..Connect::new("forger") };
        let (_, connack) = TestClient::connect_with(addr, connect).await;
        assert_eq!(connack.reason_code, ReasonCode::NotAuthorized, "{version:?}");
    }
    let mut watcher = TestClient::connect(addr, "watcher").await;
    watcher.subscribe("$SYS/broker/version", QoS::AtMostOnce).await;
    let version = watcher.recv_publish().await;
    assert_ne!(&version.payload[..], b"forged");
    broker.shutdown().await;
}

#[tokio::test]
async fn will_on_v311_abnormal_close_and_retained_will() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut will = Will::new("status/dev", Bytes::from_static(b"offline"));
    will.retain = true;
    let connect =
        Connect { protocol_version: ProtocolVersion::V311, will: Some(will), ..Connect::new("dev") };
    let (dev, _) = TestClient::connect_with(addr, connect).await;
    dev.drop_connection().await;
    wait_until("the will is retained", || broker.stats().retained == 1).await;
    let mut late = TestClient::connect(addr, "late").await;
    late.subscribe("status/+", QoS::AtMostOnce).await;
    let got = late.recv_publish().await;
    assert!(got.retain);
    assert_eq!(&got.payload[..], b"offline");
    broker.shutdown().await;
}

/// MQTT-3.1.3-9: a will with a delay is not sent if the session resumes in time.
#[tokio::test]
async fn mqtt_3_1_3_9_delayed_will_is_cancelled_by_resume() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut watcher = TestClient::connect(addr, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    let mut will = Will::new("wills/d", "delayed");
    will.properties.will_delay_interval = Some(60);
    let connect = Connect { will: Some(will), ..persistent("d", 300) };
    let (dev, _) = TestClient::connect_with(addr, connect).await;
    dev.drop_connection().await;
    let (_dev, connack) = TestClient::connect_with(addr, persistent("d", 300)).await;
    assert!(connack.session_present);
    // Another will, without delay, proves the delayed one was not sent before it.
    let (other, _) = TestClient::connect_with(addr, with_will("o", Will::new("wills/o", "o"))).await;
    other.drop_connection().await;
    assert_eq!(&*watcher.recv_publish().await.topic, "wills/o");
    broker.shutdown().await;
}

#[tokio::test]
async fn delayed_will_is_published_after_its_delay() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut watcher = TestClient::connect(addr, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    let mut will = Will::new("wills/late", "late");
    will.properties.will_delay_interval = Some(1);
    let connect = Connect { will: Some(will), ..persistent("late", 300) };
    let (dev, _) = TestClient::connect_with(addr, connect).await;
    let closed = Instant::now();
    dev.drop_connection().await;
    assert_eq!(&*watcher.recv_publish().await.topic, "wills/late");
    assert!(closed.elapsed() >= Duration::from_millis(900), "{:?}", closed.elapsed());
    broker.shutdown().await;
}

/// The will goes out when the session ends, if that is before the will delay.
#[tokio::test]
async fn will_is_published_when_session_expires_before_the_delay() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut watcher = TestClient::connect(addr, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    let mut will = Will::new("wills/s", "s");
    will.properties.will_delay_interval = Some(3600);
    let (dev, _) = TestClient::connect_with(addr, Connect { will: Some(will), ..persistent("s", 0) }).await;
    dev.drop_connection().await;
    assert_eq!(&*watcher.recv_publish().await.topic, "wills/s");
    broker.shutdown().await;
}

/// MQTT-3.1.2-22: the server disconnects a client silent for 1.5 times the keep-alive.
#[tokio::test]
async fn mqtt_3_1_2_22_keep_alive_is_enforced() {
    let broker = start_broker().await;
    let connect = Connect { keep_alive: 1, ..Connect::new("sleepy") };
    let (mut client, _) = TestClient::connect_with(broker.local_addr(), connect).await;
    let start = Instant::now();
    assert_eq!(client.expect_closed().await, Some(ReasonCode::KeepAliveTimeout));
    assert!(start.elapsed() >= Duration::from_millis(1400), "{:?}", start.elapsed());
    broker.shutdown().await;
}

/// Keep-alive counts whole packets: bytes of a PUBLISH trickling in, never completed, do
/// not keep the connection open (MQTT-3.1.2-22).
#[tokio::test]
async fn mqtt_3_1_2_22_a_packet_trickling_in_does_not_count_as_activity() {
    let broker = start_broker().await;
    let connect = Connect { keep_alive: 1, ..Connect::new("trickle") };
    let (mut client, _) = TestClient::connect_with(broker.local_addr(), connect).await;
    // A PUBLISH announcing 1,000 bytes, then a byte whenever 100 ms pass without an answer:
    // 4 s would not finish it.
    client.raw.send_raw([0x30, 0xE8, 0x07, 0x00, 0x01]).await.unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    for _ in 0..40 {
        match client.raw.receive_raw(Duration::from_millis(100)).await {
            Ok(bytes) => {
                answer = bytes;
                break;
            }
            Err(_) => client.raw.send_raw([b'a']).await.unwrap(),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(3), "still open after {:?}", start.elapsed());
    let disconnect = Packet::decode(Bytes::from(answer), ProtocolVersion::V5).expect("DISCONNECT");
    assert!(matches!(disconnect, Packet::Disconnect(d) if d.reason_code == ReasonCode::KeepAliveTimeout));
    broker.shutdown().await;
}

/// A 3.1.1 client cannot be told a Server Keep Alive: one asking for more than
/// `keep_alive_max` (or for none) is refused with 0x02, as by Mosquitto; one within the
/// bounds is accepted.
#[tokio::test]
async fn v311_keep_alive_above_the_maximum_is_refused() {
    let config = BrokerConfig {
        limits: Limits { keep_alive_max: Some(60), ..Limits::default() },
        ..BrokerConfig::default()
    };
    let broker = start_broker_with(config).await;
    let addr = broker.local_addr();
    for (keep_alive, expected) in [
        (600, ReasonCode::ClientIdentifierNotValid),
        (0, ReasonCode::ClientIdentifierNotValid),
        (30, ReasonCode::Success),
    ] {
        let connect = Connect { protocol_version: ProtocolVersion::V311, keep_alive, ..Connect::new("old") };
        let (_, connack) = TestClient::connect_with(addr, connect).await;
        assert_eq!(connack.reason_code, expected, "keep-alive {keep_alive}");
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn connack_reflects_the_configuration() {
    let mut config = BrokerConfig {
        limits: Limits {
            keep_alive_max: Some(30),
            max_packet_size: 10_000,
            receive_maximum: 20,
            topic_alias_maximum: 5,
            max_session_expiry: Some(100),
            ..Limits::default()
        },
        ..BrokerConfig::default()
    };
    config.features.maximum_qos = 1;
    config.features.shared_subscriptions = false;
    let broker = start_broker_with(config).await;
    let mut connect = persistent("", 1000);
    connect.clean_start = true;
    connect.properties.request_response_information = Some(true);
    let (_client, connack) = TestClient::connect_with(broker.local_addr(), connect).await;
    let p = &connack.properties;
    assert_eq!(p.server_keep_alive, Some(30));
    assert_eq!(p.maximum_packet_size, Some(10_000));
    assert_eq!(p.receive_maximum, Some(20));
    assert_eq!(p.topic_alias_maximum, Some(5));
    assert_eq!(p.session_expiry_interval, Some(100));
    assert_eq!(p.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(p.shared_subscription_available, Some(false));
    let assigned = p.assigned_client_identifier.clone().expect("assigned client identifier");
    assert!(!assigned.is_empty());
    assert_eq!(p.response_information.as_deref(), Some(&*format!("response/{assigned}")));
    broker.shutdown().await;
}

/// Features turned off are announced as unavailable (MQTT 5.0 §3.2.2.3), and a will that
/// needs one is refused: retained will 0x9A (MQTT-3.2.2-13), will QoS above Maximum QoS
/// 0x9B (MQTT-3.2.2-12). Response Information only when requested.
#[tokio::test]
async fn connack_announces_disabled_features_and_refuses_wills_that_need_them() {
    let mut config = BrokerConfig {
        limits: Limits { keep_alive_min: Some(10), ..Limits::default() },
        ..BrokerConfig::default()
    };
    config.features.maximum_qos = 1;
    config.features.retain_available = false;
    config.features.wildcard_subscriptions = false;
    config.features.subscription_identifiers = false;
    let broker = start_broker_with(config).await;
    let addr = broker.local_addr();
    let connect = Connect { keep_alive: 2, ..Connect::new("plain") };
    let (_client, connack) = TestClient::connect_with(addr, connect).await;
    let p = &connack.properties;
    assert_eq!(p.retain_available, Some(false));
    assert_eq!(p.wildcard_subscription_available, Some(false));
    assert_eq!(p.subscription_identifiers_available, Some(false));
    assert_eq!(p.shared_subscription_available, None);
    assert_eq!(p.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(p.server_keep_alive, Some(10), "keep_alive_min raises the client's 2 s");
    assert_eq!(p.response_information, None, "not requested");

    let mut retained = Will::new("wills/r", "r");
    retained.retain = true;
    let (_, connack) = TestClient::connect_with(addr, with_will("r", retained)).await;
    assert_eq!(connack.reason_code, ReasonCode::RetainNotSupported);
    let mut exactly_once = Will::new("wills/q", "q");
    exactly_once.qos = QoS::ExactlyOnce;
    let (_, connack) = TestClient::connect_with(addr, with_will("q", exactly_once)).await;
    assert_eq!(connack.reason_code, ReasonCode::QosNotSupported);
    broker.shutdown().await;
}

/// MQTT-3.14.2-2: a DISCONNECT cannot give a session that had Session Expiry Interval 0 a
/// non-zero one (0x82 Protocol Error); it can end a persistent session by setting 0.
#[tokio::test]
async fn mqtt_3_14_2_2_session_expiry_in_disconnect() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut client = TestClient::connect(addr, "short-lived").await;
    let mut disconnect = Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(300);
    client.send(Packet::Disconnect(disconnect)).await;
    assert_eq!(client.expect_closed().await, Some(ReasonCode::ProtocolError));

    let (mut client, _) = TestClient::connect_with(addr, persistent("ending", 300)).await;
    client.subscribe("t", QoS::AtLeastOnce).await;
    let mut disconnect = Disconnect::new(ReasonCode::Success);
    disconnect.properties.session_expiry_interval = Some(0);
    client.send(Packet::Disconnect(disconnect)).await;
    assert_eq!(client.expect_closed().await, None);
    let (_, connack) = TestClient::connect_with(addr, persistent("ending", 300)).await;
    assert!(!connack.session_present, "the session ended with the DISCONNECT");
    broker.shutdown().await;
}

/// MQTT-3.1.3-8: a 3.1.1 client with an empty client id and Clean Session 0 is rejected.
#[tokio::test]
async fn mqtt_3_1_3_8_empty_client_id_without_clean_session_is_rejected() {
    let broker = start_broker().await;
    let connect = Connect { protocol_version: ProtocolVersion::V311, clean_start: false, ..Connect::new("") };
    let (_client, connack) = TestClient::connect_with(broker.local_addr(), connect).await;
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    broker.shutdown().await;
}

#[tokio::test]
async fn shutdown_sends_0x8b_and_joins() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut v5 = TestClient::connect(addr, "v5").await;
    let mut v3 = TestClient::connect_v311(addr, "v3").await;
    tokio::time::timeout(Duration::from_secs(5), broker.shutdown()).await.expect("shutdown completes");
    assert_eq!(v5.expect_closed().await, Some(ReasonCode::ServerShuttingDown));
    assert_eq!(v3.expect_closed().await, None);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener is closed");
}

/// A shutdown that interrupts a write to a client that reads slowly sends the rest of the
/// buffer, then DISCONNECT 0x8B: the client reads whole packets to the end, none repeated
/// in part.
#[tokio::test]
async fn shutdown_during_a_blocked_write_keeps_the_stream_intact() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let mut slow = TestClient::connect(addr, "slow").await;
    slow.subscribe("big", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let payload = "x".repeat(256 * 1024);
    // 16 MiB: more than the loopback socket buffers hold, so the broker's writes block.
    for _ in 0..64 {
        publisher.publish_simple("big", &payload, QoS::AtLeastOnce).await;
    }
    wait_until("messages wait for the slow client", || broker.stats().queued > 0).await;
    let shutdown = tokio::spawn(broker.shutdown());
    assert_eq!(slow.expect_closed().await, Some(ReasonCode::ServerShuttingDown));
    shutdown.await.unwrap();
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let config =
        BrokerConfig { limits: Limits { max_connections: 1, ..Limits::default() }, ..Default::default() };
    let broker = start_broker_with(config).await;
    let addr = broker.local_addr();
    let _first = TestClient::connect(addr, "first").await;
    let (_second, connack) = TestClient::connect_with(addr, Connect::new("second")).await;
    assert_eq!(connack.reason_code, ReasonCode::QuotaExceeded);
    let v311 = Connect { protocol_version: ProtocolVersion::V311, ..Connect::new("third") };
    let (_third, connack) = TestClient::connect_with(addr, v311).await;
    assert_eq!(connack.reason_code, ReasonCode::ServerUnavailable);
    broker.shutdown().await;
}
