//! Our broker bridged to a real Mosquitto started by the test: out, in (with
//! `mosquitto_pub` / `mosquitto_sub` on the Mosquitto side), both with prefixes and no
//! loop, QoS 1 messages delivered after Mosquitto restarts, MQTT 3.1.1, and `mqtts://`
//! with a CA and a client certificate.
//!
//! That the bridge's subscription at Mosquitto is in place is shown by a retained probe
//! message coming through it; absences by a marker message that arrives first.
#![cfg(all(feature = "broker", feature = "client", feature = "tls"))]

mod bridge_support;
mod client_support;

use std::process::Stdio;

use bridge_support::{
    WITHIN, bridge_connected, bridge_disconnected, broker_with, client, client_with, next_message,
    subscriber, url_of, wait_until,
};
use client_support::{Mosquitto, TestCertificates, tempdir::TempDir};
use mqttkit::broker::{BridgeConfig, BridgeDirection, BridgeProtocol, BridgeTls, BridgeTopic};
use mqttkit::client::{Client, PublishOptions};
use mqttkit::dispatch::EventStream;
use mqttkit::protocol::{ProtocolVersion, QoS};
use tokio::process::Command;

fn rule(pattern: &str, direction: BridgeDirection, local: &str, remote: &str) -> BridgeTopic {
    BridgeTopic::new(pattern, direction).qos(QoS::AtLeastOnce).prefixes(local, remote)
}

/// A bridge to `url` that reconnects quickly.
fn bridge(url: String) -> BridgeConfig {
    let mut bridge = BridgeConfig::new("mosquitto", url);
    bridge.reconnect_delay_ms = 50;
    bridge.reconnect_max_delay_ms = 200;
    bridge
}

/// Publishes a retained message at Mosquitto (QoS 1, acknowledged).
async fn retain_at(mosquitto: &Mosquitto, topic: &str, payload: &str) {
    let (publisher, _events) = client(&mosquitto.url(), "probe").await;
    let options = PublishOptions::qos(QoS::AtLeastOnce).retain(true);
    publisher.publish_with(topic, payload.to_owned(), options).await.unwrap();
    publisher.disconnect().await.unwrap();
}

/// Skips messages until one on `topic`.
async fn message_on(events: &mut EventStream, topic: &str) -> mqttkit::client::Message {
    loop {
        let message = next_message(events).await;
        if message.topic == topic {
            return message;
        }
    }
}

