//! Tests of the raw packet API (feature `protocol-testing`): every malformed-packet
//! generator against mqttkit's decoder, the byte mutators of `RawPacketBuilder`, and
//! `RawTestClient` against small in-test TCP servers.
#![cfg(feature = "protocol-testing")]

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use mqttkit::protocol::topic::TopicError;
use mqttkit::protocol::{
    ConnAck, Decoder, Disconnect, FixedHeader, Packet, PacketType, PropertyContext, PropertyId,
    ProtocolError, ProtocolVersion, Publish, QoS, ReasonCode, decode_var_int,
};
use mqttkit::testing::{
    Detection, MalformedCase, MalformedPacketGenerator, RawClientError, RawPacketBuilder, RawTestClient,
};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Generous bound for things that happen at once on the loopback interface.
const PROMPT: Duration = Duration::from_secs(5);
/// Short wait for the tests where nothing is supposed to arrive.
const SHORT: Duration = Duration::from_millis(200);

// ==========================================================================================
// MalformedPacketGenerator against the decoder
// ==========================================================================================

fn case(name: &str) -> MalformedCase {
    MalformedPacketGenerator::case(name).unwrap_or_else(|| panic!("no generator named {name}"))
}

/// A decoder for the case's connection, past the case's CONNECT prelude if it has one.
fn decoder_for(case: &MalformedCase) -> Decoder {
    let mut decoder = Decoder::new(case.version);
    if let Some(prelude) = case.prelude() {
        let mut buf = BytesMut::from(&prelude[..]);
        match decoder.decode(&mut buf) {
            Ok(Some(Packet::Connect(connect))) => assert_eq!(connect.protocol_version, case.version),
            other => panic!("{}: prelude did not decode as CONNECT: {other:?}", case.name),
        }
        assert!(buf.is_empty(), "{}: prelude has trailing bytes", case.name);
    }
    decoder
}

/// Decodes the case's bytes (after its prelude) and returns the error the codec reports.
fn decode_error(name: &str) -> ProtocolError {
    let case = case(name);
    assert_eq!(case.detection, Detection::Codec, "{name} is not detectable by the codec");
    match decoder_for(&case).decode(&mut BytesMut::from(&case.bytes[..])) {
        Err(error) => error,
        Ok(packet) => panic!("{name}: decoded without error: {packet:?}"),
    }
}

/// Decodes a case only a broker can detect: it must come out as one valid packet.
fn decode_valid(name: &str) -> Packet {
    let case = case(name);
    assert_eq!(case.detection, Detection::Broker, "{name} is not a broker-only case");
    let mut buf = BytesMut::from(&case.bytes[..]);
    let packet = decoder_for(&case).decode(&mut buf).unwrap_or_else(|error| panic!("{name}: {error}"));
    assert!(buf.is_empty(), "{name}: bytes left after the packet");
    packet.unwrap_or_else(|| panic!("{name}: incomplete packet"))
}

/// One test per codec-detectable generator: the exact error and its reason code.
macro_rules! rejected {
    ($($test:ident: $name:literal => $error:expr, $reason:ident;)+) => {$(
        #[test]
        fn $test() {
            let error = decode_error($name);
            assert_eq!(error, $error);
            assert_eq!(error.reason_code(), ReasonCode::$reason);
        }
    )+};
}

