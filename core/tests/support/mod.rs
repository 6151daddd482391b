//! Shared helpers for the broker integration tests: start a broker on port 0 and drive it
//! with a small packet-level client built on `mqttkit::testing::RawTestClient`.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttkit::broker::{Broker, BrokerConfig, BrokerHandle};
use mqttkit::protocol::{
    ConnAck, Connect, Disconnect, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
};
use mqttkit::testing::RawTestClient;

/// Every wait in the tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A broker on 127.0.0.1 with an ephemeral port and the default configuration.
pub async fn start_broker() -> BrokerHandle {
    start_broker_with(BrokerConfig::default()).await
}

/// A broker on 127.0.0.1 with an ephemeral port.
pub async fn start_broker_with(config: BrokerConfig) -> BrokerHandle {
    Broker::builder()
        .config(config)
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .start()
        .await
        .expect("broker starts")
}

/// Runs `mqttkit broker` with `args` (which bind port 0), killed when dropped; returns it
/// with the first address it announces on stdout.
#[cfg(feature = "cli")]
pub async fn spawn_broker_cli<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> (tokio::process::Child, SocketAddr) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mqttkit"))
        .arg("broker")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mqttkit broker starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the broker announces its address")
        .expect("stdout is readable")
        .expect("an address line");
    let addr = line.rsplit(' ').next().and_then(|addr| addr.parse().ok()).expect("an address");
    (child, addr)
}

/// Sends `signal` (`"TERM"`, `"HUP"`, ...) to a child process with `kill`.
#[cfg(unix)]
pub async fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("the child runs").to_string();
    let status = tokio::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits (bounded) until `condition` holds, polling the broker's state.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A packet-level MQTT client for tests.
pub struct TestClient {
    pub raw: RawTestClient,
    pub version: ProtocolVersion,
    next_id: u16,
}

impl TestClient {
    /// Wraps a raw client (for tests that drive CONNECT themselves).
    pub fn from_raw(raw: RawTestClient, version: ProtocolVersion) -> Self {
        TestClient { raw, version, next_id: 0 }
    }

