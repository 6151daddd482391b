//! Bridges between two of our brokers (both on ephemeral ports): out and in with prefixes,
//! properties and RETAIN kept, no loop with `direction = "both"`, MQTT 3.1.1, the bridge
//! state in `$SYS`, and bad bridge configurations rejected with file, line and reason.
//!
//! An absence (no loop, no echo) is shown by a marker message that takes the same path
//! and arrives first, never by waiting for a while.
#![cfg(all(feature = "broker", feature = "client"))]

mod bridge_support;

use bridge_support::{
    bridge_connected, bridge_disconnected, broker_with, client, next_message, subscriber, url_of, wait_until,
};
use mqttkit::broker::{
    BridgeConfig, BridgeDirection, BridgeProtocol, BridgeTopic, Broker, BrokerConfig, SysConfig,
};
use mqttkit::client::PublishOptions;
use mqttkit::protocol::QoS;

fn rule(pattern: &str, direction: BridgeDirection, local: &str, remote: &str) -> BridgeTopic {
    BridgeTopic::new(pattern, direction).qos(QoS::AtLeastOnce).prefixes(local, remote)
}

#[tokio::test]
async fn out_and_in_with_prefixes_properties_and_retain() {
    let remote = broker_with(Vec::new()).await;
    let bridge = BridgeConfig::new("b", url_of(&remote))
        .topic(rule("up/#", BridgeDirection::Out, "", "site-a/"))
        .topic(rule("down/#", BridgeDirection::In, "from-b/", ""));
    let local = Broker::builder().bridge(bridge).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    let (remote_sub, mut remote_events) = subscriber(&url_of(&remote), "remote-sub", "site-a/#").await;
    let (local_sub, mut local_events) = subscriber(&url_of(&local), "local-sub", "from-b/#").await;
    bridge_connected(&local, 1).await;
    wait_until("the bridge subscribed at the remote", || remote.stats().subscriptions == 2).await;

    let (publisher, _events) = client(&url_of(&local), "local-pub").await;
    let options = PublishOptions::qos(QoS::AtLeastOnce)
        .retain(true)
        .content_type("text/plain")
        .response_topic("replies/a")
        .correlation_data(&b"42"[..])
        .message_expiry(std::time::Duration::from_secs(600))
        .user_property("origin", "a");
    publisher.publish_with("up/temp", "21.5", options).await.unwrap();
    let forwarded = next_message(&mut remote_events).await;
    assert_eq!((&*forwarded.topic, &forwarded.payload[..]), ("site-a/up/temp", &b"21.5"[..]));
    assert_eq!(forwarded.qos, QoS::AtLeastOnce);
    let p = &forwarded.properties;
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.response_topic.as_deref(), Some("replies/a"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"42"[..]));
    assert!(p.message_expiry_interval.is_some_and(|left| left <= 600 && left > 500), "{p:?}");
    assert_eq!(p.user_properties, vec![("origin".into(), "a".into())]);
    // RETAIN went along: the remote keeps the message for later subscribers.
    let (late, mut late_events) = subscriber(&url_of(&remote), "remote-late", "site-a/up/temp").await;
    assert!(next_message(&mut late_events).await.retain);

    let (remote_pub, _events) = client(&url_of(&remote), "remote-pub").await;
    remote_pub.publish("down/cmd", "go", QoS::AtLeastOnce).await.unwrap();
    let received = next_message(&mut local_events).await;
    assert_eq!((&*received.topic, &received.payload[..]), ("from-b/down/cmd", &b"go"[..]));
    assert_eq!(received.qos, QoS::AtLeastOnce);

    wait_until("the bridge counted both", || {
        let stats = &local.bridges()[0];
        (stats.name.as_str(), stats.messages_out, stats.messages_in) == ("b", 1, 1)
    })
    .await;
    let stats = &local.bridges()[0];
    assert_eq!((stats.dropped, stats.refused_out, stats.queued), (0, 0, 0));
    for client in [publisher, local_sub] {
        client.disconnect().await.unwrap();
    }
    local.shutdown().await;
    for client in [remote_sub, late, remote_pub] {
        client.disconnect().await.unwrap();
    }
    remote.shutdown().await;
}

