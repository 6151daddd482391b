//! The broker's TLS and WebSocket listeners (`mqtts://`, `ws://`, `wss://`), with our client
//! and with Mosquitto's command-line clients as peers.
#![cfg(all(
    feature = "client",
    feature = "broker",
    feature = "tls",
    feature = "websocket",
    feature = "protocol-testing"
))]

mod client_support;
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use client_support::tempdir::TempDir;
use client_support::{TestCertificates, expect_message};
use mqttkit::ErrorKind;
use mqttkit::broker::{
    Broker, BrokerConfig, BrokerError, BrokerHandle, ListenerConfig, ListenerProtocol, ListenerTls,
};
use mqttkit::client::{Client, ClientOptions, ReconnectPolicy};
use mqttkit::protocol::QoS;
use mqttkit::transport::TlsOptions;

/// The test certificates written as files, as a configuration names them.
struct CertificateFiles {
    certs: TestCertificates,
    dir: TempDir,
}

impl CertificateFiles {
    fn write() -> Self {
        let certs = TestCertificates::generate();
        let dir = TempDir::new("listener-tls");
        for (name, content) in
            [("ca.pem", &certs.ca_pem), ("server.pem", &certs.server_pem), ("server.key", &certs.server_key)]
        {
            std::fs::write(dir.0.join(name), content).unwrap();
        }
        CertificateFiles { certs, dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.0.join(name)
    }

    fn listener_tls(&self, client_ca: bool) -> ListenerTls {
        ListenerTls {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            client_ca_file: client_ca.then(|| self.path("ca.pem")),
            client_cert_optional: false,
        }
    }

    fn client_tls(&self, with_client_certificate: bool) -> TlsOptions {
        let mut tls =
            TlsOptions { ca_pem: Some(self.certs.ca_pem.clone().into_bytes()), ..Default::default() };
        if with_client_certificate {
            tls.client_cert_pem = Some(self.certs.client_pem.clone().into_bytes());
            tls.client_key_pem = Some(self.certs.client_key.clone().into_bytes());
        }
        tls
    }
}

async fn start(listener: ListenerConfig) -> BrokerHandle {
    let config = BrokerConfig { listeners: vec![listener], ..Default::default() };
    Broker::builder().config(config).start().await.unwrap()
}

fn listener(protocol: ListenerProtocol, tls: Option<ListenerTls>) -> ListenerConfig {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    ListenerConfig { protocol, tls, ..ListenerConfig::tcp(bind) }
}

fn options(url: String, id: &str, tls: Option<TlsOptions>) -> ClientOptions {
    let builder = ClientOptions::builder(url)
        .client_id(id)
        .local_network_timeouts()
        .reconnect(ReconnectPolicy::disabled());
    match tls {
        Some(tls) => builder.tls(tls),
        None => builder,
    }
    .build()
    .unwrap()
}

/// Subscribes, publishes to itself at QoS 2 and checks the message comes back.
async fn round_trip(url: String, tls: Option<TlsOptions>) {
    let (client, mut events) = Client::with_events(options(url, "round-trip", tls)).unwrap();
    client.connect().await.unwrap();
    client.subscribe("listener/#", QoS::ExactlyOnce).await.unwrap();
    client.publish("listener/a", "over the wire", QoS::ExactlyOnce).await.unwrap();
    let message = expect_message(&mut events).await;
    assert_eq!((&*message.topic, &message.payload[..]), ("listener/a", &b"over the wire"[..]));
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_tls_listener_serves_mqtts() {
    let files = CertificateFiles::write();
    let broker = start(listener(ListenerProtocol::Mqtt, Some(files.listener_tls(false)))).await;
    round_trip(format!("mqtts://{}", broker.local_addr()), Some(files.client_tls(false))).await;
    // A plain MQTT client on the TLS port never gets a CONNACK: its CONNECT is no handshake.
    let plain = options(format!("mqtt://{}", broker.local_addr()), "plain", None);
    let (client, _events) = Client::with_events(plain).unwrap();
    assert!(client.connect().await.is_err());
    broker.shutdown().await;
}

#[tokio::test]
async fn a_tls_listener_with_a_client_ca_requires_client_certificates() {
    let files = CertificateFiles::write();
    let broker = start(listener(ListenerProtocol::Mqtt, Some(files.listener_tls(true)))).await;
    let url = format!("mqtts://{}", broker.local_addr());
    round_trip(url.clone(), Some(files.client_tls(true))).await;
    let (client, _events) =
        Client::with_events(options(url, "anonymous", Some(files.client_tls(false)))).unwrap();
    let error = client.connect().await.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Network | ErrorKind::ConnectionLost), "{error}");
    // The refused handshake is not counted as an open connection.
    support::wait_until("no connection is open", || broker.stats().connections == 0).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_websocket_listener_serves_ws_and_wss() {
    let broker = start(listener(ListenerProtocol::WebSocket, None)).await;
    round_trip(format!("ws://{}/mqtt", broker.local_addr()), None).await;
    broker.shutdown().await;
    let files = CertificateFiles::write();
    let broker = start(listener(ListenerProtocol::WebSocket, Some(files.listener_tls(false)))).await;
    round_trip(format!("wss://{}/mqtt", broker.local_addr()), Some(files.client_tls(false))).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn mqtt_6_0_0_4_a_websocket_upgrade_without_the_mqtt_subprotocol_is_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let broker = start(listener(ListenerProtocol::WebSocket, None)).await;
    let url = format!("ws://{}/mqtt", broker.local_addr());
    let tcp = tokio::net::TcpStream::connect(broker.local_addr()).await.unwrap();
    let refused = tokio_tungstenite::client_async(url.as_str(), tcp).await.unwrap_err();
    assert!(refused.to_string().contains("400"), "{refused}");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "chat, mqtt".parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(broker.local_addr()).await.unwrap();
    let (_socket, response) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "mqtt");
    broker.shutdown().await;
}