rejected! {
    // Fixed header.
    mqtt_2_1_3_1_connect_reserved_flag: "connect_reserved_flag" =>
        ProtocolError::InvalidHeaderFlags { packet: PacketType::Connect, flags: 0b0001 }, MalformedPacket;
    mqtt_3_8_1_1_subscribe_reserved_bits: "subscribe_reserved_bits" =>
        ProtocolError::InvalidHeaderFlags { packet: PacketType::Subscribe, flags: 0b0000 }, MalformedPacket;
    mqtt_3_10_1_1_unsubscribe_reserved_bits: "unsubscribe_reserved_bits" =>
        ProtocolError::InvalidHeaderFlags { packet: PacketType::Unsubscribe, flags: 0b0000 }, MalformedPacket;
    mqtt_3_6_1_1_pubrel_wrong_flags: "pubrel_wrong_flags" =>
        ProtocolError::InvalidHeaderFlags { packet: PacketType::PubRel, flags: 0b0000 }, MalformedPacket;
    mqtt_3_14_1_1_disconnect_reserved_flags: "disconnect_reserved_flags" =>
        ProtocolError::InvalidHeaderFlags { packet: PacketType::Disconnect, flags: 0b0001 }, MalformedPacket;
    mqtt_3_15_1_1_auth_reserved_flags: "auth_reserved_flags" =>
        ProtocolError::InvalidHeaderFlags { packet: PacketType::Auth, flags: 0b0001 }, MalformedPacket;
    sec_2_1_2_reserved_packet_type: "reserved_packet_type" =>
        ProtocolError::InvalidPacketType(0), MalformedPacket;
    // On 3.1.1 the server closes without sending anything; the codec's reason code is the
    // MQTT 5 equivalent.
    v311_sec_2_2_1_auth_on_v311: "auth_on_v311" => ProtocolError::InvalidPacketType(15), MalformedPacket;

    // Variable Byte Integers and lengths.
    mqtt_1_5_5_1_non_minimal_variable_length: "non_minimal_variable_length" =>
        ProtocolError::VarIntNotMinimal, MalformedPacket;
    sec_1_5_5_remaining_length_five_bytes: "remaining_length_five_bytes" =>
        ProtocolError::VarIntTooLong, MalformedPacket;
    sec_1_5_5_property_length_five_bytes: "property_length_five_bytes" =>
        ProtocolError::VarIntTooLong, MalformedPacket;
    sec_1_5_4_string_length_exceeds_packet: "string_length_exceeds_packet" =>
        ProtocolError::UnexpectedEnd("topic name"), MalformedPacket;
    sec_3_12_pingreq_with_body: "pingreq_with_body" =>
        ProtocolError::TrailingBytes { packet: PacketType::PingReq, extra: 1 }, MalformedPacket;

    // Packet identifiers.
    mqtt_2_2_1_2_qos0_with_packet_id: "qos0_with_packet_id" =>
        ProtocolError::UnknownProperty(0), MalformedPacket;
    mqtt_2_2_1_3_publish_qos1_packet_id_zero: "publish_qos1_packet_id_zero" =>
        ProtocolError::ZeroPacketId(PacketType::Publish), ProtocolError;

    // CONNECT.
    mqtt_3_1_2_1_incorrect_protocol_name: "incorrect_protocol_name" =>
        ProtocolError::InvalidProtocolName("mqtt".into()), UnsupportedProtocolVersion;
    mqtt_3_1_2_2_invalid_protocol_version: "invalid_protocol_version" =>
        ProtocolError::UnsupportedProtocolVersion(6), UnsupportedProtocolVersion;
    mqtt_3_1_2_3_connect_flags_reserved_bit: "connect_flags_reserved_bit" =>
        ProtocolError::InvalidConnectFlags("reserved flag bit 0 is set"), MalformedPacket;
    mqtt_3_1_2_9_will_flag_without_payload: "will_flag_without_payload" =>
        ProtocolError::UnexpectedEnd("property length"), MalformedPacket;
    mqtt_3_1_2_11_will_qos_without_will_flag: "will_qos_without_will_flag" =>
        ProtocolError::InvalidConnectFlags("will QoS or will retain is set without the will flag"),
        MalformedPacket;
    mqtt_3_1_2_12_will_qos_three: "will_qos_three" => ProtocolError::InvalidQos("will QoS"), MalformedPacket;
    mqtt_3_1_2_13_will_retain_without_will_flag: "will_retain_without_will_flag" =>
        ProtocolError::InvalidConnectFlags("will QoS or will retain is set without the will flag"),
        MalformedPacket;
    // MQTT 3.1.1 numbering; the server closes without a CONNACK.
    v311_mqtt_3_1_2_22_password_without_username: "password_without_username_v311" =>
        ProtocolError::InvalidConnectFlags("password flag is set without the user name flag"),
        MalformedPacket;
    sec_3_1_2_11_3_receive_maximum_zero: "receive_maximum_zero" =>
        ProtocolError::InvalidPropertyValue { property: PropertyId::ReceiveMaximum, value: 0 }, ProtocolError;
    sec_3_1_2_11_4_maximum_packet_size_zero: "maximum_packet_size_zero" =>
        ProtocolError::InvalidPropertyValue { property: PropertyId::MaximumPacketSize, value: 0 },
        ProtocolError;
    sec_3_1_2_11_2_duplicate_session_expiry_interval: "duplicate_session_expiry_interval" =>
        ProtocolError::DuplicateProperty {
            property: PropertyId::SessionExpiryInterval,
            context: PropertyContext::Packet(PacketType::Connect),
        }, ProtocolError;
    sec_3_1_2_11_10_auth_data_without_method: "auth_data_without_method" =>
        ProtocolError::AuthDataWithoutMethod, ProtocolError;

    // PUBLISH.
    mqtt_3_3_1_4_invalid_qos_both_bits: "invalid_qos_both_bits" =>
        ProtocolError::InvalidQos("PUBLISH"), MalformedPacket;
    mqtt_3_3_1_2_dup_with_qos0: "dup_with_qos0" => ProtocolError::DupWithQos0, MalformedPacket;
    mqtt_4_7_3_1_empty_topic_name: "empty_topic_name" => ProtocolError::EmptyTopicWithoutAlias, ProtocolError;
    mqtt_3_3_2_2_topic_with_wildcards: "topic_with_wildcards" =>
        ProtocolError::InvalidTopicName(TopicError::WildcardInName), TopicNameInvalid;
    mqtt_1_5_4_1_topic_invalid_utf8: "topic_invalid_utf8" =>
        ProtocolError::InvalidUtf8("topic name"), MalformedPacket;
    mqtt_1_5_4_1_topic_encoded_surrogate: "topic_encoded_surrogate" =>
        ProtocolError::InvalidUtf8("topic name"), MalformedPacket;
    mqtt_1_5_4_2_topic_null_character: "topic_null_character" =>
        ProtocolError::NullCharacter("topic name"), MalformedPacket;
    sec_3_3_2_3_4_duplicate_topic_alias: "duplicate_topic_alias" =>
        ProtocolError::DuplicateProperty {
            property: PropertyId::TopicAlias,
            context: PropertyContext::Packet(PacketType::Publish),
        }, ProtocolError;
    sec_3_3_2_3_2_payload_format_invalid: "payload_format_invalid" =>
        ProtocolError::PayloadFormatInvalid, PayloadFormatInvalid;
    sec_2_2_2_2_property_not_allowed: "property_not_allowed" =>
        ProtocolError::PropertyNotAllowed {
            property: PropertyId::SessionExpiryInterval,
            context: PropertyContext::Packet(PacketType::Publish),
        }, MalformedPacket;
    sec_2_2_2_2_unknown_property: "unknown_property" => ProtocolError::UnknownProperty(0x7F), MalformedPacket;
    mqtt_1_5_7_1_user_property_invalid_utf8: "user_property_invalid_utf8" =>
        ProtocolError::InvalidUtf8("User Property"), MalformedPacket;

    // SUBSCRIBE and UNSUBSCRIBE.
    mqtt_3_8_3_5_subscription_options_reserved_bits: "subscription_options_reserved_bits" =>
        ProtocolError::InvalidSubscriptionOptions(0xC1), MalformedPacket;
    sec_3_8_3_1_retain_handling_three: "retain_handling_three" =>
        ProtocolError::InvalidSubscriptionOptionValue(0x31), ProtocolError;
    sec_3_8_3_1_subscription_qos_three: "subscription_qos_three" =>
        ProtocolError::InvalidSubscriptionOptionValue(0x03), ProtocolError;
    sec_3_8_2_1_2_subscription_identifier_zero: "subscription_identifier_zero" =>
        ProtocolError::InvalidPropertyValue { property: PropertyId::SubscriptionIdentifier, value: 0 },
        ProtocolError;
    mqtt_3_8_3_4_no_local_on_shared_subscription: "no_local_on_shared_subscription" =>
        ProtocolError::NoLocalOnSharedSubscription("$share/group/test/topic".into()), ProtocolError;
    mqtt_4_7_1_1_subscribe_multi_level_wildcard_not_last: "subscribe_multi_level_wildcard_not_last" =>
        ProtocolError::InvalidTopicFilter(TopicError::MultiLevelWildcardNotLast), TopicFilterInvalid;
    mqtt_4_7_1_2_subscribe_single_level_wildcard_not_alone: "subscribe_single_level_wildcard_not_alone" =>
        ProtocolError::InvalidTopicFilter(TopicError::SingleLevelWildcardNotAlone), TopicFilterInvalid;
    mqtt_4_7_3_1_subscribe_empty_topic_filter: "subscribe_empty_topic_filter" =>
        ProtocolError::InvalidTopicFilter(TopicError::Empty), TopicFilterInvalid;
    mqtt_4_8_2_1_shared_subscription_empty_share_name: "shared_subscription_empty_share_name" =>
        ProtocolError::InvalidTopicFilter(TopicError::InvalidShareName), TopicFilterInvalid;
    mqtt_3_8_3_2_subscribe_no_filters: "subscribe_no_filters" =>
        ProtocolError::EmptyPayload(PacketType::Subscribe), ProtocolError;
    mqtt_3_10_3_2_unsubscribe_no_filters: "unsubscribe_no_filters" =>
        ProtocolError::EmptyPayload(PacketType::Unsubscribe), ProtocolError;

    // AUTH.
    sec_3_15_2_2_2_auth_without_method: "auth_without_method" =>
        ProtocolError::AuthMethodMissing, ProtocolError;

    // DISCONNECT.
    mqtt_3_14_2_1_disconnect_invalid_reason_code: "disconnect_invalid_reason_code" =>
        ProtocolError::InvalidReasonCode { packet: PacketType::Disconnect, code: 0x03 }, ProtocolError;
}

