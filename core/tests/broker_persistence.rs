//! Broker persistence (redb): sessions, subscriptions, queued and in-flight messages,
//! incoming QoS 2 state and retained messages survive a restart; under `sync` durability
//! nothing acknowledged is lost to `kill -9`.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqttkit::broker::{BrokerConfig, Durability, StorageConfig};
use mqttkit::protocol::{
    Connect, ConnectProperties, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, Will,
};
use support::{TestClient, start_broker_with, wait_until};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("mqttkit-{name}-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

fn config(dir: &TempDir, durability: Durability) -> BrokerConfig {
    BrokerConfig {
        storage: StorageConfig { durability, data_dir: Some(dir.0.clone()), commit_interval_ms: Some(5) },
        ..BrokerConfig::default()
    }
}

fn persistent(client_id: &str) -> Connect {
    Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(3600), ..Default::default() },
        ..Connect::new(client_id)
    }
}

async fn restart_keeps_state(durability: Durability) {
    let dir = TempDir::new("restart");
    let broker = start_broker_with(config(&dir, durability)).await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("keeper")).await;
    sub.subscribe("p/#", QoS::ExactlyOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    // One message in flight (sent, never acknowledged) ...
    publisher.publish_simple("p/inflight", "i", QoS::AtLeastOnce).await;
    let inflight = sub.recv_publish().await;
    sub.drop_connection().await;
    wait_until("keeper is offline", || broker.stats().connections == 1).await;
    // ... and two queued while offline, plus a retained message.
    publisher.publish_simple("p/1", "one", QoS::AtLeastOnce).await;
    publisher.publish_simple("p/2", "two", QoS::ExactlyOnce).await;
    publisher
        .publish(Publish::new("state", Bytes::from_static(b"on"), QoS::AtLeastOnce).with_retain(true))
        .await;
    broker.shutdown().await;

    let broker = start_broker_with(config(&dir, durability)).await;
    let addr = broker.local_addr();
    assert_eq!(broker.stats().retained, 1);
    assert_eq!(broker.stats().subscriptions, 1);
    let (mut sub, connack) = TestClient::connect_with(addr, persistent("keeper")).await;
    assert!(connack.session_present);
    let again = sub.recv_publish().await;
    assert!(again.dup, "in-flight message resent with DUP: {again:?}");
    assert_eq!((again.packet_id, &again.payload[..]), (inflight.packet_id, &b"i"[..]));
    sub.send(Packet::PubAck(PubAck::new(again.packet_id))).await;
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"one");
    let two = sub.recv_and_ack().await;
    assert_eq!((&two.payload[..], two.qos), (&b"two"[..], QoS::ExactlyOnce));
    sub.expect_nothing().await;
    // The subscription survived too.
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish_simple("p/3", "three", QoS::AtLeastOnce).await;
    assert_eq!(&sub.recv_and_ack().await.payload[..], b"three");
    let mut late = TestClient::connect(addr, "late").await;
    late.subscribe("state", QoS::AtMostOnce).await;
    assert_eq!(&late.recv_publish().await.payload[..], b"on");
    broker.shutdown().await;
}

#[tokio::test]
async fn sessions_messages_and_retained_survive_a_restart_sync() {
    restart_keeps_state(Durability::Sync).await;
}

#[tokio::test]
async fn sessions_messages_and_retained_survive_a_restart_batched() {
    restart_keeps_state(Durability::Batched).await;
}

/// An outgoing QoS 2 message the client has PUBREC'd survives in that state: after the
/// restart the broker resends PUBREL (MQTT-4.4.0-1), not the PUBLISH, and PUBCOMP ends it.
#[tokio::test]
async fn outgoing_qos2_released_state_survives_a_restart() {
    let dir = TempDir::new("pubrel");
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let addr = broker.local_addr();
    let (mut sub, _) = TestClient::connect_with(addr, persistent("receiver")).await;
    sub.subscribe("q2", QoS::ExactlyOnce).await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    publisher.publish_simple("q2", "exactly", QoS::ExactlyOnce).await;
    let got = sub.recv_publish().await;
    sub.send(Packet::PubRec(PubRec::new(got.packet_id))).await;
    assert!(matches!(sub.recv().await, Packet::PubRel(rel) if rel.packet_id == got.packet_id));
    sub.ping().await; // the PUBREC's state change is stored before the shutdown
    sub.drop_connection().await;
    wait_until("receiver is offline", || broker.stats().connections == 1).await;
    broker.shutdown().await;

    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (mut sub, connack) = TestClient::connect_with(broker.local_addr(), persistent("receiver")).await;
    assert!(connack.session_present);
    match sub.recv().await {
        Packet::PubRel(rel) => assert_eq!(rel.packet_id, got.packet_id),
        other => panic!("expected PUBREL, got {other:?}"),
    }
    sub.send(Packet::PubComp(PubComp::new(got.packet_id))).await;
    sub.expect_nothing().await;
    sub.drop_connection().await;
    broker.shutdown().await;

    // Completed: a third start resends nothing.
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (mut sub, _) = TestClient::connect_with(broker.local_addr(), persistent("receiver")).await;
    sub.expect_nothing().await;
    broker.shutdown().await;
}

