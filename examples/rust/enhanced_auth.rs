//! Enhanced authentication (MQTT 5 AUTH exchange) with SCRAM-SHA-256: the client proves it
//! knows the password without sending it, the broker proves it too, and the client
//! re-authenticates on the live connection. The example embeds an mqttkit broker with one
//! user, so it needs nothing else.
//!
//! Run: `cargo run -p mqttkit --example enhanced_auth`

use mqttkit::broker::{AuthConfig, Broker, BrokerConfig, UserConfig};
use mqttkit::client::{Client, ClientOptions, ScramSha256};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = BrokerConfig {
        auth: AuthConfig {
            allow_anonymous: false,
            users: vec![UserConfig { username: "alice".into(), password: "wonderland".into() }],
            ..Default::default()
        },
        ..Default::default()
    };
    let broker = Broker::builder().config(config).bind("127.0.0.1:0".parse()?).start().await?;
    println!("broker on {}", broker.local_addr());

    let options = ClientOptions::builder(format!("mqtt://{}", broker.local_addr()))
        .client_id("example-scram")
        .authenticator(ScramSha256::new("alice", "wonderland"))
        .build()?;
    let (client, _events) = Client::with_events(options)?;
    let connected = client.connect().await?;
    println!("authenticated with {:?}", connected.properties.authentication_method.as_deref());
    let again = client.re_authenticate().await?;
    println!("re-authenticated: {}", again.reason_code);
    client.disconnect().await?;

    let wrong = ClientOptions::builder(format!("mqtt://{}", broker.local_addr()))
        .client_id("example-scram-wrong")
        .authenticator(ScramSha256::new("alice", "guess"))
        .build()?;
    let (intruder, _events) = Client::with_events(wrong)?;
    let refused = intruder.connect().await.expect_err("a wrong password is refused");
    println!("wrong password: {refused} (auth error: {})", refused.is_auth_error());
    broker.shutdown().await;
    Ok(())
}