/// Topic Alias 0 is answered with 0x94 Topic Alias invalid (MQTT 5.0 §3.3.4).
#[test]
fn mqtt_3_3_2_8_topic_alias_zero() {
    let error = decode_error("topic_alias_zero");
    assert_eq!(error, ProtocolError::InvalidPropertyValue { property: PropertyId::TopicAlias, value: 0 });
    assert_eq!(error.reason_code(), ReasonCode::TopicAliasInvalid);
    assert_eq!(case("topic_alias_zero").reason, Some(ReasonCode::TopicAliasInvalid));
}

#[test]
fn mqtt_3_2_2_15_remaining_length_too_large() {
    let case = case("remaining_length_too_large");
    assert_eq!(case.detection, Detection::PacketSizeLimit);
    // Without a limit the decoder waits for the 268,435,455-byte body...
    let unlimited = decoder_for(&case).decode(&mut BytesMut::from(&case.bytes[..]));
    assert_eq!(unlimited, Ok(None));
    // ...with one it refuses the packet from its fixed header.
    let error = decoder_for(&case)
        .with_max_packet_size(1 << 20)
        .decode(&mut BytesMut::from(&case.bytes[..]))
        .unwrap_err();
    assert_eq!(error, ProtocolError::PacketTooLarge { size: 5 + 268_435_455, max: 1 << 20 });
    assert_eq!(error.reason_code(), ReasonCode::PacketTooLarge);
}

// Cases only a broker can detect: the codec must accept the bytes as a valid packet.

#[test]
fn mqtt_3_1_0_2_second_connect_decodes_so_only_a_broker_detects_it() {
    assert!(matches!(decode_valid("second_connect"), Packet::Connect(_)));
}

#[test]
fn mqtt_3_1_0_1_first_packet_not_connect_decodes_so_only_a_broker_detects_it() {
    assert_eq!(decode_valid("first_packet_not_connect"), Packet::PingReq);
}

#[test]
fn mqtt_3_1_3_5_client_id_too_long_decodes_so_only_a_broker_detects_it() {
    let Packet::Connect(connect) = decode_valid("client_id_too_long") else { panic!("not a CONNECT") };
    assert_eq!(connect.client_id.len(), 65_535);
}

#[test]
fn mqtt_3_2_2_17_topic_alias_above_maximum_decodes_so_only_a_broker_detects_it() {
    let Packet::Publish(publish) = decode_valid("topic_alias_above_maximum") else { panic!("not a PUBLISH") };
    assert_eq!(publish.properties.topic_alias, Some(u16::MAX));
}

#[test]
fn mqtt_3_3_4_6_publish_with_subscription_identifier_decodes_so_only_a_broker_detects_it() {
    let Packet::Publish(publish) = decode_valid("publish_with_subscription_identifier") else {
        panic!("not a PUBLISH")
    };
    assert_eq!(publish.properties.subscription_identifiers, [1]);
}

// The catalogue as a whole.

#[test]
fn catalogue_names_are_unique_and_every_case_cites_a_rule() {
    let cases = MalformedPacketGenerator::all();
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut names = HashSet::new();
    for case in &cases {
        assert!(names.insert(case.name), "{} appears twice", case.name);
        let numbered = case.normative.strip_prefix("MQTT-").is_some_and(|id| {
            let (section, counter) = id.rsplit_once('-').unwrap_or(("", ""));
            !section.is_empty()
                && section.split('.').all(|part| part.parse::<u8>().is_ok())
                && counter.parse::<u8>().is_ok()
        });
        let section = case
            .normative
            .strip_prefix('§')
            .is_some_and(|section| section.split('.').all(|part| part.parse::<u8>().is_ok()));
        assert!(numbered || section, "{}: malformed reference {:?}", case.name, case.normative);
        assert!(!case.summary.is_empty(), "{} has no summary", case.name);
        assert!(!case.bytes.is_empty(), "{} has no bytes", case.name);
        assert_eq!(case.prelude().is_some(), case.needs_connect, "{}", case.name);
        if case.version == ProtocolVersion::V311 {
            assert_eq!(case.reason, None, "{}: an MQTT 3.1.1 server sends no reason code", case.name);
        }
    }
    for seed in [
        "connect_reserved_flag",
        "subscribe_reserved_bits",
        "non_minimal_variable_length",
        "qos0_with_packet_id",
        "invalid_qos_both_bits",
        "incorrect_protocol_name",
        "second_connect",
        "invalid_protocol_version",
        "topic_alias_zero",
        "subscription_identifier_zero",
        "duplicate_topic_alias",
        "topic_with_wildcards",
        "empty_topic_name",
        "will_flag_without_payload",
        "client_id_too_long",
        "remaining_length_too_large",
    ] {
        assert!(names.contains(seed), "missing generator {seed}");
    }
}

