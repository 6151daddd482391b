//! The client over WebSocket (`ws://`), through a WebSocket front to Mosquitto.
#![cfg(all(feature = "client", feature = "websocket"))]

mod client_support;

use client_support::{Mosquitto, WebSocketBridge, expect_message};
use mqttkit::client::{Client, ClientOptions};
use mqttkit::protocol::{ProtocolVersion, QoS};

#[tokio::test]
async fn publishes_and_receives_over_websocket_v5_and_v311() {
    let broker = Mosquitto::start().await;
    let bridge = WebSocketBridge::start(broker.addr()).await;
    for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
        let options = ClientOptions::builder(bridge.url())
            .client_id(format!("ws-{}", version.level()))
            .protocol_version(version)
            .local_network_timeouts()
            .build()
            .unwrap();
        let (client, mut events) = Client::with_events(options).unwrap();
        client.connect().await.unwrap();
        client.subscribe("ws/#", QoS::ExactlyOnce).await.unwrap();
        // A payload larger than one TCP segment crosses in several WebSocket frames' worth.
        let big = vec![b'w'; 200_000];
        client.publish("ws/big", big.clone(), QoS::AtLeastOnce).await.unwrap();
        let message = expect_message(&mut events).await;
        assert_eq!(message.payload.len(), big.len());
        client.ping().await.unwrap();
        client.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn a_plain_tcp_broker_fails_the_websocket_handshake_with_an_error() {
    // A plain TCP broker is not a WebSocket server: the handshake fails with a clear error.
    let broker = Mosquitto::start().await;
    let options = ClientOptions::builder(format!("ws://127.0.0.1:{}/mqtt", broker.port))
        .client_id("ws-wrong")
        .local_network_timeouts()
        .build()
        .unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let error = client.connect().await.unwrap_err();
    assert!(matches!(error.kind(), mqttkit::ErrorKind::Network | mqttkit::ErrorKind::Timeout), "{error}");
}