/// A stored session's expiry keeps running while the broker is down: one that expired
/// meanwhile is gone after the restart; one that did not is resumed.
#[tokio::test]
async fn session_expiry_counts_the_time_the_broker_was_down() {
    let dir = TempDir::new("expiry");
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let addr = broker.local_addr();
    let brief = |id: &str, expiry: u32| Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(expiry), ..Default::default() },
        ..Connect::new(id)
    };
    for (id, expiry) in [("brief", 1), ("lasting", 3600)] {
        let (mut client, _) = TestClient::connect_with(addr, brief(id, expiry)).await;
        client.subscribe("t", QoS::AtLeastOnce).await;
        client.disconnect().await;
    }
    let stopped = Instant::now();
    broker.shutdown().await;
    wait_until("a second has passed", || stopped.elapsed() >= Duration::from_millis(1100)).await;

    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    assert_eq!(broker.stats().subscriptions, 1);
    let (_, connack) = TestClient::connect_with(broker.local_addr(), brief("brief", 1)).await;
    assert!(!connack.session_present, "expired while the broker was down");
    let (_, connack) = TestClient::connect_with(broker.local_addr(), brief("lasting", 3600)).await;
    assert!(connack.session_present);
    broker.shutdown().await;
}

/// Acknowledged QoS 2 state survives: a PUBLISH retransmitted after the restart (before
/// PUBREL) is not delivered a second time.
#[tokio::test]
async fn incoming_qos2_state_survives_a_restart() {
    let dir = TempDir::new("qos2");
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (mut sub, _) = TestClient::connect_with(broker.local_addr(), persistent("sub")).await;
    sub.subscribe("x", QoS::AtMostOnce).await;
    let (mut publisher, _) = TestClient::connect_with(broker.local_addr(), persistent("pub")).await;
    let publish = Publish::new("x", Bytes::from_static(b"once"), QoS::ExactlyOnce).with_packet_id(5);
    publisher.send(Packet::Publish(publish.clone())).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(PubRec { packet_id: 5, .. })));
    assert_eq!(&sub.recv_publish().await.payload[..], b"once");
    broker.shutdown().await;

    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (mut sub, _) = TestClient::connect_with(broker.local_addr(), persistent("sub")).await;
    let (mut publisher, connack) = TestClient::connect_with(broker.local_addr(), persistent("pub")).await;
    assert!(connack.session_present);
    let mut again = publish;
    again.dup = true;
    publisher.send(Packet::Publish(again)).await;
    assert!(matches!(publisher.recv().await, Packet::PubRec(PubRec { packet_id: 5, .. })));
    publisher.send(Packet::PubRel(PubRel::new(5))).await;
    match publisher.recv().await {
        Packet::PubComp(comp) => assert_eq!(comp.reason_code, ReasonCode::Success),
        other => panic!("{other:?}"),
    }
    publisher.publish_simple("x", "marker", QoS::AtMostOnce).await;
    assert_eq!(&sub.recv_publish().await.payload[..], b"marker");
    broker.shutdown().await;
}