async fn disconnect(clients: impl IntoIterator<Item = Client>) {
    for client in clients {
        client.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn out_to_mosquitto_with_prefixes_and_properties() {
    let mosquitto = Mosquitto::start().await;
    let (remote_sub, mut remote_events) = subscriber(&mosquitto.url(), "remote-sub", "edge/#").await;
    let local = broker_with(vec![bridge(mosquitto.url()).topic(rule(
        "sensors/#",
        BridgeDirection::Out,
        "",
        "edge/",
    ))])
    .await;
    let (publisher, _events) = client(&url_of(&local), "sensor").await;
    let options =
        PublishOptions::qos(QoS::AtLeastOnce).content_type("text/plain").user_property("unit", "celsius");
    publisher.publish_with("sensors/hall", "21.5", options).await.unwrap();
    publisher.publish("other/hall", "not bridged", QoS::AtLeastOnce).await.unwrap();
    publisher.publish("sensors/kitchen", "19.0", QoS::AtMostOnce).await.unwrap();

    let first = next_message(&mut remote_events).await;
    assert_eq!(
        (&*first.topic, &first.payload[..], first.qos),
        ("edge/sensors/hall", &b"21.5"[..], QoS::AtLeastOnce)
    );
    assert_eq!(first.properties.content_type.as_deref(), Some("text/plain"));
    assert_eq!(first.properties.user_properties, vec![("unit".into(), "celsius".into())]);
    let second = next_message(&mut remote_events).await;
    assert_eq!((&*second.topic, second.qos), ("edge/sensors/kitchen", QoS::AtMostOnce));
    wait_until("both are acknowledged", || local.bridges()[0].messages_out == 2).await;
    disconnect([publisher]).await;
    local.shutdown().await;
    disconnect([remote_sub]).await;
}

#[tokio::test]
async fn in_from_mosquitto_pub_and_out_to_mosquitto_sub() {
    let mosquitto = Mosquitto::start().await;
    retain_at(&mosquitto, "cmd/probe", "p").await;
    let bridge = bridge(mosquitto.url())
        .topic(rule("#", BridgeDirection::In, "remote/", "cmd/"))
        .topic(rule("#", BridgeDirection::Out, "status/", "site/"));
    let local = broker_with(vec![bridge]).await;
    let (local_sub, mut local_events) = subscriber(&url_of(&local), "local-sub", "remote/#").await;
    message_on(&mut local_events, "remote/probe").await;
    let (late, mut late_events) = subscriber(&url_of(&local), "late", "remote/probe").await;
    assert!(next_message(&mut late_events).await.retain, "retained at Mosquitto, retained here");

    let port = mosquitto.port.to_string();
    let mosquitto_pub = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-V", "mqttv5", "-q", "1", "-t", "cmd/light", "-m", "on"])
        .args(["-D", "publish", "user-property", "by", "mosquitto_pub"])
        .output();
    let output = tokio::time::timeout(WITHIN, mosquitto_pub).await.expect("mosquitto_pub exits").unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let light = next_message(&mut local_events).await;
    assert_eq!((&*light.topic, &light.payload[..]), ("remote/light", &b"on"[..]));
    assert_eq!(light.properties.user_properties, vec![("by".into(), "mosquitto_pub".into())]);

    let mosquitto_sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port, "-t", "site/#", "-v", "-C", "1", "-W", "10"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Retained: mosquitto_sub gets it whether it subscribes before or after it arrives.
    let (publisher, _events) = client(&url_of(&local), "local-pub").await;
    let retained = PublishOptions::qos(QoS::AtLeastOnce).retain(true);
    publisher.publish_with("status/door", "open", retained).await.unwrap();
    let output = tokio::time::timeout(WITHIN, mosquitto_sub.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "site/door open\n");
    disconnect([local_sub, late, publisher]).await;
    local.shutdown().await;
}

#[tokio::test]
async fn both_ways_with_prefixes_without_loops() {
    let mosquitto = Mosquitto::start().await;
    retain_at(&mosquitto, "hq/probe", "p").await;
    let local =
        broker_with(vec![bridge(mosquitto.url()).topic(rule("#", BridgeDirection::Both, "site/", "hq/"))])
            .await;
    let (local_client, mut local_events) = subscriber(&url_of(&local), "local", "site/#").await;
    message_on(&mut local_events, "site/probe").await;
    let (remote_client, mut remote_events) = subscriber(&mosquitto.url(), "remote", "hq/#").await;
    message_on(&mut remote_events, "hq/probe").await;

    local_client.publish("site/a", "1", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut local_events).await.topic, "site/a");
    assert_eq!(next_message(&mut remote_events).await.topic, "hq/a");
    remote_client.publish("hq/marker-1", "m", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut remote_events).await.topic, "hq/marker-1");
    assert_eq!(next_message(&mut local_events).await.topic, "site/marker-1", "site/a did not come back");

    remote_client.publish("hq/b", "2", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut remote_events).await.topic, "hq/b");
    assert_eq!(next_message(&mut local_events).await.topic, "site/b");
    local_client.publish("site/marker-2", "m", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut local_events).await.topic, "site/marker-2");
    assert_eq!(next_message(&mut remote_events).await.topic, "hq/marker-2", "hq/b was not sent back");
    disconnect([local_client]).await;
    local.shutdown().await;
    disconnect([remote_client]).await;
}