#[tokio::test]
async fn both_directions_do_not_loop() {
    let remote = broker_with(Vec::new()).await;
    let bridge = BridgeConfig::new("b", url_of(&remote)).topic(rule("t/#", BridgeDirection::Both, "", ""));
    let local = broker_with(vec![bridge]).await;
    let (local_client, mut local_events) = subscriber(&url_of(&local), "local", "t/#").await;
    let (remote_client, mut remote_events) = subscriber(&url_of(&remote), "remote", "t/#").await;
    bridge_connected(&local, 1).await;
    wait_until("the bridge subscribed at the remote", || remote.stats().subscriptions == 2).await;

    // Local to remote: once there, and not back here (No Local at the remote).
    local_client.publish("t/from-local", "1", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut local_events).await.topic, "t/from-local");
    assert_eq!(next_message(&mut remote_events).await.topic, "t/from-local");
    // A marker published at the remote after it delivered the message comes in after any
    // echo would have.
    remote_client.publish("t/marker-1", "m", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut remote_events).await.topic, "t/marker-1");
    assert_eq!(next_message(&mut local_events).await.topic, "t/marker-1", "no echo of t/from-local");

    // Remote to local: once here, and not forwarded back (it came in over this bridge).
    remote_client.publish("t/from-remote", "2", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut remote_events).await.topic, "t/from-remote");
    assert_eq!(next_message(&mut local_events).await.topic, "t/from-remote");
    local_client.publish("t/marker-2", "m", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut local_events).await.topic, "t/marker-2");
    assert_eq!(next_message(&mut remote_events).await.topic, "t/marker-2", "t/from-remote not sent back");

    wait_until("the bridge counted two each way", || {
        let stats = &local.bridges()[0];
        (stats.messages_out, stats.messages_in) == (2, 2)
    })
    .await;
    local_client.disconnect().await.unwrap();
    local.shutdown().await;
    remote_client.disconnect().await.unwrap();
    remote.shutdown().await;
}

#[tokio::test]
async fn a_bridge_speaks_mqtt_3_1_1() {
    let remote = broker_with(Vec::new()).await;
    let mut bridge = BridgeConfig::new("old", url_of(&remote))
        .topic(rule("up/#", BridgeDirection::Out, "", ""))
        .topic(rule("down/#", BridgeDirection::In, "", ""));
    bridge.protocol_version = BridgeProtocol::V311;
    let local = broker_with(vec![bridge]).await;
    let (remote_client, mut remote_events) = subscriber(&url_of(&remote), "remote", "up/#").await;
    let (local_client, mut local_events) = subscriber(&url_of(&local), "local", "down/#").await;
    bridge_connected(&local, 1).await;
    wait_until("the bridge subscribed at the remote", || remote.stats().subscriptions == 2).await;
    local_client.publish("up/a", "1", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut remote_events).await.topic, "up/a");
    remote_client.publish("down/b", "2", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(next_message(&mut local_events).await.topic, "down/b");
    local_client.disconnect().await.unwrap();
    local.shutdown().await;
    remote_client.disconnect().await.unwrap();
    remote.shutdown().await;
}

#[tokio::test]
async fn the_bridge_state_is_a_sys_topic() {
    let remote = broker_with(Vec::new()).await;
    let bridge = BridgeConfig::new("uplink", url_of(&remote)).topic(rule("#", BridgeDirection::Out, "", ""));
    let config =
        BrokerConfig { sys: SysConfig { interval_secs: 1 }, bridges: vec![bridge], ..Default::default() };
    let local = Broker::builder().config(config).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    bridge_connected(&local, 1).await;
    let (watcher, mut events) =
        subscriber(&url_of(&local), "watcher", "$SYS/broker/connection/uplink/state").await;
    let mut state = next_message(&mut events).await;
    while state.payload_str() != Some("1") {
        state = next_message(&mut events).await;
    }
    remote.shutdown().await;
    bridge_disconnected(&local).await;
    while state.payload_str() != Some("0") {
        state = next_message(&mut events).await;
    }
    watcher.disconnect().await.unwrap();
    local.shutdown().await;
}