/// A will waiting for its Will Delay Interval (MQTT 5.0 §3.1.3.2.2) survives a restart:
/// published when it falls due (not at the restart), with its properties, once.
#[tokio::test]
async fn a_delayed_will_is_published_after_a_restart() {
    let dir = TempDir::new("will");
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let addr = broker.local_addr();
    // A persistent watcher, so that the will is queued for it whenever it fires.
    let (mut watcher, _) = TestClient::connect_with(addr, persistent("watcher")).await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    watcher.disconnect().await;
    let mut will = Will::new("wills/mortal", Bytes::from_static(b"gone"));
    will.qos = QoS::AtLeastOnce;
    will.properties.will_delay_interval = Some(3);
    will.properties.user_properties = vec![("k".into(), "v".into())];
    let (mortal, _) =
        TestClient::connect_with(addr, Connect { will: Some(will), ..persistent("mortal") }).await;
    mortal.drop_connection().await;
    wait_until("mortal is offline", || broker.stats().connections == 0).await;
    let lost_at = Instant::now();
    broker.shutdown().await;

    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (mut watcher, connack) = TestClient::connect_with(broker.local_addr(), persistent("watcher")).await;
    assert!(connack.session_present);
    let got = watcher.recv_and_ack().await;
    assert!(lost_at.elapsed() >= Duration::from_millis(2900), "published after {:?}", lost_at.elapsed());
    assert_eq!((&*got.topic, &got.payload[..]), ("wills/mortal", &b"gone"[..]));
    assert_eq!(got.properties.user_properties, vec![("k".into(), "v".into())]);
    assert_eq!(broker.stats().messages_in, 1);
    watcher.ping().await; // the PUBACK is handled before the shutdown
    watcher.disconnect().await;
    broker.shutdown().await;

    // Published, so no longer stored: a third start publishes nothing (the watcher's ping
    // round trip comes after anything the broker publishes while starting).
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (mut watcher, _) = TestClient::connect_with(broker.local_addr(), persistent("watcher")).await;
    watcher.expect_nothing().await;
    assert_eq!(broker.stats().messages_in, 0);
    broker.shutdown().await;
}

/// MQTT-3.1.2-8: a broker shutting down closes its clients' connections, so their wills
/// apply. One without a delay is published before storage is flushed: queued for an offline
/// persistent session and, retained, kept across the restart. A delayed one stays pending.
#[tokio::test]
async fn mqtt_3_1_2_8_wills_apply_when_the_broker_shuts_down() {
    let dir = TempDir::new("will-shutdown");
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let addr = broker.local_addr();
    let (mut watcher, _) = TestClient::connect_with(addr, persistent("watcher")).await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    watcher.disconnect().await;
    let mut now = Will::new("wills/now", Bytes::from_static(b"gone"));
    now.qos = QoS::AtLeastOnce;
    now.retain = true;
    let (_now, _) = TestClient::connect_with(addr, Connect { will: Some(now), ..persistent("now") }).await;
    let mut later = Will::new("wills/later", Bytes::from_static(b"late"));
    later.properties.will_delay_interval = Some(3600);
    let (_later, _) =
        TestClient::connect_with(addr, Connect { will: Some(later), ..persistent("later") }).await;
    broker.shutdown().await;

    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let addr = broker.local_addr();
    assert_eq!(broker.stats().retained, 1);
    let (mut watcher, connack) = TestClient::connect_with(addr, persistent("watcher")).await;
    assert!(connack.session_present);
    let got = watcher.recv_and_ack().await;
    assert_eq!((&*got.topic, &got.payload[..]), ("wills/now", &b"gone"[..]));
    // The delayed will is not due: `later` coming back cancels it.
    let (back, connack) = TestClient::connect_with(addr, persistent("later")).await;
    assert!(connack.session_present);
    back.disconnect().await;
    watcher.expect_nothing().await;
    broker.shutdown().await;
}

