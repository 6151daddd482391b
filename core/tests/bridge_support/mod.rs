//! Helpers of the bridge tests: brokers with bridges on ephemeral ports, clients of either
//! side, and bounded waits on a bridge's state.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use mqttkit::broker::{BridgeConfig, Broker, BrokerConfig, BrokerHandle};
use mqttkit::client::{Client, ClientOptions, Message};
use mqttkit::dispatch::{Event, EventStream};
use mqttkit::protocol::{ProtocolVersion, QoS};

/// Every wait of the bridge tests is bounded by this.
pub const WITHIN: Duration = Duration::from_secs(10);

/// `mqtt://` URL of a broker's first listener.
pub fn url_of(broker: &BrokerHandle) -> String {
    format!("mqtt://{}", broker.local_addr())
}

/// A broker on an ephemeral port with these bridges.
pub async fn broker_with(bridges: Vec<BridgeConfig>) -> BrokerHandle {
    let config = BrokerConfig { bridges, ..Default::default() };
    Broker::builder().config(config).bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap()
}

/// A connected MQTT 5 client of the broker at `url`.
pub async fn client(url: &str, id: &str) -> (Client, EventStream) {
    client_with(url, id, ProtocolVersion::V5).await
}

/// A connected client speaking `version`.
pub async fn client_with(url: &str, id: &str, version: ProtocolVersion) -> (Client, EventStream) {
    let options = ClientOptions::builder(url)
        .client_id(id)
        .protocol_version(version)
        .local_network_timeouts()
        .build()
        .unwrap();
    let (client, events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    (client, events)
}

/// A client subscribed to `filter` (QoS 1) at the broker at `url`.
pub async fn subscriber(url: &str, id: &str, filter: &str) -> (Client, EventStream) {
    let (client, events) = client(url, id).await;
    assert!(client.subscribe(filter, QoS::AtLeastOnce).await.unwrap().is_success());
    (client, events)
}

/// The next message, within [`WITHIN`].
pub async fn next_message(events: &mut EventStream) -> Message {
    let found = tokio::time::timeout(WITHIN, async {
        loop {
            match events.next().await {
                Some(Event::Message(message)) => return message,
                Some(_) => {}
                None => panic!("the client ended while a message was expected"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no message within {WITHIN:?}"))
}

/// Waits (bounded) until `condition` holds, polling.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the broker's first bridge is connected `connects` times in all.
pub async fn bridge_connected(broker: &BrokerHandle, connects: u64) {
    wait_until("the bridge is connected", || {
        let bridge = &broker.bridges()[0];
        bridge.connected && bridge.connects >= connects
    })
    .await;
}

/// Waits until the broker's first bridge is disconnected.
pub async fn bridge_disconnected(broker: &BrokerHandle) {
    wait_until("the bridge is disconnected", || !broker.bridges()[0].connected).await;
}