#[tokio::test]
async fn qos1_messages_reach_mosquitto_after_it_restarts() {
    let mosquitto = Mosquitto::start().await;
    let port = mosquitto.port;
    let local =
        broker_with(vec![bridge(mosquitto.url()).topic(rule("r/#", BridgeDirection::Out, "", ""))]).await;
    bridge_connected(&local, 1).await;
    mosquitto.kill();
    bridge_disconnected(&local).await;

    // Acknowledged here and kept in the bridge's queue while Mosquitto is down. Retained,
    // so that a subscriber at the restarted Mosquitto finds them whenever it subscribes.
    let (publisher, _events) = client(&url_of(&local), "publisher").await;
    for n in 0..5 {
        let retained = PublishOptions::qos(QoS::AtLeastOnce).retain(true);
        publisher.publish_with(format!("r/{n}"), format!("v{n}"), retained).await.unwrap();
    }
    assert_eq!(local.bridges()[0].queued, 5);

    let restarted = Mosquitto::start_on(port).await;
    bridge_connected(&local, 2).await;
    let (remote_sub, mut remote_events) = subscriber(&restarted.url(), "remote-sub", "r/#").await;
    let mut received = Vec::new();
    while received.len() < 5 {
        let message = next_message(&mut remote_events).await;
        assert_eq!(message.qos, QoS::AtLeastOnce);
        received.push(format!("{} {}", message.topic, message.payload_str().unwrap()));
        received.sort();
        received.dedup();
    }
    assert_eq!(received, ["r/0 v0", "r/1 v1", "r/2 v2", "r/3 v3", "r/4 v4"]);
    let stats = &local.bridges()[0];
    assert_eq!((stats.queued, stats.refused_out, stats.connects), (0, 0, 2), "{stats:?}");
    disconnect([publisher]).await;
    local.shutdown().await;
    disconnect([remote_sub]).await;
}

#[tokio::test]
async fn a_3_1_1_bridge_to_mosquitto() {
    let mosquitto = Mosquitto::start().await;
    retain_at(&mosquitto, "in/probe", "p").await;
    let mut bridge = bridge(mosquitto.url()).topic(rule("in/#", BridgeDirection::In, "", "")).topic(rule(
        "out/#",
        BridgeDirection::Out,
        "",
        "",
    ));
    bridge.protocol_version = BridgeProtocol::V311;
    let local = broker_with(vec![bridge]).await;
    let (local_sub, mut local_events) = subscriber(&url_of(&local), "local-sub", "in/#").await;
    message_on(&mut local_events, "in/probe").await;
    let (remote, mut remote_events) = client_with(&mosquitto.url(), "remote", ProtocolVersion::V311).await;
    remote.subscribe("out/#", QoS::AtLeastOnce).await.unwrap();
    local_sub.publish("out/x", "1", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut remote_events).await.topic, "out/x");
    remote.publish("in/y", "2", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut local_events).await.topic, "in/y");
    disconnect([local_sub]).await;
    local.shutdown().await;
    disconnect([remote]).await;
}

#[tokio::test]
async fn mqtts_bridge_with_a_ca_and_a_client_certificate() {
    let certs = TestCertificates::generate();
    let mosquitto = Mosquitto::start_tls(&certs, true).await;
    let dir = TempDir::new("bridge-tls");
    for (name, content) in
        [("ca.pem", &certs.ca_pem), ("client.pem", &certs.client_pem), ("client.key", &certs.client_key)]
    {
        std::fs::write(dir.0.join(name), content).unwrap();
    }
    let mut bridge = bridge(format!("mqtts://127.0.0.1:{}", mosquitto.port)).topic(rule(
        "secure/#",
        BridgeDirection::Out,
        "",
        "",
    ));
    bridge.tls = Some(BridgeTls {
        ca_file: Some(dir.0.join("ca.pem")),
        cert_file: Some(dir.0.join("client.pem")),
        key_file: Some(dir.0.join("client.key")),
        server_name: None,
    });
    let local = broker_with(vec![bridge]).await;
    bridge_connected(&local, 1).await;
    let (publisher, _events) = client(&url_of(&local), "publisher").await;
    let retained = PublishOptions::qos(QoS::AtLeastOnce).retain(true);
    publisher.publish_with("secure/x", "s", retained).await.unwrap();
    // Read back over TLS from Mosquitto by mosquitto_sub with the same certificates.
    let output = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mosquitto.port.to_string(),
            "-t",
            "secure/#",
            "-v",
            "-C",
            "1",
            "-W",
            "10",
        ])
        .arg("--cafile")
        .arg(dir.0.join("ca.pem"))
        .arg("--cert")
        .arg(dir.0.join("client.pem"))
        .arg("--key")
        .arg(dir.0.join("client.key"))
        .output();
    let output = tokio::time::timeout(WITHIN, output).await.expect("mosquitto_sub exits").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "secure/x s\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    disconnect([publisher]).await;
    local.shutdown().await;
}