/// `(configuration, line, words the reason contains)`.
const BAD: [(&str, usize, &str); 9] = [
    (
        "[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\n[[bridge.topic]]\npattern = \"x\"\ndirection = \"sideways\"\n",
        6,
        "sideways",
    ),
    (
        "[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\n[[bridge.topic]]\npattern = \"x\"\nqos = 3\n",
        6,
        "qos = 3",
    ),
    (
        "[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\n[[bridge.topic]]\npattern = \"x\"\n[[bridge.topic]]\npattern = \"a/#/b\"\n",
        7,
        "topic rule 2",
    ),
    ("[[bridge]]\nname = \"a\"\naddress = \"http://h\"\n[[bridge.topic]]\npattern = \"x\"\n", 3, "scheme"),
    (
        "[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\n[[bridge.topic]]\npattern = \"x\"\n\n[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:2\"\n[[bridge.topic]]\npattern = \"x\"\n",
        8,
        "another bridge",
    ),
    (
        "[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\n[bridge.tls]\nca_file = \"ca.pem\"\n[[bridge.topic]]\npattern = \"x\"\n",
        4,
        "mqtts://",
    ),
    ("[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\n", 1, "[[bridge.topic]]"),
    (
        "[[bridge]]\nname = \"a b\"\naddress = \"mqtt://h:1\"\n[[bridge.topic]]\npattern = \"x\"\n",
        2,
        "letters",
    ),
    (
        "[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\nkeepalive = 5\n[[bridge.topic]]\npattern = \"x\"\n",
        4,
        "keepalive",
    ),
];

#[test]
fn bad_bridge_configurations_name_file_line_and_reason() {
    for (text, line, reason) in BAD {
        let error = BrokerConfig::from_toml_str(text, "broker.toml").unwrap_err().to_string();
        assert!(error.starts_with(&format!("broker.toml:{line}:")), "expected line {line}: {error}\n{text}");
        assert!(error.contains(reason), "expected {reason:?}: {error}");
    }
    let good = "[[bridge]]\nname = \"a\"\naddress = \"mqtt://h:1\"\n[[bridge.topic]]\npattern = \"#\"\n";
    let config = BrokerConfig::from_toml_str(good, "broker.toml").unwrap();
    let bridge = &config.bridges[0];
    assert_eq!((bridge.topics[0].direction, bridge.topics[0].qos), (BridgeDirection::Out, 0));
    assert_eq!(bridge.client_id(), "mqttkit-bridge-a");
}

#[tokio::test]
async fn bad_bridges_in_code_are_refused_at_start() {
    let bridge = BridgeConfig::new("x", "mqtt://127.0.0.1:1");
    let error =
        Broker::builder().bridge(bridge).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap_err();
    assert!(error.to_string().contains("needs at least one"), "{error}");
    let mut bridge =
        BridgeConfig::new("x", "mqtts://127.0.0.1:1").topic(BridgeTopic::new("#", BridgeDirection::In));
    bridge.tls = Some(mqttkit::broker::BridgeTls {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..Default::default()
    });
    let error =
        Broker::builder().bridge(bridge).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap_err();
    assert!(error.to_string().starts_with("bridge x: /nonexistent/ca.pem"), "{error}");
}

#[tokio::test]
async fn a_bridge_logs_in_with_username_and_password() {
    let auth = mqttkit::broker::AuthConfig {
        allow_anonymous: false,
        users: vec![mqttkit::broker::UserConfig { username: "edge".into(), password: "s3cret".into() }],
        ..Default::default()
    };
    let config = BrokerConfig { auth, ..Default::default() };
    let remote = Broker::builder().config(config).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    let mut bridge =
        BridgeConfig::new("login", url_of(&remote)).topic(rule("#", BridgeDirection::Out, "", ""));
    bridge.username = Some("edge".into());
    bridge.password = Some("s3cret".into());
    bridge.client_id = Some("edge-1".into());
    let local = broker_with(vec![bridge]).await;
    bridge_connected(&local, 1).await;
    assert_eq!(remote.stats().connections, 1);
    local.shutdown().await;
    remote.shutdown().await;
}

