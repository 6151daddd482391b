//! Broker: malformed and protocol-violating input, through the protocol-testing API. Each
//! case must close the connection with the reason code the specification requires (in
//! CONNACK before a successful CONNECT, in DISCONNECT after; MQTT 3.1.1 just closes).
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use mqttkit::broker::{BrokerConfig, Limits};
use mqttkit::protocol::{ProtocolVersion, ReasonCode};
use mqttkit::testing::{MalformedCase, MalformedPacketGenerator, RawTestClient};
use support::{TIMEOUT, start_broker, start_broker_with};

async fn run_case(addr: std::net::SocketAddr, case: &MalformedCase) -> Result<Option<ReasonCode>, String> {
    let mut client = RawTestClient::connect(addr).await.map_err(|e| e.to_string())?;
    client.set_protocol_version(case.version);
    if let Some(connect) = case.prelude() {
        client.send_raw(connect).await.map_err(|e| e.to_string())?;
        client.receive_packet(case.version, TIMEOUT).await.map_err(|e| format!("CONNACK: {e}"))?;
    }
    client.send_expect_disconnect(&case.bytes, TIMEOUT).await.map_err(|e| e.to_string())
}

/// Cases where the codec (core/src/protocol, not the broker) answers with another reason
/// code than the case expects; reported to the codec's owner. The sweep fails when one of
/// them starts passing, so that it is taken off this list.
const KNOWN_CODEC_ISSUES: &[&str] = &[];

/// Every case of `MalformedPacketGenerator::all()`, against a broker with a Maximum Packet
/// Size (so that the size-limit cases apply too).
#[tokio::test]
async fn every_malformed_case_closes_with_the_required_reason_code() {
    let config = BrokerConfig {
        limits: Limits { max_packet_size: 256 * 1024, ..Limits::default() },
        ..Default::default()
    };
    let broker = start_broker_with(config).await;
    let mut failures = Vec::new();
    let cases = MalformedPacketGenerator::all();
    for case in &cases {
        let known = KNOWN_CODEC_ISSUES.contains(&case.name);
        match run_case(broker.local_addr(), case).await {
            Ok(reason) if reason == case.reason && known => {
                failures.push(format!("{} passes now: remove it from KNOWN_CODEC_ISSUES", case.name))
            }
            Ok(reason) if reason == case.reason => {}
            Ok(reason) if known => {
                eprintln!(
                    "known codec issue: {} closed with {reason:?}, expected {:?}",
                    case.name, case.reason
                )
            }
            Ok(reason) => failures.push(format!(
                "{} ({}): closed with {reason:?}, expected {:?}",
                case.name, case.normative, case.reason
            )),
            Err(error) => failures.push(format!("{} ({}): {error}", case.name, case.normative)),
        }
    }
    broker.shutdown().await;
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

async fn expect(case: MalformedCase) {
    let broker = start_broker().await;
    let reason = run_case(broker.local_addr(), &case).await.expect("connection closed");
    assert_eq!(reason, case.reason, "{} ({})", case.name, case.normative);
    broker.shutdown().await;
}

fn case(name: &str) -> MalformedCase {
    MalformedPacketGenerator::case(name).unwrap_or_else(|| panic!("no case {name}"))
}

#[tokio::test]
async fn mqtt_3_1_0_1_first_packet_must_be_connect() {
    expect(case("first_packet_not_connect")).await;
}

#[tokio::test]
async fn mqtt_3_1_0_2_second_connect_is_protocol_error() {
    expect(case("second_connect")).await;
}

#[tokio::test]
async fn mqtt_2_1_3_1_reserved_flags_are_malformed() {
    expect(case("connect_reserved_flag")).await;
    expect(case("pubrel_wrong_flags")).await;
}

#[tokio::test]
async fn mqtt_3_1_2_2_unsupported_protocol_level_gets_connack_0x01_in_311_format() {
    let broker = start_broker().await;
    let mut client = RawTestClient::connect(broker.local_addr()).await.unwrap();
    let mut bytes = MalformedPacketGenerator::valid_connect_v311();
    bytes[8] = 3; // protocol level 3 (MQTT 3.1)
    client.send_raw(&bytes).await.unwrap();
    let answer = client.receive_raw(TIMEOUT).await.unwrap();
    assert_eq!(answer, [0x20, 0x02, 0x00, 0x01]);
    broker.shutdown().await;
}

#[tokio::test]
async fn mqtt_3_3_4_6_client_publish_with_subscription_identifier_is_protocol_error() {
    expect(case("publish_with_subscription_identifier")).await;
}

#[tokio::test]
async fn mqtt_3_3_2_2_wildcard_in_topic_name_is_topic_name_invalid() {
    expect(case("topic_with_wildcards")).await;
}

#[tokio::test]
async fn v311_protocol_violation_closes_without_a_packet() {
    let broker = start_broker().await;
    let mut client = RawTestClient::connect(broker.local_addr()).await.unwrap();
    client.set_protocol_version(ProtocolVersion::V311);
    client.send_raw(MalformedPacketGenerator::valid_connect_v311()).await.unwrap();
    client.receive_packet(ProtocolVersion::V311, TIMEOUT).await.unwrap();
    let reason =
        client.send_expect_disconnect(MalformedPacketGenerator::dup_with_qos0(), TIMEOUT).await.unwrap();
    assert_eq!(reason, None);
    broker.shutdown().await;
}
