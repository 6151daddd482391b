//! Reconnect policy and offline buffering: messages published before the connection is up
//! wait in the offline buffer and go out, in order, once it is.
//!
//! Run: `MQTT_URL=mqtt://127.0.0.1:1883 cargo run -p mqttkit --example reconnect`

use std::time::Duration;

use mqttkit::client::{Client, ClientOptions, OfflineBuffer, ReconnectPolicy};
use mqttkit::dispatch::Event;
use mqttkit::protocol::QoS;

#[tokio::main]
async fn main() -> mqttkit::Result<()> {
    let url = std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let options = ClientOptions::builder(url)
        .client_id("example-reconnect")
        .clean_start(false)
        .session_expiry_interval(300) // the broker keeps the session for 5 minutes
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
            max_attempts: 0, // forever
            ..ReconnectPolicy::default()
        })
        .offline_buffer(OfflineBuffer { enabled: true, capacity: 10_000 })
        .build()?;
    let (client, mut events) = Client::with_events(options)?;

    // Start connecting in the background and publish at once: the messages are buffered
    // until the connection is up, then sent in order.
    client.connect_nowait().await?;
    for n in 0..5 {
        client
            .publish_nowait(format!("examples/reconnect/{n}"), format!("buffered {n}"), QoS::AtLeastOnce)
            .await?;
    }
    let mut acknowledged = 0;
    while acknowledged < 5 {
        match tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("events in time") {
            Some(Event::Connected(result)) => {
                println!("connected, session present: {}", result.session_present)
            }
            Some(Event::Published(result)) => {
                acknowledged += 1;
                println!("PUBACK {:?}: {}", result.packet_id, result.reason_code);
            }
            Some(Event::ConnectionLost(error)) => println!("connection lost: {error}"),
            Some(Event::ReconnectAttempt { attempt, delay }) => {
                println!("reconnect attempt {attempt} in {delay:?}")
            }
            Some(Event::Error(error)) => println!("error: {error} (recoverable: {})", error.is_recoverable()),
            Some(_) => {}
            None => break,
        }
    }
    println!("QoS 0 messages dropped from the buffer: {}", client.dropped_messages());
    client.shutdown().await?;
    Ok(())
}