/// A client that comes back before its Will Delay Interval cancels the stored will too.
#[tokio::test]
async fn a_resumed_session_cancels_its_stored_will() {
    let dir = TempDir::new("will-cancel");
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let addr = broker.local_addr();
    let mut will = Will::new("wills/back", Bytes::from_static(b"gone"));
    will.properties.will_delay_interval = Some(3600);
    let (mortal, _) =
        TestClient::connect_with(addr, Connect { will: Some(will), ..persistent("back") }).await;
    mortal.drop_connection().await;
    wait_until("back is offline", || broker.stats().connections == 0).await;
    broker.shutdown().await;

    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (back, connack) = TestClient::connect_with(broker.local_addr(), persistent("back")).await;
    assert!(connack.session_present);
    back.disconnect().await;
    broker.shutdown().await;

    // Its session ends now (Clean Start): a will still stored would be published.
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let mut watcher = TestClient::connect(broker.local_addr(), "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;
    let (fresh, connack) = TestClient::connect_with(broker.local_addr(), Connect::new("back")).await;
    assert!(!connack.session_present);
    watcher.expect_nothing().await;
    assert_eq!(broker.stats().messages_in, 0);
    fresh.disconnect().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn clean_start_removes_the_stored_session() {
    let dir = TempDir::new("clean");
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    let (mut sub, _) = TestClient::connect_with(broker.local_addr(), persistent("c")).await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut publisher = TestClient::connect(broker.local_addr(), "pub").await;
    publisher.publish_simple("t", "old", QoS::AtLeastOnce).await;
    let (fresh, connack) = TestClient::connect_with(broker.local_addr(), Connect::new("c")).await;
    assert!(!connack.session_present);
    fresh.disconnect().await;
    broker.shutdown().await;
    let broker = start_broker_with(config(&dir, Durability::Sync)).await;
    assert_eq!(broker.stats().subscriptions, 0);
    assert_eq!(broker.stats().queued, 0);
    let (_c, connack) = TestClient::connect_with(broker.local_addr(), persistent("c")).await;
    assert!(!connack.session_present);
    broker.shutdown().await;
}

/// The acceptance test: QoS 1 and 2 messages published to an offline persistent
/// session, the broker process killed with SIGKILL mid-stream under `sync`, restarted;
/// every acknowledged message is delivered (QoS 1 at least once, QoS 2 exactly once).
#[cfg(all(unix, feature = "cli"))]
#[tokio::test]
async fn kill_9_loses_no_acknowledged_message_under_sync() {
    use std::collections::HashMap;
    use std::time::Duration;

    let dir = TempDir::new("kill9");
    let config_path = dir.0.join("broker.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[listener]]\nbind = \"127.0.0.1:0\"\n\n[storage]\ndurability = \"sync\"\ndata_dir = {:?}\n",
            dir.0.join("data")
        ),
    )
    .unwrap();

    let broker_args =
        [OsStr::new("--log"), OsStr::new("warn"), OsStr::new("--config"), config_path.as_os_str()];
    let (mut broker, addr) = support::spawn_broker_cli(&broker_args).await;
    let (mut sub, _) = TestClient::connect_with(addr, persistent("offline")).await;
    sub.subscribe("k/#", QoS::ExactlyOnce).await;
    sub.disconnect().await;

    // Publish in the background; record every acknowledged message.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, QoS)>::new()));
    let publisher = {
        let acked = acked.clone();
        tokio::spawn(async move {
            let mut publisher = TestClient::connect(addr, "publisher").await;
            for i in 0.. {
                let qos = if i % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
                let payload = format!("m{i}");
                let mut publish = Publish::new("k/x", Bytes::from(payload.clone()), qos);
                publish.packet_id = publisher.next_id();
                let id = publish.packet_id;
                if publisher.raw.send_raw(encode(&publish)).await.is_err() {
                    return;
                }
                let Ok(answer) =
                    publisher.raw.receive_packet(publisher.version, Duration::from_secs(5)).await
                else {
                    return;
                };
                match answer {
                    Packet::PubAck(ack) if ack.packet_id == id && !ack.reason_code.is_error() => {}
                    Packet::PubRec(rec) if rec.packet_id == id && !rec.reason_code.is_error() => {}
                    _ => return,
                }
                // PUBACK / PUBREC is the acknowledgement that the broker owns the message.
                acked.lock().unwrap().push((payload, qos));
                if qos == QoS::ExactlyOnce {
                    if publisher.raw.send_raw(encode_packet(Packet::PubRel(PubRel::new(id)))).await.is_err() {
                        return;
                    }
                    if publisher.raw.receive_packet(publisher.version, Duration::from_secs(5)).await.is_err()
                    {
                        return;
                    }
                }
            }
        })
    };
    wait_until("200 messages acknowledged", || acked.lock().unwrap().len() >= 200).await;
    broker.start_kill().unwrap(); // SIGKILL
    let _ = broker.wait().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), publisher).await;
    let acked = acked.lock().unwrap().clone();

    let (mut broker, addr) = support::spawn_broker_cli(&broker_args).await;
    let (mut sub, connack) = TestClient::connect_with(addr, persistent("offline")).await;
    assert!(connack.session_present);
    let mut received: HashMap<String, usize> = HashMap::new();
    // Drain everything: the stream ends with a marker published after the reconnect.
    let mut marker = TestClient::connect(addr, "marker").await;
    marker.publish_simple("k/end", "end", QoS::AtLeastOnce).await;
    // The broker pipelines: PUBLISH, PUBREL for earlier QoS 2 messages, in any order.
    loop {
        match sub.recv().await {
            Packet::Publish(publish) => {
                match publish.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => sub.send(Packet::PubAck(PubAck::new(publish.packet_id))).await,
                    QoS::ExactlyOnce => sub.send(Packet::PubRec(PubRec::new(publish.packet_id))).await,
                }
                if &publish.payload[..] == b"end" {
                    break;
                }
                *received.entry(String::from_utf8(publish.payload.to_vec()).unwrap()).or_default() += 1;
            }
            Packet::PubRel(rel) => sub.send(Packet::PubComp(PubComp::new(rel.packet_id))).await,
            other => panic!("unexpected {other:?}"),
        }
    }
    for (payload, qos) in &acked {
        let count = received.get(payload).copied().unwrap_or(0);
        match qos {
            QoS::AtLeastOnce => assert!(count >= 1, "acknowledged QoS 1 message {payload} lost"),
            _ => assert_eq!(count, 1, "acknowledged QoS 2 message {payload} delivered {count} times"),
        }
    }
    assert!(acked.len() >= 200);
    broker.start_kill().unwrap();
    let _ = broker.wait().await;

    fn encode(publish: &Publish) -> Vec<u8> {
        encode_packet(Packet::Publish(publish.clone()))
    }
    fn encode_packet(packet: Packet) -> Vec<u8> {
        let mut buf = bytes::BytesMut::new();
        packet.encode(mqttkit::protocol::ProtocolVersion::V5, &mut buf).unwrap();
        buf.to_vec()
    }
}