    /// Connects with this CONNECT and returns the client and the CONNACK.
    pub async fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ConnAck) {
        let version = connect.protocol_version;
        let mut raw = RawTestClient::connect(addr).await.expect("tcp connect");
        raw.set_protocol_version(version);
        let mut client = TestClient { raw, version, next_id: 0 };
        client.send(Packet::Connect(Box::new(connect))).await;
        match client.recv().await {
            Packet::ConnAck(connack) => (client, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// MQTT 5, Clean Start, keep-alive 60; asserts success.
    pub async fn connect(addr: SocketAddr, client_id: &str) -> Self {
        let (client, connack) = Self::connect_with(addr, Connect::new(client_id)).await;
        assert_eq!(connack.reason_code, ReasonCode::Success, "{connack:?}");
        client
    }

    /// MQTT 3.1.1, Clean Session; asserts success.
    pub async fn connect_v311(addr: SocketAddr, client_id: &str) -> Self {
        let connect = Connect { protocol_version: ProtocolVersion::V311, ..Connect::new(client_id) };
        let (client, connack) = Self::connect_with(addr, connect).await;
        assert_eq!(connack.reason_code, ReasonCode::Success, "{connack:?}");
        client
    }

    /// A fresh packet identifier.
    pub fn next_id(&mut self) -> u16 {
        self.next_id = self.next_id % 65_535 + 1;
        self.next_id
    }

    pub async fn send(&mut self, packet: Packet) {
        let mut buf = BytesMut::new();
        packet.encode(self.version, &mut buf).expect("encodes");
        self.raw.send_raw(&buf).await.expect("send");
    }

    /// The next packet (bounded wait; panics on timeout or close).
    pub async fn recv(&mut self) -> Packet {
        self.raw.receive_packet(self.version, TIMEOUT).await.expect("a packet from the broker")
    }

    /// The next packet, which must be a PUBLISH.
    pub async fn recv_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Receives a PUBLISH and acknowledges it as its QoS requires (QoS 2: full flow).
    pub async fn recv_and_ack(&mut self) -> Publish {
        let publish = self.recv_publish().await;
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(Packet::PubAck(PubAck::new(publish.packet_id))).await,
            QoS::ExactlyOnce => {
                self.send(Packet::PubRec(PubRec::new(publish.packet_id))).await;
                match self.recv().await {
                    Packet::PubRel(rel) => assert_eq!(rel.packet_id, publish.packet_id),
                    other => panic!("expected PUBREL, got {other:?}"),
                }
                self.send(Packet::PubComp(PubComp::new(publish.packet_id))).await;
            }
        }
        publish
    }

    pub async fn subscribe_with(&mut self, mut subscribe: Subscribe) -> SubAck {
        subscribe.packet_id = self.next_id();
        self.send(Packet::Subscribe(subscribe)).await;
        match self.recv().await {
            Packet::SubAck(suback) => suback,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> SubAck {
        self.subscribe_opts(filter, SubscriptionOptions::new(qos)).await
    }

    pub async fn subscribe_opts(&mut self, filter: &str, options: SubscriptionOptions) -> SubAck {
        let subscription = Subscription { filter: filter.into(), options };
        let suback = self.subscribe_with(Subscribe::new(0, vec![subscription])).await;
        assert!(!suback.reason_codes[0].is_error(), "subscription to {filter} refused: {suback:?}");
        suback
    }

    pub async fn unsubscribe(&mut self, filter: &str) -> UnsubAck {
        let id = self.next_id();
        self.send(Packet::Unsubscribe(Unsubscribe::new(id, vec![filter.into()]))).await;
        match self.recv().await {
            Packet::UnsubAck(unsuback) => unsuback,
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the QoS flow; returns the reason code of PUBACK / PUBREC.
    pub async fn publish(&mut self, publish: Publish) -> ReasonCode {
        let mut publish = publish;
        let qos = publish.qos;
        if qos != QoS::AtMostOnce && publish.packet_id == 0 {
            publish.packet_id = self.next_id();
        }
        let id = publish.packet_id;
        self.send(Packet::Publish(publish)).await;
        match qos {
            QoS::AtMostOnce => ReasonCode::Success,
            QoS::AtLeastOnce => match self.recv().await {
                Packet::PubAck(ack) => {
                    assert_eq!(ack.packet_id, id);
                    ack.reason_code
                }
                other => panic!("expected PUBACK, got {other:?}"),
            },
            QoS::ExactlyOnce => {
                let reason = match self.recv().await {
                    Packet::PubRec(rec) => {
                        assert_eq!(rec.packet_id, id);
                        rec.reason_code
                    }
                    other => panic!("expected PUBREC, got {other:?}"),
                };
                if !reason.is_error() {
                    self.send(Packet::PubRel(PubRel::new(id))).await;
                    match self.recv().await {
                        Packet::PubComp(comp) => assert_eq!(comp.packet_id, id),
                        other => panic!("expected PUBCOMP, got {other:?}"),
                    }
                }
                reason
            }
        }
    }

    pub async fn publish_simple(&mut self, topic: &str, payload: &str, qos: QoS) -> ReasonCode {
        self.publish(Publish::new(topic, Bytes::copy_from_slice(payload.as_bytes()), qos)).await
    }

    /// PINGREQ / PINGRESP round trip: everything the broker sent before is received first.
    pub async fn ping(&mut self) {
        self.send(Packet::PingReq).await;
        match self.recv().await {
            Packet::PingResp => {}
            other => panic!("expected PINGRESP, got {other:?}"),
        }
    }

    /// Asserts that nothing but the PINGRESP arrives in a ping round trip.
    pub async fn expect_nothing(&mut self) {
        self.send(Packet::PingReq).await;
        match self.recv().await {
            Packet::PingResp => {}
            other => panic!("expected nothing (then PINGRESP), got {other:?}"),
        }
    }

    /// Waits for the broker to close the connection; the reason code of its last DISCONNECT.
    pub async fn expect_closed(&mut self) -> Option<ReasonCode> {
        self.raw.expect_disconnect(TIMEOUT).await.expect("broker closes the connection")
    }

    pub async fn disconnect(mut self) {
        self.send(Packet::Disconnect(Disconnect::new(ReasonCode::Success))).await;
        let _ = self.raw.close().await;
    }

    /// Drops the TCP connection without DISCONNECT.
    pub async fn drop_connection(self) {
        let _ = self.raw.close().await;
    }
}
