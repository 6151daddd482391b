//! The client over TLS (`mqtts://`) against Mosquitto's TLS listener.
#![cfg(all(feature = "client", feature = "tls"))]

mod client_support;

use client_support::{Mosquitto, TestCertificates, expect_event, expect_message};
use mqttkit::ErrorKind;
use mqttkit::client::{Client, ClientOptions};
use mqttkit::dispatch::Event;
use mqttkit::protocol::QoS;
use mqttkit::transport::TlsOptions;

fn tls_url(broker: &Mosquitto) -> String {
    format!("mqtts://127.0.0.1:{}", broker.port)
}

#[tokio::test]
async fn publishes_and_receives_over_tls_and_reports_the_peer_certificate() {
    let certs = TestCertificates::generate();
    let broker = Mosquitto::start_tls(&certs, false).await;
    let tls = TlsOptions { ca_pem: Some(certs.ca_pem.clone().into_bytes()), ..Default::default() };
    let options = ClientOptions::builder(tls_url(&broker))
        .client_id("tls")
        .tls(tls)
        .local_network_timeouts()
        .build()
        .unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    let certificate = expect_event(&mut events, "PeerCertificateReceived", |e| match e {
        Event::PeerCertificateReceived(der) => Some(der),
        _ => None,
    })
    .await;
    assert!(!certificate.is_empty());
    client.subscribe("tls/#", QoS::AtLeastOnce).await.unwrap();
    client.publish("tls/a", "secret", QoS::ExactlyOnce).await.unwrap();
    let message = expect_message(&mut events).await;
    assert_eq!(&message.payload[..], b"secret");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_refused() {
    let certs = TestCertificates::generate();
    let other_ca = TestCertificates::generate();
    let broker = Mosquitto::start_tls(&certs, false).await;
    let tls = TlsOptions { ca_pem: Some(other_ca.ca_pem.into_bytes()), ..Default::default() };
    let options = ClientOptions::builder(tls_url(&broker)).client_id("tls-bad").tls(tls).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let error = client.connect().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Network, "{error}");
    assert!(error.to_string().to_lowercase().contains("certificate"), "{error}");

    let insecure = TlsOptions { insecure_skip_verify: true, ..Default::default() };
    let options =
        ClientOptions::builder(tls_url(&broker)).client_id("tls-insecure").tls(insecure).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_with_a_client_certificate() {
    let certs = TestCertificates::generate();
    let broker = Mosquitto::start_tls(&certs, true).await;
    let with_cert = TlsOptions {
        ca_pem: Some(certs.ca_pem.clone().into_bytes()),
        client_cert_pem: Some(certs.client_pem.clone().into_bytes()),
        client_key_pem: Some(certs.client_key.clone().into_bytes()),
        ..Default::default()
    };
    let options = ClientOptions::builder(tls_url(&broker)).client_id("mtls").tls(with_cert).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    client.ping().await.unwrap();
    client.shutdown().await.unwrap();

    let without = TlsOptions { ca_pem: Some(certs.ca_pem.into_bytes()), ..Default::default() };
    let options = ClientOptions::builder(tls_url(&broker)).client_id("no-cert").tls(without).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    assert!(client.connect().await.is_err(), "the broker requires a client certificate");
}

#[test]
fn bad_tls_configuration_is_a_clear_error() {
    let broken = TlsOptions { ca_pem: Some(b"not a pem".to_vec()), ..Default::default() };
    let error = ClientOptions::builder("mqtts://127.0.0.1:8883").tls(broken).build().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidConfiguration);
    assert!(error.to_string().contains("CA"), "{error}");
    let error =
        ClientOptions::builder("mqtt://127.0.0.1:1883").tls(TlsOptions::default()).build().unwrap_err();
    assert!(error.to_string().contains("mqtts://"), "{error}");
}