/// MQTT-3.1.2-8 across a crash: the broker killed with SIGKILL while clients with wills are
/// connected publishes their wills when it restarts (their connections closed without
/// DISCONNECT), a delayed one once its delay has run from the restart, unless the client
/// resumes first; a will whose client disconnected normally is not published.
#[cfg(all(unix, feature = "cli"))]
#[tokio::test]
async fn wills_of_open_connections_survive_kill_9() {
    let dir = TempDir::new("kill9-wills");
    let data_dir = dir.0.join("data");
    let broker_args = ["--log", "warn", "--bind", "127.0.0.1:0", "--durability", "sync", "--data-dir"];
    let args: Vec<&OsStr> = broker_args.iter().map(OsStr::new).chain([data_dir.as_os_str()]).collect();
    let (mut broker, addr) = support::spawn_broker_cli(&args).await;
    let (mut watcher, _) = TestClient::connect_with(addr, persistent("watcher")).await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    watcher.disconnect().await;
    let mut will = Will::new("wills/crashed", Bytes::from_static(b"gone"));
    will.qos = QoS::AtLeastOnce;
    let v311 = Connect {
        protocol_version: mqttkit::protocol::ProtocolVersion::V311,
        will: Some(will),
        ..Connect::new("crashed")
    };
    let (mut crashed, _) = TestClient::connect_with(addr, v311).await;
    // A clean session's subscriptions are not stored: subscribing leaves the will stored.
    crashed.subscribe("anything", QoS::AtMostOnce).await;
    let mut delayed = Will::new("wills/delayed", Bytes::from_static(b"late"));
    delayed.properties.will_delay_interval = Some(3600);
    let (_delayed, _) =
        TestClient::connect_with(addr, Connect { will: Some(delayed), ..persistent("delayed") }).await;
    let (polite, _) = TestClient::connect_with(
        addr,
        Connect { will: Some(Will::new("wills/polite", "no")), ..Connect::new("polite") },
    )
    .await;
    polite.disconnect().await;
    // Under `sync` the PUBACK of a message stored for the watcher leaves once everything
    // submitted before it is on disk.
    let mut barrier = TestClient::connect(addr, "barrier").await;
    barrier.publish_simple("wills/barrier", "stored", QoS::AtLeastOnce).await;
    broker.start_kill().unwrap(); // SIGKILL
    let _ = broker.wait().await;

    let (mut broker, addr) = support::spawn_broker_cli(&args).await;
    let (mut watcher, connack) = TestClient::connect_with(addr, persistent("watcher")).await;
    assert!(connack.session_present);
    assert_eq!(&*watcher.recv_and_ack().await.topic, "wills/barrier");
    let got = watcher.recv_and_ack().await;
    assert_eq!((&*got.topic, &got.payload[..]), ("wills/crashed", &b"gone"[..]));
    let (back, connack) = TestClient::connect_with(addr, persistent("delayed")).await;
    assert!(connack.session_present);
    back.disconnect().await;
    watcher.expect_nothing().await;
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
}
