//! mqttkit's client against mqttkit's broker: enhanced authentication with SCRAM-SHA-256
//! end to end, including re-authentication.
#![cfg(all(feature = "client", feature = "broker"))]

use std::net::SocketAddr;

use mqttkit::ErrorKind;
use mqttkit::broker::{AuthConfig, Broker, BrokerConfig, BrokerHandle, UserConfig};
use mqttkit::client::{Client, ClientOptions, ReconnectPolicy, ScramSha256};
use mqttkit::protocol::{QoS, ReasonCode};

async fn broker_with_alice() -> BrokerHandle {
    let config = BrokerConfig {
        auth: AuthConfig {
            allow_anonymous: false,
            users: vec![UserConfig { username: "alice".into(), password: "wonder".into() }],
            ..Default::default()
        },
        ..Default::default()
    };
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Broker::builder().config(config).bind(bind).start().await.unwrap()
}

fn scram_client(broker: &BrokerHandle, id: &str, password: &str) -> ClientOptions {
    ClientOptions::builder(format!("mqtt://{}", broker.local_addr()))
        .client_id(id)
        .authenticator(ScramSha256::new("alice", password))
        .reconnect(ReconnectPolicy::disabled())
        .local_network_timeouts()
        .build()
        .unwrap()
}

#[tokio::test]
async fn scram_sha_256_authenticates_and_re_authenticates() {
    let broker = broker_with_alice().await;
    let (client, mut events) = Client::with_events(scram_client(&broker, "scram", "wonder")).unwrap();
    let connected = client.connect().await.unwrap();
    assert_eq!(connected.properties.authentication_method.as_deref(), Some("SCRAM-SHA-256"));
    let again = client.re_authenticate().await.unwrap();
    assert_eq!(again.reason_code, ReasonCode::Success);
    client.subscribe("scram/#", QoS::AtLeastOnce).await.unwrap();
    client.publish("scram/ok", "authenticated", QoS::AtLeastOnce).await.unwrap();
    let message = events.next_message().await.unwrap();
    assert_eq!(&message.payload[..], b"authenticated");
    client.shutdown().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn a_wrong_scram_password_is_an_auth_error() {
    let broker = broker_with_alice().await;
    let (client, _events) = Client::with_events(scram_client(&broker, "scram-bad", "guess")).unwrap();
    let error = client.connect().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
    assert!(error.is_auth_error(), "{error}");
    broker.shutdown().await;
}

#[tokio::test]
async fn fire_and_forget_re_authentication_reports_through_events() {
    let broker = broker_with_alice().await;
    let (client, mut events) = Client::with_events(scram_client(&broker, "scram-nowait", "wonder")).unwrap();
    client.connect().await.unwrap();
    client.re_authenticate_nowait().await.unwrap();
    let result = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), events.next()).await.unwrap().unwrap() {
            mqttkit::dispatch::Event::AuthReceived(result) => break result,
            _ => continue,
        }
    };
    assert_eq!(result.reason_code, ReasonCode::Success);
    client.disconnect_with_nowait(ReasonCode::Success, Default::default()).await.unwrap();
    broker.shutdown().await;
}