#[test]
fn every_case_is_well_framed_except_where_framing_is_the_point() {
    // Each case breaks one rule: its Remaining Length must match its length unless the case
    // is about the Remaining Length.
    let about_framing =
        ["remaining_length_too_large", "non_minimal_variable_length", "remaining_length_five_bytes"];
    for case in MalformedPacketGenerator::all() {
        if about_framing.contains(&case.name) {
            continue;
        }
        let (remaining, len) = decode_var_int(&case.bytes[1..])
            .unwrap_or_else(|error| panic!("{}: {error}", case.name))
            .unwrap_or_else(|| panic!("{}: incomplete fixed header", case.name));
        assert_eq!(1 + len + remaining as usize, case.bytes.len(), "{}: Remaining Length is off", case.name);
    }
}

#[test]
fn every_codec_case_is_rejected_with_the_catalogued_reason_code() {
    for case in MalformedPacketGenerator::all().into_iter().filter(|case| case.detection == Detection::Codec)
    {
        let error = decoder_for(&case)
            .decode(&mut BytesMut::from(&case.bytes[..]))
            .expect_err(&format!("{} decoded without error", case.name));
        if let Some(reason) = case.reason {
            assert_eq!(error.reason_code(), reason, "{} ({}): {error}", case.name, case.normative);
        }
    }
}

#[test]
fn every_broker_case_decodes_as_one_valid_packet() {
    for case in MalformedPacketGenerator::all().into_iter().filter(|case| case.detection == Detection::Broker)
    {
        decode_valid(case.name);
    }
}

#[test]
fn valid_baselines_decode() {
    let mut decoder = Decoder::new(ProtocolVersion::V5);
    let decode = |decoder: &mut Decoder, bytes: Vec<u8>| {
        let mut buf = BytesMut::from(&bytes[..]);
        let packet = decoder.decode(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty());
        packet
    };
    let Packet::Connect(connect) = decode(&mut decoder, MalformedPacketGenerator::valid_connect()) else {
        panic!("not a CONNECT")
    };
    assert_eq!((connect.protocol_version, &connect.client_id[..]), (ProtocolVersion::V5, "mqttkit-test"));
    assert_eq!(decode(&mut decoder, MalformedPacketGenerator::valid_pingreq()), Packet::PingReq);
    assert_eq!(
        decode(&mut decoder, MalformedPacketGenerator::valid_publish()),
        Packet::Publish(Publish::new("test/topic", "hello", QoS::AtMostOnce))
    );
    assert!(matches!(
        decode(&mut decoder, MalformedPacketGenerator::valid_subscribe()),
        Packet::Subscribe(_)
    ));
    assert_eq!(
        decode(&mut decoder, MalformedPacketGenerator::valid_disconnect()),
        Packet::Disconnect(Disconnect::new(ReasonCode::Success))
    );
    let Packet::Connect(connect) = decode(&mut decoder, MalformedPacketGenerator::valid_connect_v311())
    else {
        panic!("not a CONNECT")
    };
    assert_eq!(connect.protocol_version, ProtocolVersion::V311);
}

