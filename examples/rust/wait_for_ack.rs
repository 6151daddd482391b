//! Every operation in its wait-for-acknowledgement form, with timeouts: the default, a
//! preset, and a per-call override. Each call returns the server's answer.
//!
//! Run: `MQTT_URL=mqtt://127.0.0.1:1883 cargo run -p mqttkit --example wait_for_ack`

use std::time::Duration;

use mqttkit::client::{Client, ClientOptions, PublishOptions, SubscribeOptions, UnsubscribeOptions};
use mqttkit::protocol::{QoS, RetainHandling, Subscription, SubscriptionOptions};

#[tokio::main]
async fn main() -> mqttkit::Result<()> {
    let url = std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let options = ClientOptions::builder(url)
        .client_id("example-wait-for-ack")
        .local_network_timeouts() // connect 5 s, acknowledgements 2 s, ping 2 s
        .build()?;
    let (client, mut events) = Client::with_events(options)?;

    let connected = client.connect().await?;
    println!("CONNACK: {} (session present: {})", connected.reason_code, connected.session_present);

    let subscriptions = vec![
        Subscription::new("examples/ack/plain", QoS::ExactlyOnce),
        Subscription {
            filter: "examples/ack/quiet/#".into(),
            options: SubscriptionOptions {
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
                ..SubscriptionOptions::new(QoS::AtLeastOnce)
            },
        },
    ];
    let suback =
        client.subscribe_with(subscriptions, SubscribeOptions::default().subscription_identifier(7)).await?;
    println!("SUBACK: {:?}", suback.reason_codes);

    let options = PublishOptions::qos(QoS::ExactlyOnce)
        .content_type("text/plain")
        .user_property("sender", "wait_for_ack example")
        .timeout(Duration::from_secs(1)); // overrides the preset for this call
    let pubcomp = client.publish_with("examples/ack/plain", "exactly once", options).await?;
    println!("PUBCOMP for packet {:?}: {}", pubcomp.packet_id, pubcomp.reason_code);
    let message = events.next_message().await.expect("the message comes back");
    println!(
        "received {} with subscription ids {:?}",
        message.topic, message.properties.subscription_identifiers
    );

    let pong = client.ping().await?;
    println!("PINGRESP after {:?}", pong.round_trip);

    let unsuback = client
        .unsubscribe_with(
            vec!["examples/ack/plain".into(), "examples/ack/quiet/#".into()],
            UnsubscribeOptions::default(),
        )
        .await?;
    println!("UNSUBACK: {:?}", unsuback.reason_codes);

    client.disconnect().await?;
    println!("disconnected");
    Ok(())
}
