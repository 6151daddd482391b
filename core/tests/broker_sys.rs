//! `$SYS` topics: retained counters under Mosquitto's names, published every
//! `[sys] interval_secs` when they changed, read with our client and with `mosquitto_sub`.
//!
//! Every wait is on a message (bounded by a timeout); an absence is shown by a marker
//! message that arrives first, never by waiting for a while.
#![cfg(all(feature = "broker", feature = "client"))]

mod client_support;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use client_support::{EVENT_TIMEOUT, expect_message, tempdir::TempDir};
use mqttkit::broker::{Broker, BrokerConfig, BrokerHandle, Durability, SysConfig};
use mqttkit::client::{Client, ClientOptions, Message, PublishOptions};
use mqttkit::dispatch::EventStream;
use mqttkit::protocol::QoS;
use tokio::process::Command;

/// A broker on an ephemeral port publishing `$SYS` every `interval_secs`.
async fn broker(interval_secs: u64) -> BrokerHandle {
    let config = BrokerConfig { sys: SysConfig { interval_secs }, ..Default::default() };
    start(config).await
}

async fn start(config: BrokerConfig) -> BrokerHandle {
    Broker::builder().config(config).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap()
}

async fn client(broker: &BrokerHandle, id: &str) -> (Client, EventStream) {
    let options = ClientOptions::builder(format!("mqtt://{}", broker.local_addr()))
        .client_id(id)
        .local_network_timeouts()
        .build()
        .unwrap();
    let (client, events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    (client, events)
}

/// Skips messages until one on `topic` whose payload satisfies `wanted`; returns it.
async fn wait_for(events: &mut EventStream, topic: &str, wanted: impl Fn(&str) -> bool) -> Message {
    let found = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            let message = expect_message(events).await;
            if message.topic == topic && wanted(message.payload_str().unwrap_or_default()) {
                return message;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {topic} with the expected value within {EVENT_TIMEOUT:?}"))
}

/// Reads messages into `latest` (topic to payload) until every `$SYS/broker/{topic}` of
/// `expected` has its value (values published in one update arrive in any order).
async fn wait_for_values(
    events: &mut EventStream,
    latest: &mut HashMap<String, String>,
    expected: &[(&str, &str)],
) {
    let holds = |latest: &HashMap<String, String>| {
        expected
            .iter()
            .all(|(topic, value)| latest.get(&format!("$SYS/broker/{topic}")).is_some_and(|v| v == value))
    };
    let found = tokio::time::timeout(EVENT_TIMEOUT, async {
        while !holds(latest) {
            let message = expect_message(events).await;
            latest.insert(message.topic.to_string(), message.payload_str().unwrap_or_default().to_owned());
        }
    })
    .await;
    assert!(found.is_ok(), "expected {expected:?} within {EVENT_TIMEOUT:?}, last values: {latest:?}");
}

#[tokio::test]
async fn sys_topics_report_the_counters_as_retained_messages() {
    // The $SYS messages take no room from the clients' retained messages.
    let mut config = BrokerConfig { sys: SysConfig { interval_secs: 1 }, ..Default::default() };
    config.limits.max_retained_messages = 1;
    let broker = start(config).await;
    let (watcher, mut events) = client(&broker, "watcher").await;
    watcher.subscribe("$SYS/#", QoS::AtMostOnce).await.unwrap();
    // Every value is kept from the first message on: the retained ones arrive in any order,
    // and a value that does not change is not published again.
    let mut latest = HashMap::new();
    let version = concat!("mqttkit version ", env!("CARGO_PKG_VERSION"));
    wait_for_values(&mut events, &mut latest, &[("version", version)]).await;
    // Published once, at start: a later subscriber gets it as a retained message.
    let (publisher, mut publisher_events) = client(&broker, "publisher").await;
    publisher.subscribe("$SYS/broker/version", QoS::AtMostOnce).await.unwrap();
    let version = expect_message(&mut publisher_events).await;
    assert!(version.retain);
    assert_eq!(version.payload_str(), Some(concat!("mqttkit version ", env!("CARGO_PKG_VERSION"))));
    publisher.unsubscribe("$SYS/broker/version").await.unwrap();

    for n in 0..3 {
        publisher.publish("plain/topic", format!("m{n}"), QoS::AtLeastOnce).await.unwrap();
    }
    let retained = PublishOptions::qos(QoS::AtLeastOnce).retain(true);
    publisher.publish_with("plain/retained", "r", retained).await.unwrap();

    let expected = [
        ("messages/received", "4"),
        ("clients/connected", "2"),
        ("clients/maximum", "2"),
        ("subscriptions/count", "1"),
        ("publish/messages/dropped", "0"),
        ("retained messages/count", "1"),
    ];
    wait_for_values(&mut events, &mut latest, &expected).await;
    let load: f64 = latest["$SYS/broker/load/messages/received/1min"].parse().unwrap();
    assert!(load >= 0.0, "{load}");
    let live = wait_for(&mut events, "$SYS/broker/uptime", |v| v.ends_with(" seconds")).await;
    assert!(!live.retain, "live updates arrive without RETAIN");

    publisher.disconnect().await.unwrap();
    wait_for_values(&mut events, &mut latest, &[("clients/connected", "1"), ("clients/maximum", "2")]).await;
    watcher.disconnect().await.unwrap();
    tokio::time::timeout(EVENT_TIMEOUT, broker.shutdown())
        .await
        .expect("the $SYS task stops with the broker");
}

#[tokio::test]
async fn values_are_published_only_when_changed_and_hash_does_not_match_them() {
    let broker = broker(1).await;
    let (watcher, mut events) = client(&broker, "watcher").await;
    watcher.subscribe("$SYS/broker/version", QoS::AtMostOnce).await.unwrap();
    watcher.subscribe("$SYS/broker/uptime", QoS::AtMostOnce).await.unwrap();
    let (everything, mut everything_events) = client(&broker, "everything").await;
    everything.subscribe("#", QoS::AtMostOnce).await.unwrap();

    let first = expect_message(&mut events).await;
    assert_eq!(first.topic, "$SYS/broker/version");
    let mut uptimes = Vec::new();
    while uptimes.len() < 3 {
        let message = expect_message(&mut events).await;
        assert_eq!(message.topic, "$SYS/broker/uptime", "the version is published once");
        uptimes.push(message.payload);
    }
    uptimes.dedup();
    assert_eq!(uptimes.len(), 3, "each update carries a new value");

    // `#` saw none of the $SYS updates: the marker is the first thing it gets.
    watcher.publish("marker", "m", QoS::AtMostOnce).await.unwrap();
    let first = expect_message(&mut everything_events).await;
    assert_eq!(first.topic, "marker");
    watcher.disconnect().await.unwrap();
    everything.disconnect().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn interval_zero_disables_sys_topics() {
    let broker = broker(0).await;
    let (watcher, mut events) = client(&broker, "watcher").await;
    watcher.subscribe("$SYS/#", QoS::AtMostOnce).await.unwrap();
    watcher.subscribe("marker", QoS::AtMostOnce).await.unwrap();
    watcher.publish("marker", "m", QoS::AtMostOnce).await.unwrap();
    assert_eq!(expect_message(&mut events).await.topic, "marker", "no retained $SYS message");
    watcher.disconnect().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn sys_messages_are_not_stored_with_the_retained_messages() {
    let dir = TempDir::new("sys-storage");
    let mut config = BrokerConfig { sys: SysConfig { interval_secs: 1 }, ..Default::default() };
    config.storage.durability = Durability::Sync;
    config.storage.data_dir = Some(dir.0.clone());
    let first = start(config.clone()).await;
    let (watcher, mut events) = client(&first, "watcher").await;
    watcher.subscribe("$SYS/broker/uptime", QoS::AtMostOnce).await.unwrap();
    wait_for(&mut events, "$SYS/broker/uptime", |_| true).await;
    let retained = PublishOptions::qos(QoS::AtLeastOnce).retain(true);
    watcher.publish_with("kept", "k", retained).await.unwrap();
    watcher.disconnect().await.unwrap();
    first.shutdown().await;

    config.sys.interval_secs = 0;
    let second = start(config).await;
    let (watcher, mut events) = client(&second, "watcher").await;
    watcher.subscribe("$SYS/#", QoS::AtMostOnce).await.unwrap();
    watcher.subscribe("kept", QoS::AtMostOnce).await.unwrap();
    let message = expect_message(&mut events).await;
    assert_eq!(message.topic, "kept", "only the client's retained message survived the restart");
    watcher.disconnect().await.unwrap();
    second.shutdown().await;
}

#[tokio::test]
async fn mosquitto_sub_reads_sys_topics() {
    let broker = broker(1).await;
    let port = broker.local_addr().port().to_string();
    let output = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port, "-v", "-C", "3", "-W", "10"])
        .args(["-t", "$SYS/broker/version", "-t", "$SYS/broker/uptime"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(15), output)
        .await
        .expect("mosquitto_sub exits")
        .expect("mosquitto_sub is installed (scripts/install-test-deps.sh)");
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(output.status.success(), "mosquitto_sub failed: {text}");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.contains(&concat!("$SYS/broker/version mqttkit version ", env!("CARGO_PKG_VERSION"))));
    let uptimes: Vec<&&str> = lines.iter().filter(|l| l.starts_with("$SYS/broker/uptime ")).collect();
    assert_eq!(uptimes.len(), 2, "{text}");
    assert_ne!(uptimes[0], uptimes[1], "{text}");
    broker.shutdown().await;
}

#[test]
fn the_sys_table_is_read_from_the_config_file() {
    let config = BrokerConfig::from_toml_str("[sys]\ninterval_secs = 0\n", "b.toml").unwrap();
    assert_eq!(config.sys.interval(), None);
    assert_eq!(BrokerConfig::default().sys.interval(), Some(Duration::from_secs(10)));
    let error = BrokerConfig::from_toml_str("[sys]\ninterval = 5\n", "b.toml").unwrap_err().to_string();
    assert!(error.starts_with("b.toml:2:") && error.contains("interval"), "{error}");
}