#[tokio::test]
async fn unreadable_or_mismatched_tls_files_are_refused_at_start_naming_the_file() {
    let files = CertificateFiles::write();
    let mut tls = files.listener_tls(false);
    tls.key_file = files.path("missing.key");
    let config =
        BrokerConfig { listeners: vec![listener(ListenerProtocol::Mqtt, Some(tls))], ..Default::default() };
    let error = Broker::builder().config(config).start().await.unwrap_err();
    assert!(matches!(&error, BrokerError::Listener { .. }), "{error}");
    assert!(error.to_string().contains("missing.key"), "{error}");

    let mut tls = files.listener_tls(false);
    tls.key_file = files.path("ca.pem");
    let config =
        BrokerConfig { listeners: vec![listener(ListenerProtocol::Mqtt, Some(tls))], ..Default::default() };
    let error = Broker::builder().config(config).start().await.unwrap_err();
    assert!(error.to_string().contains("server key PEM"), "{error}");
}

#[test]
fn listeners_are_read_from_toml() {
    let text = r#"
[[listener]]
bind = "127.0.0.1:8883"
[listener.tls]
cert_file = "server.pem"
key_file = "server.key"
client_ca_file = "ca.pem"

[[listener]]
bind = "127.0.0.1:8080"
protocol = "websocket"
"#;
    let config = BrokerConfig::from_toml_str(text, "listeners.toml").unwrap();
    assert_eq!(config.listeners[0].protocol, ListenerProtocol::Mqtt);
    let tls = config.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.client_ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!(config.listeners[1].protocol, ListenerProtocol::WebSocket);
    assert!(config.listeners[1].tls.is_none());
    let error = BrokerConfig::from_toml_str("[[listener]]\nprotocol = \"quic\"\n", "bad.toml").unwrap_err();
    assert!(error.to_string().starts_with("bad.toml:2:"), "{error}");
}

/// `mosquitto_pub` and `mosquitto_sub` (Debian's mosquitto-clients, OpenSSL inside) against
/// the TLS listener.
#[tokio::test]
async fn mosquitto_clients_talk_to_the_tls_listener() {
    let files = CertificateFiles::write();
    let broker = start(listener(ListenerProtocol::Mqtt, Some(files.listener_tls(false)))).await;
    let port = broker.local_addr().port().to_string();
    let ca = files.path("ca.pem");
    let common = ["-h", "127.0.0.1", "-p", &port, "--cafile", ca.to_str().unwrap(), "-V", "mqttv5"];
    let subscriber = tokio::process::Command::new("mosquitto_sub")
        .args(common)
        .args(["-t", "tls/#", "-C", "1", "-q", "1", "-i", "tls-sub"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_sub is installed (scripts/install-test-deps.sh)");
    // The subscription is in place once the broker counts it.
    support::wait_until("the subscription is in place", || broker.stats().subscriptions == 1).await;
    let published = tokio::process::Command::new("mosquitto_pub")
        .args(common)
        .args(["-t", "tls/x", "-m", "from mosquitto_pub", "-q", "1"])
        .output();
    let published = tokio::time::timeout(Duration::from_secs(10), published).await.unwrap().unwrap();
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
    let received =
        tokio::time::timeout(Duration::from_secs(10), subscriber.wait_with_output()).await.unwrap();
    let received = received.unwrap();
    assert!(received.status.success(), "{}", String::from_utf8_lossy(&received.stderr));
    assert_eq!(String::from_utf8_lossy(&received.stdout).trim(), "from mosquitto_pub");
    broker.shutdown().await;
}

/// The Eclipse paho-mqtt Python client (`tests/interop/paho_scenarios.py`) over WebSocket:
/// QoS 0/1/2, retained messages and wills, MQTT 3.1.1 and 5.
#[tokio::test]
async fn paho_talks_to_the_websocket_listener() {
    let broker = start(listener(ListenerProtocol::WebSocket, None)).await;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("MQTTKIT_PYTHON")
        .map_or_else(|| manifest.join("../.venv/bin/python"), std::path::PathBuf::from);
    let scenarios = ["qos-v311", "qos-v5", "retained-v5", "will-v311"];
    let run = tokio::process::Command::new(&python)
        .arg(manifest.join("../tests/interop/paho_scenarios.py"))
        .args(["--port", &broker.local_addr().port().to_string(), "--transport", "websockets"])
        .args(scenarios)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the paho scenarios finish")
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/install-test-deps.sh)", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for scenario in scenarios {
        assert!(stdout.contains(&format!("ok {scenario}")), "{stdout}");
    }
    broker.shutdown().await;
}
