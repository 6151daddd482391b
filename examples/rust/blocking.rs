//! The blocking client: no async runtime in sight, callbacks on a background thread.
//!
//! Run: `MQTT_URL=mqtt://127.0.0.1:1883 cargo run -p mqttkit --example blocking`

use std::sync::mpsc;
use std::time::Duration;

use mqttkit::blocking::{Client, EventHandler};
use mqttkit::client::{ClientOptions, Message};
use mqttkit::protocol::QoS;

struct Collector(mpsc::Sender<Message>);

impl EventHandler for Collector {
    fn on_message(&mut self, message: Message) {
        println!("callback thread got {}: {:?}", message.topic, message.payload_str());
        let _ = self.0.send(message);
    }
}

fn main() -> mqttkit::Result<()> {
    let url = std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let options = ClientOptions::builder(url).client_id("example-blocking").build()?;
    let (sender, inbox) = mpsc::channel();
    let client = Client::with_handler(options, Collector(sender))?;
    client.connect()?;
    client.subscribe("examples/blocking/#", QoS::AtLeastOnce)?;
    let result = client.publish("examples/blocking/hello", "from a plain thread", QoS::AtLeastOnce)?;
    println!("PUBACK for packet {:?}", result.packet_id);
    let message = inbox.recv_timeout(Duration::from_secs(5)).expect("the message comes back");
    assert_eq!(message.topic, "examples/blocking/hello");
    client.shutdown()?;
    Ok(())
}