#[test]
fn generators_are_byte_exact_where_documented() {
    let mut connect =
        vec![0x10, 0x19, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x0C];
    connect.extend_from_slice(b"mqttkit-test");
    assert_eq!(MalformedPacketGenerator::valid_connect(), connect);
    connect[0] = 0x11;
    assert_eq!(MalformedPacketGenerator::connect_reserved_flag(), connect);
    assert_eq!(MalformedPacketGenerator::pubrel_wrong_flags(), [0x60, 0x02, 0x00, 0x01]);
    assert_eq!(MalformedPacketGenerator::non_minimal_variable_length(), [0xC0, 0x80, 0x00]);
    assert_eq!(MalformedPacketGenerator::remaining_length_five_bytes(), [0xC0, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert_eq!(MalformedPacketGenerator::string_length_exceeds_packet(), [0x30, 0x03, 0x00, 0x0A, 0x61]);
    assert_eq!(MalformedPacketGenerator::subscribe_no_filters(), [0x82, 0x03, 0x00, 0x01, 0x00]);
    assert_eq!(MalformedPacketGenerator::unsubscribe_no_filters(), [0xA2, 0x03, 0x00, 0x01, 0x00]);
    assert_eq!(MalformedPacketGenerator::disconnect_invalid_reason_code(), [0xE0, 0x01, 0x03]);
    assert_eq!(MalformedPacketGenerator::auth_without_method(), [0xF0, 0x02, 0x18, 0x00]);
    assert_eq!(&MalformedPacketGenerator::remaining_length_too_large()[..5], [0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert_eq!(MalformedPacketGenerator::invalid_qos_both_bits()[0], 0x36);
    assert_eq!(MalformedPacketGenerator::dup_with_qos0()[0], 0x38);
    let topic_alias_zero = MalformedPacketGenerator::topic_alias_zero();
    assert_eq!(&topic_alias_zero[14..18], [0x03, 0x23, 0x00, 0x00]);
}

// ==========================================================================================
// RawPacketBuilder
// ==========================================================================================

fn pingreq() -> RawPacketBuilder {
    RawPacketBuilder::from_bytes([0xC0, 0x00])
}

#[test]
fn from_packet_encodes_a_valid_packet() {
    let builder = RawPacketBuilder::from_packet(&Packet::PingReq, ProtocolVersion::V5).unwrap();
    assert_eq!(builder.as_bytes(), [0xC0, 0x00]);

    let publish = Packet::Publish(Publish::new("a/b", "x", QoS::AtLeastOnce).with_packet_id(7));
    let builder = RawPacketBuilder::from_packet(&publish, ProtocolVersion::V311).unwrap();
    assert_eq!(builder.build(), [0x32, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, b'x']);
    assert_eq!(Packet::decode(builder.build().into(), ProtocolVersion::V311), Ok(publish));
}

#[test]
fn from_packet_refuses_what_the_encoder_refuses() {
    let auth = Packet::Auth(mqttkit::protocol::Auth::new(ReasonCode::ContinueAuthentication, "SCRAM", None));
    assert_eq!(
        RawPacketBuilder::from_packet(&auth, ProtocolVersion::V311),
        Err(ProtocolError::InvalidPacketType(15))
    );
}

#[test]
fn set_byte_replaces_one_byte() {
    assert_eq!(pingreq().set_byte(1, 0x05).as_bytes(), [0xC0, 0x05]);
}

#[test]
fn set_fixed_header_flags_and_packet_type_edit_their_nibble_only() {
    let mut builder = RawPacketBuilder::from_bytes(MalformedPacketGenerator::valid_publish());
    builder.set_fixed_header_flags(0b0110);
    assert_eq!(builder.as_bytes()[0], 0x36);
    builder.set_packet_type(15);
    assert_eq!(builder.as_bytes()[0], 0xF6);
    // Only the low nibble of the argument counts.
    builder.set_fixed_header_flags(0xF1).set_packet_type(0x1C);
    assert_eq!(builder.as_bytes()[0], 0xC1);
    assert_eq!(&builder.as_bytes()[1..], &MalformedPacketGenerator::valid_publish()[1..]);
}

#[test]
fn corrupt_remaining_length_writes_five_bytes() {
    let mut builder = pingreq();
    builder.corrupt_remaining_length();
    assert_eq!(builder.as_bytes(), [0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert_eq!(
        FixedHeader::parse(builder.as_bytes(), ProtocolVersion::V5),
        Err(ProtocolError::VarIntTooLong)
    );
    // The whole (now five-byte) field is replaced again, not just its first byte.
    builder.corrupt_remaining_length();
    assert_eq!(builder.as_bytes(), [0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);

    // A two-byte Remaining Length is replaced, the body kept.
    let mut body = vec![0x00, 0x01, b'a'];
    body.resize(200, b'x');
    let mut long = vec![0x30, 0xC8, 0x01];
    long.extend_from_slice(&body);
    let mut builder = RawPacketBuilder::from_bytes(long);
    builder.corrupt_remaining_length();
    assert_eq!(&builder.as_bytes()[..6], [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert_eq!(&builder.as_bytes()[6..], &body[..]);
}

#[test]
fn set_remaining_length_minimal_and_padded() {
    assert_eq!(pingreq().set_remaining_length(200, true).as_bytes(), [0xC0, 0xC8, 0x01]);
    assert_eq!(pingreq().set_remaining_length(0, false).as_bytes(), [0xC0, 0x80, 0x80, 0x80, 0x00]);
    assert_eq!(pingreq().set_remaining_length(5, false).as_bytes(), [0xC0, 0x85, 0x80, 0x80, 0x00]);
    assert_eq!(pingreq().set_remaining_length(268_435_455, true).as_bytes(), [0xC0, 0xFF, 0xFF, 0xFF, 0x7F]);
    // Above the maximum a fifth byte is needed.
    assert_eq!(
        pingreq().set_remaining_length(u32::MAX, true).as_bytes(),
        [0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
    );

    let non_minimal = pingreq().set_remaining_length(0, false).build();
    assert_eq!(FixedHeader::parse(&non_minimal, ProtocolVersion::V5), Err(ProtocolError::VarIntNotMinimal));
    // It replaces a corrupt field whole.
    assert_eq!(pingreq().corrupt_remaining_length().set_remaining_length(0, true).as_bytes(), [0xC0, 0x00]);
}

#[test]
fn update_remaining_length_matches_the_body() {
    let mut builder = pingreq();
    builder.append_bytes(&[0x00]).update_remaining_length();
    assert_eq!(builder.build(), MalformedPacketGenerator::pingreq_with_body());

    let mut builder = RawPacketBuilder::from_bytes(MalformedPacketGenerator::valid_publish());
    builder.append_bytes(&[b'!'; 200]).update_remaining_length();
    let Ok(Packet::Publish(publish)) = Packet::decode(builder.build().into(), ProtocolVersion::V5) else {
        panic!("not a valid PUBLISH")
    };
    assert_eq!(publish.payload.len(), 5 + 200);
    assert_eq!(builder.header_len(), 3);
}

#[test]
fn insert_remove_truncate_append() {
    assert_eq!(pingreq().insert_bytes(1, &[0xAA, 0xBB]).as_bytes(), [0xC0, 0xAA, 0xBB, 0x00]);
    assert_eq!(pingreq().insert_bytes(2, &[0xAA]).as_bytes(), [0xC0, 0x00, 0xAA]);
    assert_eq!(pingreq().insert_bytes(0, &[]).as_bytes(), [0xC0, 0x00]);
    let mut builder = RawPacketBuilder::from_bytes([1, 2, 3, 4, 5]);
    assert_eq!(builder.remove_bytes(1, 2).as_bytes(), [1, 4, 5]);
    assert_eq!(builder.truncate(2).as_bytes(), [1, 4]);
    assert_eq!(builder.append_bytes(&[9, 9]).as_bytes(), [1, 4, 9, 9]);
    assert_eq!((builder.len(), builder.is_empty()), (4, false));
}

#[test]
fn out_of_range_indices_are_clamped_not_panics() {
    assert_eq!(pingreq().set_byte(2, 0xFF).as_bytes(), [0xC0, 0x00]);
    assert_eq!(pingreq().set_byte(usize::MAX, 0xFF).as_bytes(), [0xC0, 0x00]);
    assert_eq!(pingreq().insert_bytes(usize::MAX, &[0xAA]).as_bytes(), [0xC0, 0x00, 0xAA]);
    assert_eq!(pingreq().remove_bytes(1, 10).as_bytes(), [0xC0]);
    assert_eq!(pingreq().remove_bytes(5, 1).as_bytes(), [0xC0, 0x00]);
    assert_eq!(pingreq().remove_bytes(1, usize::MAX).as_bytes(), [0xC0]);
    assert_eq!(pingreq().remove_bytes(usize::MAX, usize::MAX).as_bytes(), [0xC0, 0x00]);
    assert_eq!(pingreq().truncate(10).as_bytes(), [0xC0, 0x00]);

    // Every mutator on an empty buffer.
    let mut empty = RawPacketBuilder::from_bytes(Vec::new());
    empty
        .set_byte(0, 1)
        .set_fixed_header_flags(0x0F)
        .set_packet_type(3)
        .corrupt_remaining_length()
        .set_remaining_length(7, false)
        .update_remaining_length()
        .remove_bytes(0, 3)
        .truncate(0);
    assert!(empty.is_empty());
    assert_eq!(empty.header_len(), 0);

    // A lone first byte: the Remaining Length field is missing, and gets written.
    let mut lone = RawPacketBuilder::from_bytes([0xC0]);
    assert_eq!(lone.header_len(), 1);
    assert_eq!(lone.set_remaining_length(0, true).as_bytes(), [0xC0, 0x00]);
}

#[test]
fn builder_outputs_agree() {
    let mut builder = pingreq();
    builder.set_fixed_header_flags(1);
    let built = builder.build();
    assert_eq!(built, builder.as_bytes());
    assert_eq!(builder.as_ref(), &built[..]);
    assert_eq!(Vec::from(builder.clone()), built);
    assert_eq!(builder.into_bytes(), built);
}

/// One mutation with arbitrary arguments.
#[derive(Debug, Clone)]
enum Edit {
    SetByte(usize, u8),
    Flags(u8),
    Type(u8),
    Corrupt,
    Length(u32, bool),
    Update,
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
    Append(Vec<u8>),
}

fn edit() -> impl Strategy<Value = Edit> {
    let index = prop_oneof![0usize..16, Just(usize::MAX), any::<usize>()];
    prop_oneof![
        (index.clone(), any::<u8>()).prop_map(|(i, v)| Edit::SetByte(i, v)),
        any::<u8>().prop_map(Edit::Flags),
        any::<u8>().prop_map(Edit::Type),
        Just(Edit::Corrupt),
        (any::<u32>(), any::<bool>()).prop_map(|(v, m)| Edit::Length(v, m)),
        Just(Edit::Update),
        (index.clone(), prop::collection::vec(any::<u8>(), 0..4)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (index.clone(), prop_oneof![0usize..8, Just(usize::MAX)]).prop_map(|(i, n)| Edit::Remove(i, n)),
        index.prop_map(Edit::Truncate),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(Edit::Append),
    ]
}

proptest! {
    /// No sequence of edits, whatever its indices, panics; and the result never grows by
    /// more than what was inserted plus the length fields written.
    #[test]
    fn no_edit_sequence_panics(
        start in prop::collection::vec(any::<u8>(), 0..12),
        edits in prop::collection::vec(edit(), 0..12),
    ) {
        let mut builder = RawPacketBuilder::from_bytes(start.clone());
        let mut bound = start.len();
        for edit in edits {
            match edit {
                Edit::SetByte(i, v) => { builder.set_byte(i, v); }
                Edit::Flags(f) => { builder.set_fixed_header_flags(f); }
                Edit::Type(t) => { builder.set_packet_type(t); }
                Edit::Corrupt => { builder.corrupt_remaining_length(); bound += 5; }
                Edit::Length(v, m) => { builder.set_remaining_length(v, m); bound += 5; }
                Edit::Update => { builder.update_remaining_length(); bound += 5; }
                Edit::Insert(i, b) => { bound += b.len(); builder.insert_bytes(i, &b); }
                Edit::Remove(i, n) => { builder.remove_bytes(i, n); }
                Edit::Truncate(n) => { builder.truncate(n); }
                Edit::Append(b) => { bound += b.len(); builder.append_bytes(&b); }
            }
            prop_assert!(builder.len() <= bound);
            prop_assert!(builder.header_len() <= builder.len());
        }
    }
}

// ==========================================================================================
// RawTestClient against in-test servers
// ==========================================================================================

/// Starts a server on 127.0.0.1 that hands its first connection to `handler`. The task ends
/// when the handler returns; tests await it (or abort it) before they end.
async fn serve_one<F, Fut>(handler: F) -> (SocketAddr, JoinHandle<()>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        handler(stream).await;
    });
    (addr, task)
}

/// Waits for a server task to finish (it must, once the client is gone).
async fn finished(server: JoinHandle<()>) {
    tokio::time::timeout(PROMPT, server)
        .await
        .expect("server task did not end")
        .expect("server task panicked");
}

/// Reads and discards until the client closes.
async fn drain(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Sends `bytes`, then closes without resetting the connection: shut down the sending side,
/// then read until the client closes, so that unread client bytes cannot turn the close
/// into a reset that would discard `bytes` before the client reads them.
async fn send_and_close(mut stream: TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap();
    let _ = stream.shutdown().await;
    drain(&mut stream).await;
}

async fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        if stream.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

#[tokio::test]
async fn echo_server_send_and_receive() {
    let (addr, server) = serve_one(echo).await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    assert_eq!(client.peer_addr().unwrap(), addr);
    assert!(client.local_addr().unwrap().ip().is_loopback());

    let bytes = MalformedPacketGenerator::connect_reserved_flag();
    let mut echoed = client.send_and_receive(&bytes, PROMPT).await.unwrap();
    while echoed.len() < bytes.len() {
        echoed.extend(client.receive_raw(PROMPT).await.unwrap());
    }
    assert_eq!(echoed, bytes);

    client.close().await.unwrap();
    finished(server).await;
}

#[tokio::test]
async fn receive_packet_decodes_and_keeps_what_follows() {
    let (addr, server) = serve_one(echo).await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    // Two packets and three stray bytes in one write.
    let mut bytes = MalformedPacketGenerator::valid_pingreq();
    bytes.extend(MalformedPacketGenerator::valid_publish());
    bytes.extend([0xD0, 0x00, 0xFF]);
    client.send_raw(&bytes).await.unwrap();

    assert_eq!(client.receive_packet(ProtocolVersion::V5, PROMPT).await.unwrap(), Packet::PingReq);
    let publish = client.receive_packet(ProtocolVersion::V5, PROMPT).await.unwrap();
    assert_eq!(publish, Packet::Publish(Publish::new("test/topic", "hello", QoS::AtMostOnce)));
    assert_eq!(client.receive_packet(ProtocolVersion::V5, PROMPT).await.unwrap(), Packet::PingResp);
    let mut rest = client.receive_raw(PROMPT).await.unwrap();
    assert_eq!(rest, [0xFF]);

    // A decode error names the codec's error.
    client.send_raw(MalformedPacketGenerator::invalid_qos_both_bits()).await.unwrap();
    let error = client.receive_packet(ProtocolVersion::V5, PROMPT).await.unwrap_err();
    assert!(matches!(error, RawClientError::Decode(ProtocolError::InvalidQos("PUBLISH"))), "{error}");
    rest.clear();

    client.close().await.unwrap();
    finished(server).await;
}

#[tokio::test]
async fn receive_packet_assembles_a_packet_split_across_reads() {
    let publish = MalformedPacketGenerator::valid_publish();
    let (first, second) = publish.split_at(7);
    let (first, second) = (first.to_vec(), second.to_vec());
    let (addr, server) = serve_one(move |mut stream| async move {
        // PINGRESP and half a PUBLISH; the other half only once the client asks for it, so
        // the client must have buffered the first half.
        let mut head = vec![0xD0, 0x00];
        head.extend_from_slice(&first);
        stream.write_all(&head).await.unwrap();
        let mut go = [0u8; 1];
        stream.read_exact(&mut go).await.unwrap();
        stream.write_all(&second).await.unwrap();
        drain(&mut stream).await;
    })
    .await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    assert_eq!(client.receive_packet(ProtocolVersion::V5, PROMPT).await.unwrap(), Packet::PingResp);
    client.send_raw([0x01]).await.unwrap();
    let packet = client.receive_packet(ProtocolVersion::V5, PROMPT).await.unwrap();
    assert_eq!(packet, Packet::Publish(Publish::new("test/topic", "hello", QoS::AtMostOnce)));

    client.close().await.unwrap();
    finished(server).await;
}

#[tokio::test]
async fn server_that_closes_at_once() {
    let (addr, server) = serve_one(|stream| async move { drop(stream) }).await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    finished(server).await;

    assert_eq!(client.expect_disconnect(PROMPT).await.unwrap(), None);
    assert!(matches!(client.receive_raw(PROMPT).await, Err(RawClientError::ClosedByPeer)));
    assert!(matches!(
        client.receive_packet(ProtocolVersion::V5, PROMPT).await,
        Err(RawClientError::ClosedByPeer)
    ));
    // Writing to a closed connection may fail with a reset: still the expected disconnect.
    let reason =
        client.send_expect_disconnect(MalformedPacketGenerator::valid_pingreq(), PROMPT).await.unwrap();
    assert_eq!(reason, None);
    client.close().await.unwrap();
}

#[tokio::test]
async fn send_expect_disconnect_to_a_server_that_closes_at_once() {
    let (addr, server) = serve_one(|stream| async move { drop(stream) }).await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    let bytes = MalformedPacketGenerator::connect_reserved_flag();
    assert_eq!(client.send_expect_disconnect(bytes, PROMPT).await.unwrap(), None);
    finished(server).await;
}

#[tokio::test]
async fn server_that_sends_disconnect_malformed_then_closes() {
    let (addr, server) = serve_one(|mut stream| async move {
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).await.unwrap();
        send_and_close(stream, &[0xE0, 0x01, 0x81]).await;
    })
    .await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    let reason =
        client.send_expect_disconnect(MalformedPacketGenerator::connect_reserved_flag(), PROMPT).await;
    assert_eq!(reason.unwrap(), Some(ReasonCode::MalformedPacket));
    client.close().await.unwrap();
    finished(server).await;
}

#[tokio::test]
async fn expect_disconnect_reports_the_connack_reason_code() {
    // MQTT 5 CONNACK 0x84 (Unsupported Protocol Version).
    let (addr, server) = serve_one(|stream| send_and_close(stream, &[0x20, 0x03, 0x00, 0x84, 0x00])).await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    assert_eq!(client.expect_disconnect(PROMPT).await.unwrap(), Some(ReasonCode::UnsupportedProtocolVersion));
    client.close().await.unwrap();
    finished(server).await;

    // MQTT 3.1.1 CONNACK return code 1 comes back as its MQTT 5 equivalent.
    let (addr, server) = serve_one(|stream| send_and_close(stream, &[0x20, 0x02, 0x00, 0x01])).await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    client.set_protocol_version(ProtocolVersion::V311);
    assert_eq!(client.protocol_version(), ProtocolVersion::V311);
    assert_eq!(client.expect_disconnect(PROMPT).await.unwrap(), Some(ReasonCode::UnsupportedProtocolVersion));
    client.close().await.unwrap();
    finished(server).await;
}

#[tokio::test]
async fn silent_server_makes_every_wait_time_out() {
    let (addr, server) = serve_one(|mut stream| async move { drain(&mut stream).await }).await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    client.send_raw(MalformedPacketGenerator::valid_connect()).await.unwrap();

    match client.receive_raw(SHORT).await {
        Err(RawClientError::Timeout { waited, waiting_for: "data" }) => assert_eq!(waited, SHORT),
        other => panic!("expected a timeout, got {other:?}"),
    }
    match client.receive_packet(ProtocolVersion::V5, SHORT).await {
        Err(RawClientError::Timeout { waited, waiting_for: "a complete packet" }) => {
            assert_eq!(waited, SHORT)
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    match client.expect_disconnect(SHORT).await {
        Err(RawClientError::NotDisconnected { waited, received }) => {
            assert_eq!(waited, SHORT);
            assert!(received.is_empty());
        }
        other => panic!("expected NotDisconnected, got {other:?}"),
    }
    // A zero timeout still times out cleanly, and an enormous one does not overflow.
    assert!(matches!(client.receive_raw(Duration::ZERO).await, Err(RawClientError::Timeout { .. })));
    assert!(tokio::time::timeout(SHORT, client.receive_raw(Duration::MAX)).await.is_err());
    client.close().await.unwrap();
    finished(server).await;
}

#[tokio::test]
async fn expect_disconnect_returns_what_a_server_said_instead_of_closing() {
    let (addr, server) = serve_one(|mut stream| async move {
        stream.write_all(&[0xD0, 0x00]).await.unwrap();
        drain(&mut stream).await;
    })
    .await;
    let mut client = RawTestClient::connect(addr).await.unwrap();
    let error = client.expect_disconnect(SHORT).await.unwrap_err();
    assert!(
        matches!(&error, RawClientError::NotDisconnected { received, .. } if received == &[0xD0, 0x00]),
        "{error}"
    );
    assert!(error.to_string().contains("2 bytes received"), "{error}");
    client.close().await.unwrap();
    finished(server).await;
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_an_io_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    assert!(matches!(RawTestClient::connect(addr).await, Err(RawClientError::Io(_))));
}

// ==========================================================================================
// The whole catalogue against a small broker built on mqttkit's decoder
// ==========================================================================================

/// What the mini broker does with a decoded packet.
enum Action {
    /// Send this packet and go on.
    Answer(Packet),
    /// Nothing to send; go on.
    Continue,
    /// The packet breaks a rule: send this packet, if any, then close.
    Refuse(Option<Packet>),
}

/// The rules of a minimal MQTT 5 broker that announces no Topic Alias Maximum and accepts
/// client identifiers of up to 23 bytes.
fn handle(packet: Packet, connected: bool) -> Action {
    let disconnect = |reason| Action::Refuse(Some(Packet::Disconnect(Disconnect::new(reason))));
    match packet {
        Packet::Connect(_) if connected => disconnect(ReasonCode::ProtocolError),
        Packet::Connect(connect) if connect.client_id.len() > 23 => {
            Action::Refuse(Some(Packet::ConnAck(ConnAck::new(ReasonCode::ClientIdentifierNotValid, false))))
        }
        Packet::Connect(_) => Action::Answer(Packet::ConnAck(ConnAck::new(ReasonCode::Success, false))),
        _ if !connected => Action::Refuse(None),
        Packet::Publish(publish) if !publish.properties.subscription_identifiers.is_empty() => {
            disconnect(ReasonCode::ProtocolError)
        }
        Packet::Publish(publish) if publish.properties.topic_alias.is_some() => {
            disconnect(ReasonCode::TopicAliasInvalid)
        }
        Packet::PingReq => Action::Answer(Packet::PingResp),
        _ => Action::Continue,
    }
}

async fn write_packet(stream: &mut TcpStream, packet: &Packet) {
    let mut out = BytesMut::new();
    packet.encode(ProtocolVersion::V5, &mut out).unwrap();
    stream.write_all(&out).await.unwrap();
}

/// One connection of the mini broker: decode, answer, and on the first error send the
/// codec's reason code (CONNACK before the connection is accepted, DISCONNECT after) and close.
async fn mini_broker_connection(mut stream: TcpStream) {
    let mut decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(1 << 20);
    let mut buf = BytesMut::new();
    let mut connected = false;
    let refusal = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(packet)) => match handle(packet, connected) {
                Action::Answer(answer) => {
                    connected |= matches!(answer, Packet::ConnAck(_));
                    write_packet(&mut stream, &answer).await;
                }
                Action::Continue => {}
                Action::Refuse(refusal) => break refusal,
            },
            Ok(None) => match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            Err(error) if connected => break Some(Packet::Disconnect(Disconnect::new(error.reason_code()))),
            Err(error) => break Some(Packet::ConnAck(ConnAck::new(error.reason_code(), false))),
        }
    };
    if let Some(packet) = refusal {
        write_packet(&mut stream, &packet).await;
    }
    let _ = stream.shutdown().await;
    drain(&mut stream).await;
}

#[tokio::test]
async fn every_mqtt5_case_against_a_decoder_backed_broker() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            mini_broker_connection(stream).await;
        }
    });

    let cases =
        MalformedPacketGenerator::all().into_iter().filter(|case| case.version == ProtocolVersion::V5);
    for case in cases {
        let mut client = RawTestClient::connect(addr).await.unwrap();
        if let Some(connect) = case.prelude() {
            client.send_raw(connect).await.unwrap();
            let connack = client.receive_packet(ProtocolVersion::V5, PROMPT).await.unwrap();
            assert_eq!(connack, Packet::ConnAck(ConnAck::new(ReasonCode::Success, false)), "{}", case.name);
        }
        let reason = client
            .send_expect_disconnect(&case.bytes, PROMPT)
            .await
            .unwrap_or_else(|error| panic!("{} ({}): {error}", case.name, case.normative));
        assert_eq!(reason, case.reason, "{} ({})", case.name, case.normative);
        client.close().await.unwrap();
    }

    broker.abort();
    assert!(broker.await.unwrap_err().is_cancelled());
}