#[test]
fn a_full_bridge_table_is_read() {
    let text = r#"
[[bridge]]
name = "cloud"
address = "mqtts://broker.example.com:8883"
client_id = "edge-1"
username = "edge"
password = "secret"
protocol_version = "3.1.1"
clean_start = true
session_expiry_secs = 60
keep_alive_secs = 30
reconnect_delay_ms = 500
reconnect_max_delay_ms = 60000
max_inflight = 16
[bridge.tls]
ca_file = "ca.pem"
cert_file = "client.pem"
key_file = "client.key"
server_name = "broker.example.com"
[[bridge.topic]]
pattern = "sensors/#"
direction = "both"
qos = 2
local_prefix = "site/"
remote_prefix = "edge-1/"
"#;
    let config = BrokerConfig::from_toml_str(text, "broker.toml").unwrap();
    let bridge = &config.bridges[0];
    assert_eq!((bridge.client_id(), bridge.protocol_version), ("edge-1".to_owned(), BridgeProtocol::V311));
    assert_eq!((bridge.keep_alive_secs, bridge.max_inflight, bridge.reconnect_delay_ms), (30, 16, 500));
    assert_eq!(bridge.tls.as_ref().unwrap().server_name.as_deref(), Some("broker.example.com"));
    let topic = &bridge.topics[0];
    assert_eq!((topic.direction, topic.qos), (BridgeDirection::Both, 2));
    assert_eq!(
        (topic.local_filter(), topic.remote_filter()),
        ("site/sensors/#".into(), "edge-1/sensors/#".into())
    );
    assert!(!format!("{bridge:?}").contains("secret\""), "the password is not in Debug output");
}

#[test]
fn the_readme_bridge_example_is_valid() {
    let readme = include_str!("../../README.md");
    let example = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(toml, _)| toml))
        .find(|toml| toml.contains("[[bridge]]"))
        .expect("the README has a bridge example");
    let config = BrokerConfig::from_toml_str(example, "README.md").unwrap();
    assert_eq!(config.bridges[0].topics.len(), 2);
}

#[tokio::test]
async fn qos2_goes_through_both_ways() {
    let remote = broker_with(Vec::new()).await;
    let both = BridgeTopic::new("q2/#", BridgeDirection::Both).qos(QoS::ExactlyOnce).prefixes("l/", "r/");
    let local = broker_with(vec![BridgeConfig::new("q2", url_of(&remote)).topic(both)]).await;
    let (local_client, mut local_events) = client(&url_of(&local), "local").await;
    local_client.subscribe("l/q2/#", QoS::ExactlyOnce).await.unwrap();
    let (remote_client, mut remote_events) = client(&url_of(&remote), "remote").await;
    remote_client.subscribe("r/q2/#", QoS::ExactlyOnce).await.unwrap();
    bridge_connected(&local, 1).await;
    wait_until("the bridge subscribed at the remote", || remote.stats().subscriptions == 2).await;

    local_client.publish("l/q2/up", "u", QoS::ExactlyOnce).await.unwrap();
    assert_eq!(next_message(&mut local_events).await.topic, "l/q2/up");
    let up = next_message(&mut remote_events).await;
    assert_eq!((&*up.topic, up.qos), ("r/q2/up", QoS::ExactlyOnce));
    remote_client.publish("r/q2/down", "d", QoS::ExactlyOnce).await.unwrap();
    assert_eq!(next_message(&mut remote_events).await.topic, "r/q2/down");
    let down = next_message(&mut local_events).await;
    assert_eq!((&*down.topic, down.qos), ("l/q2/down", QoS::ExactlyOnce));
    local_client.disconnect().await.unwrap();
    local.shutdown().await;
    remote_client.disconnect().await.unwrap();
    remote.shutdown().await;
}
