//! Publish and subscribe with an event handler.
//!
//! Run: `MQTT_URL=mqtt://127.0.0.1:1883 cargo run -p mqttkit --example pubsub`

use std::time::Duration;

use mqttkit::client::{Client, ClientOptions, ConnectResult, Message};
use mqttkit::dispatch::EventHandler;
use mqttkit::protocol::QoS;
use tokio::sync::mpsc;

/// Prints what happens and forwards received messages to `main`.
struct Printer {
    received: mpsc::Sender<Message>,
}

impl EventHandler for Printer {
    async fn on_connected(&mut self, result: ConnectResult) {
        println!("connected (session present: {})", result.session_present);
    }

    async fn on_message(&mut self, message: Message) {
        println!(
            "{} [QoS {}]: {}",
            message.topic,
            message.qos as u8,
            message.payload_str().unwrap_or("<binary>")
        );
        let _ = self.received.send(message).await;
    }
}

#[tokio::main]
async fn main() -> mqttkit::Result<()> {
    let url = std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let options = ClientOptions::builder(url)
        .client_id("example-pubsub")
        .keep_alive(Duration::from_secs(30))
        .build()?;
    let (received, mut inbox) = mpsc::channel(16);
    let client = Client::with_handler(options, Printer { received })?;

    client.connect().await?;
    client.subscribe("examples/pubsub/#", QoS::AtLeastOnce).await?;
    for (n, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce].into_iter().enumerate() {
        client.publish(format!("examples/pubsub/{n}"), format!("hello #{n}"), qos).await?;
    }
    for _ in 0..3 {
        let message =
            tokio::time::timeout(Duration::from_secs(5), inbox.recv()).await.expect("a message in time");
        assert!(message.is_some());
    }
    client.disconnect().await?;
    Ok(())
}
