//! One test per normative statement the codec enforces, named after it: `mqtt_X_Y_Z_N_...`
//! for the MQTT 5.0 statement `[MQTT-X.Y.Z-N]`, `mqtt311_...` for an MQTT 3.1.1 one. Rules
//! the specifications state without an identifier are named after their section
//! (`section_X_Y_...`, MQTT 5.0 numbering). Each test asserts the exact [`ProtocolError`]
//! and the reason code a receiver answers with, and, where the rule binds senders too,
//! that the encoder refuses to write the packet.

use ProtocolVersion::{V5, V311};
use bytes::{Bytes, BytesMut};
use mqttkit::protocol::{
    Auth, ConnAck, Connect, Decoder, FixedHeader, Packet, PacketType, PayloadFormat, PropertyContext,
    PropertyId, ProtocolError, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode,
    SubAck, Subscribe, Subscription, SubscriptionOptions, TopicError, UnsubAck, Unsubscribe, Will,
    decode_var_int,
};

// ---- helpers ----

/// Packet bytes, built field by field.
#[derive(Default, Clone)]
struct Body(Vec<u8>);

impl Body {
    fn new() -> Self {
        Body::default()
    }
    fn u8(mut self, value: u8) -> Self {
        self.0.push(value);
        self
    }
    fn u16(mut self, value: u16) -> Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    /// A length-prefixed string or binary field.
    fn str(self, bytes: &[u8]) -> Self {
        self.u16(bytes.len() as u16).raw(bytes)
    }
    /// A property block: Variable Byte Integer length, then `block`.
    fn props(self, block: &[u8]) -> Self {
        let len = var_int(block.len());
        self.raw(&len).raw(block)
    }
    /// The whole packet: `first`, the Remaining Length, this body.
    fn frame(self, first: u8) -> Vec<u8> {
        let mut frame = vec![first];
        frame.extend(var_int(self.0.len()));
        frame.extend(self.0);
        frame
    }
}

fn var_int(mut value: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        if value == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}

/// The start of a CONNECT body: protocol name, `level`, `flags`, keep alive 60.
fn connect_header(level: u8, flags: u8) -> Body {
    Body::new().str(b"MQTT").u8(level).u8(flags).u16(60)
}

/// A QoS 0 PUBLISH to `topic` with these MQTT 5 properties and payload.
fn publish_v5(topic: &[u8], block: &[u8], payload: &[u8]) -> Vec<u8> {
    Body::new().str(topic).props(block).raw(payload).frame(0x30)
}

/// A SUBSCRIBE (packet id 1) of one filter with these options.
fn subscribe(version: ProtocolVersion, filter: &[u8], options: u8) -> Vec<u8> {
    let body = Body::new().u16(1);
    let body = if version == V5 { body.props(&[]) } else { body };
    body.str(filter).u8(options).frame(0x82)
}

/// An UNSUBSCRIBE (packet id 1) of one filter.
fn unsubscribe(version: ProtocolVersion, filter: &[u8]) -> Vec<u8> {
    let body = Body::new().u16(1);
    let body = if version == V5 { body.props(&[]) } else { body };
    body.str(filter).frame(0xA2)
}

/// `bytes` are rejected with `error`, answered with `reason`, by `Packet::decode` and by the
/// streaming decoder alike.
#[track_caller]
fn rejects(version: ProtocolVersion, bytes: &[u8], error: ProtocolError, reason: ReasonCode) {
    assert_eq!(Packet::decode(Bytes::copy_from_slice(bytes), version), Err(error.clone()), "{bytes:02X?}");
    let mut buf = BytesMut::from(bytes);
    assert_eq!(Decoder::new(version).decode(&mut buf), Err(error.clone()), "{bytes:02X?} (streaming)");
    assert_eq!(error.reason_code(), reason, "reason code for {error:?}");
}

/// Like [`rejects`] when the error carries a field name: compares the variant only.
#[track_caller]
fn rejects_like(
    version: ProtocolVersion,
    bytes: &[u8],
    matches: fn(&ProtocolError) -> bool,
    reason: ReasonCode,
) -> ProtocolError {
    let error = Packet::decode(Bytes::copy_from_slice(bytes), version).expect_err("must be rejected");
    assert!(matches(&error), "unexpected {error:?} for {bytes:02X?}");
    let mut buf = BytesMut::from(bytes);
    assert_eq!(Decoder::new(version).decode(&mut buf), Err(error.clone()));
    assert_eq!(error.reason_code(), reason, "reason code for {error:?}");
    error
}

#[track_caller]
fn accepts(version: ProtocolVersion, bytes: &[u8]) -> Packet {
    Packet::decode(Bytes::copy_from_slice(bytes), version)
        .unwrap_or_else(|e| panic!("{bytes:02X?} must decode: {e}"))
}

/// The encoder refuses `packet` with `error` and leaves the buffer as it was.
#[track_caller]
fn refuses(version: ProtocolVersion, packet: Packet, error: ProtocolError) {
    let mut buf = BytesMut::from(&b"before"[..]);
    assert_eq!(packet.encode(version, &mut buf), Err(error.clone()), "encoding {packet:?}");
    assert_eq!(&buf[..], b"before", "a refused encoding appended bytes");
    assert_eq!(packet.encoded_len(version), Err(error));
}

fn publish(topic: &str, qos: QoS) -> Publish {
    let publish = Publish::new(topic, "", qos);
    if qos == QoS::AtMostOnce { publish } else { publish.with_packet_id(1) }
}

// ---- 1.5 Data representation ----

const ILL_FORMED_UTF8: &[&[u8]] = &[
    &[0xFF],                         // never valid
    &[0x80],                         // lone continuation byte
    &[0xC3],                         // truncated two-byte sequence
    &[b'a', 0xE2, 0x82],             // truncated three-byte sequence
    &[0xC0, 0x80],                   // overlong U+0000
    &[0xE0, 0x80, 0xAF],             // overlong '/'
    &[0xF4, 0x90, 0x80, 0x80],       // beyond U+10FFFF
    &[0xF8, 0x88, 0x80, 0x80, 0x80], // five-byte form
];

#[test]
fn mqtt_1_5_4_1_ill_formed_utf8_is_malformed() {
    for bad in ILL_FORMED_UTF8 {
        for version in [V311, V5] {
            let bytes = match version {
                V5 => publish_v5(bad, &[], b""),
                V311 => Body::new().str(bad).frame(0x30),
            };
            rejects(version, &bytes, ProtocolError::InvalidUtf8("topic name"), ReasonCode::MalformedPacket);
        }
        let bytes = connect_header(5, 0x02).props(&[]).str(bad).frame(0x10);
        let error = ProtocolError::InvalidUtf8("client identifier");
        rejects(V5, &bytes, error, ReasonCode::MalformedPacket);
    }
}

#[test]
fn mqtt_1_5_4_1_encoded_surrogates_are_malformed() {
    let surrogates: [&[u8]; 4] = [
        &[0xED, 0xA0, 0x80],                   // U+D800
        &[0xED, 0xBF, 0xBF],                   // U+DFFF
        &[0xED, 0xAD, 0xBF],                   // U+DB7F
        &[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80], // a surrogate pair (CESU-8 for U+1F600)
    ];
    for bad in surrogates {
        rejects(
            V5,
            &publish_v5(bad, &[], b""),
            ProtocolError::InvalidUtf8("topic name"),
            ReasonCode::MalformedPacket,
        );
        let block = Body::new().u8(0x1F).str(bad).0;
        let bytes = Body::new().u16(1).u8(0x80).props(&block).frame(0x40);
        rejects(V5, &bytes, ProtocolError::InvalidUtf8("Reason String"), ReasonCode::MalformedPacket);
    }
}

#[test]
fn mqtt_1_5_4_2_null_character_is_malformed() {
    rejects(
        V5,
        &publish_v5(b"a\0b", &[], b""),
        ProtocolError::NullCharacter("topic name"),
        ReasonCode::MalformedPacket,
    );
    let bytes = Body::new().str(b"\0").frame(0x30);
    rejects(V311, &bytes, ProtocolError::NullCharacter("topic name"), ReasonCode::MalformedPacket);
    let bytes = connect_header(5, 0x82).props(&[]).str(b"c").str(b"us\0er").frame(0x10);
    rejects(V5, &bytes, ProtocolError::NullCharacter("user name"), ReasonCode::MalformedPacket);
    let block = Body::new().u8(0x03).str(b"text/\0").0;
    let bytes = publish_v5(b"t", &block, b"");
    rejects(V5, &bytes, ProtocolError::NullCharacter("Content Type"), ReasonCode::MalformedPacket);

    // The encoder never writes U+0000 either.
    let connect = Connect { username: Some("a\0".into()), ..Connect::new("c") };
    refuses(V5, Packet::Connect(Box::new(connect)), ProtocolError::NullCharacter("user name"));
    let connect = Connect::new("\0");
    refuses(V311, Packet::Connect(Box::new(connect)), ProtocolError::NullCharacter("client identifier"));
}

#[test]
fn mqtt_1_5_4_3_byte_order_mark_is_not_stripped() {
    let bytes = publish_v5(&[0xEF, 0xBB, 0xBF, b'a'], &[], b"");
    match accepts(V5, &bytes) {
        Packet::Publish(publish) => assert_eq!(&publish.topic[..], "\u{FEFF}a"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mqtt_1_5_5_1_non_minimal_var_int_rejected() {
    for bytes in [&[0x80, 0x00][..], &[0xFF, 0x00], &[0x80, 0x80, 0x00], &[0x81, 0x80, 0x80, 0x00]] {
        assert_eq!(decode_var_int(bytes), Err(ProtocolError::VarIntNotMinimal), "{bytes:02X?}");
    }
    // Remaining Length 0 in two bytes, then in three.
    rejects(V5, &[0xC0, 0x80, 0x00], ProtocolError::VarIntNotMinimal, ReasonCode::MalformedPacket);
    rejects(V311, &[0xD0, 0x80, 0x80, 0x00], ProtocolError::VarIntNotMinimal, ReasonCode::MalformedPacket);
    // Property Length 0 in two bytes.
    let bytes = Body::new().str(b"t").raw(&[0x80, 0x00]).frame(0x30);
    rejects(V5, &bytes, ProtocolError::VarIntNotMinimal, ReasonCode::MalformedPacket);
    // Subscription Identifier 1 in two bytes.
    let bytes = publish_v5(b"t", &[0x0B, 0x81, 0x00], b"");
    rejects(V5, &bytes, ProtocolError::VarIntNotMinimal, ReasonCode::MalformedPacket);
    // Property identifier 0x01 in two bytes.
    let bytes = publish_v5(b"t", &[0x81, 0x00, 0x00], b"");
    rejects(V5, &bytes, ProtocolError::VarIntNotMinimal, ReasonCode::MalformedPacket);
}

#[test]
fn section_1_5_5_var_int_of_five_bytes_is_malformed() {
    assert_eq!(decode_var_int(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), Err(ProtocolError::VarIntTooLong));
    assert_eq!(decode_var_int(&[0x80, 0x80, 0x80, 0x80]), Err(ProtocolError::VarIntTooLong));
    assert_eq!(decode_var_int(&[0x80, 0x80, 0x80]), Ok(None));
    for version in [V311, V5] {
        rejects(
            version,
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            ProtocolError::VarIntTooLong,
            ReasonCode::MalformedPacket,
        );
        // The streaming decoder does not wait for a fifth byte to know.
        let mut buf = BytesMut::from(&[0x30, 0x80, 0x80, 0x80, 0x80][..]);
        assert_eq!(Decoder::new(version).decode(&mut buf), Err(ProtocolError::VarIntTooLong));
    }
    let bytes = Body::new().str(b"t").raw(&[0x80, 0x80, 0x80, 0x80, 0x01]).frame(0x30);
    rejects(V5, &bytes, ProtocolError::VarIntTooLong, ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_1_5_7_1_user_property_strings_must_be_well_formed() {
    let block = Body::new().u8(0x26).str(b"name").str(&[0xC3, 0x28]).0;
    let bytes = publish_v5(b"t", &block, b"");
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("User Property"), ReasonCode::MalformedPacket);
    let block = Body::new().u8(0x26).str(b"n\0").str(b"v").0;
    let bytes = Body::new().u8(0x00).props(&block).frame(0xE0);
    rejects(V5, &bytes, ProtocolError::NullCharacter("User Property"), ReasonCode::MalformedPacket);
    let mut ack = PubAck::new(1);
    ack.properties.user_properties.push(("k".into(), "v\0".into()));
    refuses(V5, Packet::PubAck(ack), ProtocolError::NullCharacter("User Property value"));
}

// ---- 2 Control packet format ----

const ALL_TYPES: [PacketType; 15] = [
    PacketType::Connect,
    PacketType::ConnAck,
    PacketType::Publish,
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
    PacketType::Subscribe,
    PacketType::SubAck,
    PacketType::Unsubscribe,
    PacketType::UnsubAck,
    PacketType::PingReq,
    PacketType::PingResp,
    PacketType::Disconnect,
    PacketType::Auth,
];

/// Every wrong flag value of `packet` is rejected from the first byte alone.
#[track_caller]
fn assert_reserved_flags(version: ProtocolVersion, packet: PacketType, required: u8) {
    assert_eq!(packet.required_flags(), Some(required));
    for flags in (0u8..16).filter(|flags| *flags != required) {
        let first = ((packet as u8) << 4) | flags;
        let error = ProtocolError::InvalidHeaderFlags { packet, flags };
        assert_eq!(FixedHeader::parse(&[first], version), Err(error.clone()), "{first:#04X}");
        rejects(version, &[first, 0x00], error, ReasonCode::MalformedPacket);
    }
}

#[test]
fn mqtt_2_1_3_1_reserved_flags() {
    for packet in ALL_TYPES.into_iter().filter(|p| *p != PacketType::Publish) {
        let required = match packet {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        };
        assert_reserved_flags(V5, packet, required);
    }
}

#[test]
fn mqtt311_2_2_2_1_and_2_reserved_flags() {
    for packet in ALL_TYPES.into_iter().filter(|p| !matches!(p, PacketType::Publish | PacketType::Auth)) {
        let required = match packet {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        };
        assert_reserved_flags(V311, packet, required);
    }
}

#[test]
fn mqtt_3_6_1_1_pubrel_flags_are_0010() {
    assert_reserved_flags(V5, PacketType::PubRel, 0b0010);
    assert_reserved_flags(V311, PacketType::PubRel, 0b0010);
}

#[test]
fn mqtt_3_8_1_1_subscribe_flags_are_0010() {
    assert_reserved_flags(V5, PacketType::Subscribe, 0b0010);
    assert_reserved_flags(V311, PacketType::Subscribe, 0b0010);
}

#[test]
fn mqtt_3_10_1_1_unsubscribe_flags_are_0010() {
    assert_reserved_flags(V5, PacketType::Unsubscribe, 0b0010);
    assert_reserved_flags(V311, PacketType::Unsubscribe, 0b0010);
}

#[test]
fn mqtt_3_14_1_1_disconnect_flags_are_0000() {
    assert_reserved_flags(V5, PacketType::Disconnect, 0);
    assert_reserved_flags(V311, PacketType::Disconnect, 0);
}

#[test]
fn mqtt_3_15_1_1_auth_flags_are_0000() {
    assert_reserved_flags(V5, PacketType::Auth, 0);
}

#[test]
fn section_2_1_2_packet_type_0_is_reserved() {
    for version in [V311, V5] {
        for first in [0x00, 0x02, 0x0F] {
            rejects(
                version,
                &[first, 0x00],
                ProtocolError::InvalidPacketType(0),
                ReasonCode::MalformedPacket,
            );
        }
    }
}

#[test]
fn mqtt311_auth_packet_type_15_is_forbidden() {
    rejects(V311, &[0xF0, 0x00], ProtocolError::InvalidPacketType(15), ReasonCode::MalformedPacket);
    assert_eq!(FixedHeader::parse(&[0xF0], V311), Err(ProtocolError::InvalidPacketType(15)));
    refuses(V311, Packet::Auth(Auth::default()), ProtocolError::InvalidPacketType(15));
}

#[test]
fn mqtt_2_2_1_2_qos_0_publish_has_no_packet_identifier() {
    // The two bytes after the topic are the property length and the payload, not an id.
    let packet = accepts(V5, &publish_v5(b"t", &[], b"\x00\x07"));
    assert_eq!(packet, Packet::Publish(Publish::new("t", &b"\x00\x07"[..], QoS::AtMostOnce)));
    let mut buf = BytesMut::new();
    Packet::Publish(Publish::new("t", "", QoS::AtMostOnce).with_packet_id(9)).encode(V5, &mut buf).unwrap();
    assert_eq!(&buf[..], &[0x30, 0x04, 0x00, 0x01, b't', 0x00]);
}

#[test]
fn mqtt_2_2_1_3_packet_identifier_is_not_zero() {
    for (first, qos) in [(0x32, QoS::AtLeastOnce), (0x34, QoS::ExactlyOnce)] {
        let bytes = Body::new().str(b"t").u16(0).props(&[]).frame(first);
        rejects(V5, &bytes, ProtocolError::ZeroPacketId(PacketType::Publish), ReasonCode::ProtocolError);
        refuses(
            V5,
            Packet::Publish(Publish::new("t", "", qos)),
            ProtocolError::ZeroPacketId(PacketType::Publish),
        );
    }
    let bytes = Body::new().u16(0).props(&[]).str(b"a").u8(0).frame(0x82);
    rejects(V5, &bytes, ProtocolError::ZeroPacketId(PacketType::Subscribe), ReasonCode::ProtocolError);
    let bytes = Body::new().u16(0).props(&[]).str(b"a").frame(0xA2);
    rejects(V5, &bytes, ProtocolError::ZeroPacketId(PacketType::Unsubscribe), ReasonCode::ProtocolError);
    let packet = Packet::Subscribe(Subscribe::new(0, vec![Subscription::new("a", QoS::AtMostOnce)]));
    refuses(V5, packet, ProtocolError::ZeroPacketId(PacketType::Subscribe));
    let packet = Packet::Unsubscribe(Unsubscribe::new(0, vec!["a".into()]));
    refuses(V5, packet, ProtocolError::ZeroPacketId(PacketType::Unsubscribe));
}

#[test]
fn mqtt311_2_3_1_1_packet_identifier_is_not_zero() {
    let bytes = Body::new().str(b"t").u16(0).frame(0x32);
    rejects(V311, &bytes, ProtocolError::ZeroPacketId(PacketType::Publish), ReasonCode::ProtocolError);
    let bytes = Body::new().u16(0).str(b"a").u8(0).frame(0x82);
    rejects(V311, &bytes, ProtocolError::ZeroPacketId(PacketType::Subscribe), ReasonCode::ProtocolError);
    let bytes = Body::new().u16(0).str(b"a").frame(0xA2);
    rejects(V311, &bytes, ProtocolError::ZeroPacketId(PacketType::Unsubscribe), ReasonCode::ProtocolError);
    let packet = Packet::Publish(Publish::new("t", "", QoS::AtLeastOnce));
    refuses(V311, packet, ProtocolError::ZeroPacketId(PacketType::Publish));
}

#[test]
fn mqtt_2_2_2_1_property_length_is_present_even_when_zero() {
    // An MQTT 5 CONNACK without its Property Length.
    rejects(
        V5,
        &[0x20, 0x02, 0x00, 0x00],
        ProtocolError::UnexpectedEnd("property length"),
        ReasonCode::MalformedPacket,
    );
    let mut buf = BytesMut::new();
    Packet::Subscribe(Subscribe::new(1, vec![Subscription::new("a", QoS::AtMostOnce)]))
        .encode(V5, &mut buf)
        .unwrap();
    assert_eq!(&buf[..], &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00]);
}

// ---- 2.2.2.2 Properties: where each may appear, and how often ----

const CONTEXTS: [PropertyContext; 14] = [
    PropertyContext::Packet(PacketType::Connect),
    PropertyContext::Will,
    PropertyContext::Packet(PacketType::ConnAck),
    PropertyContext::Packet(PacketType::Publish),
    PropertyContext::Packet(PacketType::PubAck),
    PropertyContext::Packet(PacketType::PubRec),
    PropertyContext::Packet(PacketType::PubRel),
    PropertyContext::Packet(PacketType::PubComp),
    PropertyContext::Packet(PacketType::Subscribe),
    PropertyContext::Packet(PacketType::SubAck),
    PropertyContext::Packet(PacketType::Unsubscribe),
    PropertyContext::Packet(PacketType::UnsubAck),
    PropertyContext::Packet(PacketType::Disconnect),
    PropertyContext::Packet(PacketType::Auth),
];

/// A valid encoding of property `id` (identifier and value).
fn property(id: PropertyId) -> Vec<u8> {
    use PropertyId::*;
    let value = match id {
        PayloadFormatIndicator
        | RequestProblemInformation
        | RequestResponseInformation
        | MaximumQos
        | RetainAvailable
        | WildcardSubscriptionAvailable
        | SubscriptionIdentifierAvailable
        | SharedSubscriptionAvailable => Body::new().u8(1),
        MessageExpiryInterval | SessionExpiryInterval | WillDelayInterval | MaximumPacketSize => {
            Body::new().raw(&[0x00, 0x00, 0x01, 0x00])
        }
        ServerKeepAlive | ReceiveMaximum | TopicAliasMaximum | TopicAlias => Body::new().u16(10),
        SubscriptionIdentifier => Body::new().raw(&[0x81, 0x01]),
        CorrelationData | AuthenticationData => Body::new().str(&[0xAB, 0x00]),
        ResponseTopic => Body::new().str(b"re/sponse"),
        ContentType
        | AssignedClientIdentifier
        | AuthenticationMethod
        | ResponseInformation
        | ServerReference
        | ReasonString => Body::new().str(b"text"),
        UserProperty => Body::new().str(b"name").str(b"value"),
    };
    let mut bytes = vec![id as u8];
    bytes.extend(value.0);
    bytes
}

/// Properties a packet needs alongside `id` to be valid: an Authentication Method for AUTH
/// and for Authentication Data.
fn companions(id: PropertyId, context: PropertyContext) -> Vec<u8> {
    let needs_method = match context {
        PropertyContext::Packet(PacketType::Auth) => id != PropertyId::AuthenticationMethod,
        PropertyContext::Packet(PacketType::Connect) => id == PropertyId::AuthenticationData,
        _ => false,
    };
    if needs_method { property(PropertyId::AuthenticationMethod) } else { Vec::new() }
}

/// A packet of `context` whose only property block is `block`.
fn with_properties(context: PropertyContext, block: &[u8]) -> Vec<u8> {
    let packet = match context {
        PropertyContext::Will => {
            let body = connect_header(5, 0x06).props(&[]).str(b"c").props(block);
            return body.str(b"w").str(b"").frame(0x10);
        }
        PropertyContext::Packet(packet) => packet,
    };
    let body = Body::new();
    match packet {
        PacketType::Connect => connect_header(5, 0x02).props(block).str(b"c").frame(0x10),
        PacketType::ConnAck => body.u8(0).u8(0).props(block).frame(0x20),
        PacketType::Publish => publish_v5(b"t", block, b""),
        PacketType::PubAck => body.u16(1).u8(0).props(block).frame(0x40),
        PacketType::PubRec => body.u16(1).u8(0).props(block).frame(0x50),
        PacketType::PubRel => body.u16(1).u8(0).props(block).frame(0x62),
        PacketType::PubComp => body.u16(1).u8(0).props(block).frame(0x70),
        PacketType::Subscribe => body.u16(1).props(block).str(b"a").u8(0).frame(0x82),
        PacketType::SubAck => body.u16(1).props(block).u8(0).frame(0x90),
        PacketType::Unsubscribe => body.u16(1).props(block).str(b"a").frame(0xA2),
        PacketType::UnsubAck => body.u16(1).props(block).u8(0).frame(0xB0),
        PacketType::Disconnect => body.u8(0).props(block).frame(0xE0),
        PacketType::Auth => body.u8(0).props(block).frame(0xF0),
        PacketType::PingReq | PacketType::PingResp => unreachable!("no properties"),
    }
}

/// MQTT 5.0 Table 2-4, written out independently of `PropertyId::allowed_in`: where each
/// property may appear ("Will" for the Will Properties).
fn table_2_4(id: PropertyId) -> &'static [&'static str] {
    use PropertyId::*;
    match id {
        PayloadFormatIndicator | MessageExpiryInterval | ContentType | ResponseTopic | CorrelationData => {
            &["PUBLISH", "Will"]
        }
        SubscriptionIdentifier => &["PUBLISH", "SUBSCRIBE"],
        SessionExpiryInterval => &["CONNECT", "CONNACK", "DISCONNECT"],
        AssignedClientIdentifier
        | ServerKeepAlive
        | ResponseInformation
        | MaximumQos
        | RetainAvailable
        | WildcardSubscriptionAvailable
        | SubscriptionIdentifierAvailable
        | SharedSubscriptionAvailable => &["CONNACK"],
        AuthenticationMethod | AuthenticationData => &["CONNECT", "CONNACK", "AUTH"],
        RequestProblemInformation | RequestResponseInformation => &["CONNECT"],
        WillDelayInterval => &["Will"],
        ServerReference => &["CONNACK", "DISCONNECT"],
        ReasonString => {
            &["CONNACK", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBACK", "UNSUBACK", "DISCONNECT", "AUTH"]
        }
        ReceiveMaximum | TopicAliasMaximum | MaximumPacketSize => &["CONNECT", "CONNACK"],
        TopicAlias => &["PUBLISH"],
        UserProperty => &[
            "CONNECT",
            "CONNACK",
            "PUBLISH",
            "Will",
            "PUBACK",
            "PUBREC",
            "PUBREL",
            "PUBCOMP",
            "SUBSCRIBE",
            "SUBACK",
            "UNSUBSCRIBE",
            "UNSUBACK",
            "DISCONNECT",
            "AUTH",
        ],
    }
}

#[test]
fn section_2_2_2_2_allowed_in_matches_table_2_4() {
    let identifiers: Vec<u8> = PropertyId::ALL.iter().map(|id| *id as u8).collect();
    let expected = [
        0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1F,
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
    ];
    assert_eq!(identifiers, expected);
    for &id in PropertyId::ALL {
        for context in CONTEXTS {
            let name = match context {
                PropertyContext::Will => "Will",
                PropertyContext::Packet(packet) => packet.name(),
            };
            assert_eq!(id.allowed_in(context), table_2_4(id).contains(&name), "{id} in {context}");
        }
        for packet in [PacketType::PingReq, PacketType::PingResp] {
            assert!(!id.allowed_in(PropertyContext::Packet(packet)), "{id} in {packet}");
        }
    }
}

#[test]
fn section_2_2_2_2_property_decodes_iff_allowed_in_its_packet() {
    for &id in PropertyId::ALL {
        for context in CONTEXTS {
            let mut block = companions(id, context);
            block.extend(property(id));
            let bytes = with_properties(context, &block);
            let decoded = Packet::decode(Bytes::copy_from_slice(&bytes), V5);
            if id.allowed_in(context) {
                let packet = decoded.unwrap_or_else(|e| panic!("{id} in {context}: {e}"));
                // The property was kept: encoding gives the same bytes back.
                let mut buf = BytesMut::new();
                packet.encode(V5, &mut buf).unwrap();
                assert_eq!(&buf[..], &bytes[..], "{id} in {context}");
            } else {
                let error = ProtocolError::PropertyNotAllowed { property: id, context };
                rejects(V5, &bytes, error, ReasonCode::MalformedPacket);
            }
        }
    }
}

#[test]
fn section_2_2_2_2_unknown_property_is_malformed() {
    for id in [0x00u8, 0x04, 0x0A, 0x14, 0x2B, 0x7F] {
        let bytes = publish_v5(b"t", &[id, 0x00], b"");
        rejects(V5, &bytes, ProtocolError::UnknownProperty(id.into()), ReasonCode::MalformedPacket);
    }
}

#[test]
fn duplicate_property_is_a_protocol_error_unless_it_may_repeat() {
    for &id in PropertyId::ALL {
        for context in CONTEXTS.into_iter().filter(|context| id.allowed_in(*context)) {
            let mut block = companions(id, context);
            block.extend(property(id));
            block.extend(property(id));
            let bytes = with_properties(context, &block);
            if id.may_repeat(context) {
                accepts(V5, &bytes);
            } else {
                let error = ProtocolError::DuplicateProperty { property: id, context };
                rejects(V5, &bytes, error, ReasonCode::ProtocolError);
            }
        }
    }
    assert!(PropertyId::UserProperty.may_repeat(PropertyContext::Will));
    assert!(PropertyId::SubscriptionIdentifier.may_repeat(PropertyContext::Packet(PacketType::Publish)));
    assert!(!PropertyId::SubscriptionIdentifier.may_repeat(PropertyContext::Packet(PacketType::Subscribe)));
}

#[test]
fn property_values_out_of_range_are_protocol_errors() {
    use PropertyId::*;
    let connect = PropertyContext::Packet(PacketType::Connect);
    let connack = PropertyContext::Packet(PacketType::ConnAck);
    let publish = PropertyContext::Packet(PacketType::Publish);
    let subscribe = PropertyContext::Packet(PacketType::Subscribe);
    let cases: [(&str, PropertyContext, PropertyId, &[u8], u32); 13] = [
        ("§3.1.2.11.3", connect, ReceiveMaximum, &[0x00, 0x00], 0),
        ("§3.1.2.11.4", connect, MaximumPacketSize, &[0x00, 0x00, 0x00, 0x00], 0),
        ("§3.1.2.11.6", connect, RequestResponseInformation, &[0x02], 2),
        ("§3.1.2.11.7", connect, RequestProblemInformation, &[0xFF], 255),
        ("§3.2.2.3.3", connack, ReceiveMaximum, &[0x00, 0x00], 0),
        ("§3.2.2.3.4", connack, MaximumQos, &[0x02], 2),
        ("§3.2.2.3.5", connack, RetainAvailable, &[0x02], 2),
        ("§3.2.2.3.6", connack, MaximumPacketSize, &[0x00, 0x00, 0x00, 0x00], 0),
        ("§3.2.2.3.11", connack, WildcardSubscriptionAvailable, &[0x02], 2),
        ("§3.2.2.3.12", connack, SubscriptionIdentifierAvailable, &[0x03], 3),
        ("§3.2.2.3.13", connack, SharedSubscriptionAvailable, &[0x80], 128),
        ("§3.3.2.3.8", publish, SubscriptionIdentifier, &[0x00], 0),
        ("§3.8.2.1.2", subscribe, SubscriptionIdentifier, &[0x00], 0),
    ];
    for (section, context, id, value, raw) in cases {
        let mut block = vec![id as u8];
        block.extend_from_slice(value);
        let bytes = with_properties(context, &block);
        let error = ProtocolError::InvalidPropertyValue { property: id, value: raw };
        assert_eq!(Packet::decode(Bytes::from(bytes.clone()), V5), Err(error.clone()), "{section}");
        rejects(V5, &bytes, error, ReasonCode::ProtocolError);
    }
    let mut connack = ConnAck::new(ReasonCode::Success, false);
    connack.properties.maximum_qos = Some(QoS::ExactlyOnce);
    refuses(
        V5,
        Packet::ConnAck(connack),
        ProtocolError::InvalidPropertyValue { property: MaximumQos, value: 2 },
    );
    let mut connect = Connect::new("c");
    connect.properties.receive_maximum = Some(0);
    let error = ProtocolError::InvalidPropertyValue { property: ReceiveMaximum, value: 0 };
    refuses(V5, Packet::Connect(Box::new(connect)), error);
    let mut publish = Publish::new("t", "", QoS::AtMostOnce);
    publish.properties.subscription_identifiers = vec![1, 0];
    let error = ProtocolError::InvalidPropertyValue { property: SubscriptionIdentifier, value: 0 };
    refuses(V5, Packet::Publish(publish), error);
}

// ---- Reason codes: each packet uses only its own (Table 2-6) ----

/// A packet of type `packet` carrying reason code `code`, as bytes.
fn with_reason(packet: PacketType, code: u8) -> Vec<u8> {
    let body = Body::new();
    match packet {
        PacketType::ConnAck => body.u8(0).u8(code).props(&[]).frame(0x20),
        PacketType::PubAck => body.u16(1).u8(code).frame(0x40),
        PacketType::PubRec => body.u16(1).u8(code).frame(0x50),
        PacketType::PubRel => body.u16(1).u8(code).frame(0x62),
        PacketType::PubComp => body.u16(1).u8(code).frame(0x70),
        PacketType::SubAck => body.u16(1).props(&[]).u8(code).frame(0x90),
        PacketType::UnsubAck => body.u16(1).props(&[]).u8(code).frame(0xB0),
        PacketType::Disconnect => body.u8(code).frame(0xE0),
        PacketType::Auth => body.u8(code).props(&property(PropertyId::AuthenticationMethod)).frame(0xF0),
        other => unreachable!("{other} has no reason code"),
    }
}

/// The same as a packet value.
fn reason_packet(packet: PacketType, reason: ReasonCode) -> Packet {
    match packet {
        PacketType::ConnAck => Packet::ConnAck(ConnAck::new(reason, false)),
        PacketType::PubAck => Packet::PubAck(PubAck::new(1).with_reason(reason)),
        PacketType::PubRec => Packet::PubRec(PubRec::new(1).with_reason(reason)),
        PacketType::PubRel => Packet::PubRel(PubRel::new(1).with_reason(reason)),
        PacketType::PubComp => Packet::PubComp(PubComp::new(1).with_reason(reason)),
        PacketType::SubAck => Packet::SubAck(SubAck::new(1, vec![reason])),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::new(1, vec![reason])),
        PacketType::Disconnect => Packet::Disconnect(mqttkit::protocol::Disconnect::new(reason)),
        PacketType::Auth => Packet::Auth(Auth::new(reason, "text", None)),
        other => unreachable!("{other} has no reason code"),
    }
}

/// Every byte value decodes in `packet` iff it is a reason code allowed there, and the
/// encoder writes only those.
#[track_caller]
fn assert_reason_codes(packet: PacketType, expected: &[u8]) {
    for code in 0..=u8::MAX {
        let bytes = with_reason(packet, code);
        let allowed = ReasonCode::from_u8(code).is_some_and(|reason| reason.allowed_in(packet));
        assert_eq!(
            allowed,
            expected.contains(&code),
            "{packet} {code:#04x}: allowed_in disagrees with the spec"
        );
        if allowed {
            let decoded = accepts(V5, &bytes);
            let reason = ReasonCode::from_u8(code).unwrap();
            assert_eq!(decoded, reason_packet(packet, reason));
        } else {
            rejects(V5, &bytes, ProtocolError::InvalidReasonCode { packet, code }, ReasonCode::ProtocolError);
        }
    }
    for &reason in ReasonCode::ALL.iter().filter(|reason| !reason.allowed_in(packet)) {
        let error = ProtocolError::InvalidReasonCode { packet, code: reason.code() };
        refuses(V5, reason_packet(packet, reason), error);
    }
}

#[test]
fn mqtt_3_2_2_8_connack_uses_connect_reason_codes() {
    let codes = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99,
        0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    assert_reason_codes(PacketType::ConnAck, &codes);
}

#[test]
fn mqtt_3_4_2_1_puback_uses_puback_reason_codes() {
    assert_reason_codes(PacketType::PubAck, &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
}

#[test]
fn mqtt_3_5_2_1_pubrec_uses_pubrec_reason_codes() {
    assert_reason_codes(PacketType::PubRec, &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
}

#[test]
fn mqtt_3_6_2_1_pubrel_uses_pubrel_reason_codes() {
    assert_reason_codes(PacketType::PubRel, &[0x00, 0x92]);
}

#[test]
fn mqtt_3_7_2_1_pubcomp_uses_pubcomp_reason_codes() {
    assert_reason_codes(PacketType::PubComp, &[0x00, 0x92]);
}

#[test]
fn mqtt_3_9_3_2_suback_uses_subscribe_reason_codes() {
    let codes = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2];
    assert_reason_codes(PacketType::SubAck, &codes);
}

#[test]
fn mqtt311_3_9_3_2_suback_return_codes() {
    for code in 0..=u8::MAX {
        let bytes = Body::new().u16(1).u8(code).frame(0x90);
        if [0x00, 0x01, 0x02, 0x80].contains(&code) {
            accepts(V311, &bytes);
        } else {
            let error = ProtocolError::InvalidReasonCode { packet: PacketType::SubAck, code };
            rejects(V311, &bytes, error, ReasonCode::ProtocolError);
        }
    }
}

#[test]
fn mqtt_3_11_3_2_unsuback_uses_unsubscribe_reason_codes() {
    assert_reason_codes(PacketType::UnsubAck, &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]);
}

#[test]
fn mqtt_3_14_2_1_disconnect_uses_disconnect_reason_codes() {
    let codes = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
        0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    assert_reason_codes(PacketType::Disconnect, &codes);
}

#[test]
fn mqtt_3_15_2_1_auth_uses_authenticate_reason_codes() {
    assert_reason_codes(PacketType::Auth, &[0x00, 0x18, 0x19]);
}

#[test]
fn mqtt311_section_3_2_2_3_connack_return_codes_above_5_are_reserved() {
    for code in 6..=u8::MAX {
        let error = ProtocolError::InvalidReasonCode { packet: PacketType::ConnAck, code };
        rejects(V311, &[0x20, 0x02, 0x00, code], error, ReasonCode::ProtocolError);
    }
}

// ---- 3.1 CONNECT ----

#[test]
fn mqtt_3_1_2_1_protocol_name_is_mqtt() {
    for (name, level) in [(&b"MQTX"[..], 5), (b"MQIsdp", 3), (b"mqtt", 4), (b"", 5)] {
        let bytes = Body::new().str(name).u8(level).u8(0x02).u16(60).props(&[]).str(b"c").frame(0x10);
        let error = ProtocolError::InvalidProtocolName(String::from_utf8(name.to_vec()).unwrap());
        rejects(V5, &bytes, error, ReasonCode::UnsupportedProtocolVersion);
    }
}

#[test]
fn mqtt_3_1_2_2_unsupported_protocol_level() {
    for level in [0, 3, 6, 255] {
        let bytes = connect_header(level, 0x02).props(&[]).str(b"c").frame(0x10);
        let error = ProtocolError::UnsupportedProtocolVersion(level);
        rejects(V5, &bytes, error.clone(), ReasonCode::UnsupportedProtocolVersion);
        rejects(V311, &bytes, error, ReasonCode::UnsupportedProtocolVersion);
    }
}

fn is_connect_flags(error: &ProtocolError) -> bool {
    matches!(error, ProtocolError::InvalidConnectFlags(_))
}

#[test]
fn mqtt_3_1_2_3_connect_reserved_flag_is_zero() {
    let bytes = connect_header(5, 0x03).props(&[]).str(b"c").frame(0x10);
    rejects_like(V5, &bytes, is_connect_flags, ReasonCode::MalformedPacket);
}

#[test]
fn mqtt311_3_1_2_3_connect_reserved_flag_is_zero() {
    let bytes = connect_header(4, 0x01).str(b"c").frame(0x10);
    rejects_like(V311, &bytes, is_connect_flags, ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_1_2_9_will_flag_requires_will_fields() {
    let bytes = connect_header(5, 0x06).props(&[]).str(b"c").frame(0x10);
    rejects(V5, &bytes, ProtocolError::UnexpectedEnd("property length"), ReasonCode::MalformedPacket);
    let bytes = connect_header(5, 0x06).props(&[]).str(b"c").props(&[]).str(b"w").frame(0x10);
    rejects(V5, &bytes, ProtocolError::UnexpectedEnd("will payload"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_1_2_11_will_qos_is_zero_without_will_flag() {
    for flags in [0x0A, 0x12] {
        let bytes = connect_header(5, flags).props(&[]).str(b"c").frame(0x10);
        rejects_like(V5, &bytes, is_connect_flags, ReasonCode::MalformedPacket);
    }
}

#[test]
fn mqtt_3_1_2_12_will_qos_3_is_malformed() {
    let bytes = connect_header(5, 0x1E).props(&[]).str(b"c").props(&[]).str(b"w").str(b"").frame(0x10);
    rejects(V5, &bytes, ProtocolError::InvalidQos("will QoS"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_1_2_13_will_retain_is_zero_without_will_flag() {
    let bytes = connect_header(5, 0x22).props(&[]).str(b"c").frame(0x10);
    rejects_like(V5, &bytes, is_connect_flags, ReasonCode::MalformedPacket);
}

#[test]
fn mqtt311_3_1_2_13_to_15_will_flags() {
    for flags in [0x0A, 0x12, 0x22] {
        let bytes = connect_header(4, flags).str(b"c").frame(0x10);
        rejects_like(V311, &bytes, is_connect_flags, ReasonCode::MalformedPacket);
    }
    let bytes = connect_header(4, 0x1E).str(b"c").str(b"w").str(b"").frame(0x10);
    rejects(V311, &bytes, ProtocolError::InvalidQos("will QoS"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_1_2_16_and_18_no_user_name_or_password_without_their_flags() {
    let bytes = connect_header(5, 0x02).props(&[]).str(b"c").str(b"user").frame(0x10);
    let error = ProtocolError::TrailingBytes { packet: PacketType::Connect, extra: 6 };
    rejects(V5, &bytes, error, ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_1_2_17_and_19_user_name_and_password_present_with_their_flags() {
    let bytes = connect_header(5, 0x82).props(&[]).str(b"c").frame(0x10);
    rejects(V5, &bytes, ProtocolError::UnexpectedEnd("user name"), ReasonCode::MalformedPacket);
    let bytes = connect_header(5, 0x42).props(&[]).str(b"c").frame(0x10);
    rejects(V5, &bytes, ProtocolError::UnexpectedEnd("password"), ReasonCode::MalformedPacket);
    // MQTT 5 allows a password without a user name.
    let bytes = connect_header(5, 0x42).props(&[]).str(b"c").str(b"pw").frame(0x10);
    accepts(V5, &bytes);
}

#[test]
fn mqtt311_3_1_2_22_password_requires_user_name() {
    let bytes = connect_header(4, 0x42).str(b"c").str(b"pw").frame(0x10);
    rejects_like(V311, &bytes, is_connect_flags, ReasonCode::MalformedPacket);
    let connect =
        Connect { protocol_version: V311, password: Some(Bytes::from_static(b"pw")), ..Connect::new("c") };
    let error = Packet::Connect(Box::new(connect.clone())).encode(V311, &mut BytesMut::new()).unwrap_err();
    assert!(is_connect_flags(&error), "{error:?}");
    refuses(V311, Packet::Connect(Box::new(connect)), error);
}

#[test]
fn section_3_1_2_11_10_authentication_data_requires_a_method() {
    let block = property(PropertyId::AuthenticationData);
    let bytes = connect_header(5, 0x02).props(&block).str(b"c").frame(0x10);
    rejects(V5, &bytes, ProtocolError::AuthDataWithoutMethod, ReasonCode::ProtocolError);
    let mut connect = Connect::new("c");
    connect.properties.authentication_data = Some(Bytes::from_static(b"data"));
    refuses(V5, Packet::Connect(Box::new(connect)), ProtocolError::AuthDataWithoutMethod);
}

#[test]
fn mqtt_3_1_3_4_client_identifier_is_utf8() {
    let bytes = connect_header(5, 0x02).props(&[]).str(&[0xED, 0xA0, 0x80]).frame(0x10);
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("client identifier"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_1_3_11_will_topic_is_a_utf8_topic_name() {
    let bytes = connect_header(5, 0x06).props(&[]).str(b"c").props(&[]).str(&[0xFF]).str(b"").frame(0x10);
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("will topic"), ReasonCode::MalformedPacket);
    let bytes = connect_header(5, 0x06).props(&[]).str(b"c").props(&[]).str(b"a/#").str(b"").frame(0x10);
    let error = ProtocolError::InvalidTopicName(TopicError::WildcardInName);
    rejects(V5, &bytes, error.clone(), ReasonCode::TopicNameInvalid);
    let connect = Connect { will: Some(Will::new("a/+", "")), ..Connect::new("c") };
    refuses(V5, Packet::Connect(Box::new(connect)), error);
}

#[test]
fn mqtt_3_1_3_12_user_name_is_utf8() {
    let bytes = connect_header(5, 0x82).props(&[]).str(b"c").str(&[0xC0, 0xAF]).frame(0x10);
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("user name"), ReasonCode::MalformedPacket);
}

#[test]
fn section_3_1_3_2_3_will_payload_format_invalid() {
    let block = [0x01, 0x01];
    let bytes =
        connect_header(5, 0x06).props(&[]).str(b"c").props(&block).str(b"w").str(&[0xFF, 0xFE]).frame(0x10);
    rejects(V5, &bytes, ProtocolError::PayloadFormatInvalid, ReasonCode::PayloadFormatInvalid);
    let mut will = Will::new("w", &[0xFF, 0xFE][..]);
    will.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    let connect = Connect { will: Some(will), ..Connect::new("c") };
    refuses(V5, Packet::Connect(Box::new(connect)), ProtocolError::PayloadFormatInvalid);
}

// ---- 3.2 CONNACK ----

#[test]
fn mqtt_3_2_2_1_connack_reserved_flags_are_zero() {
    for flags in [0x02, 0x80, 0xFF] {
        let bytes = Body::new().u8(flags).u8(0).props(&[]).frame(0x20);
        rejects(V5, &bytes, ProtocolError::InvalidConnAckFlags(flags), ReasonCode::MalformedPacket);
        let bytes = [0x20, 0x02, flags, 0x00];
        rejects(V311, &bytes, ProtocolError::InvalidConnAckFlags(flags), ReasonCode::MalformedPacket);
    }
}

// ---- 3.3 PUBLISH ----

#[test]
fn mqtt_3_3_1_2_dup_is_zero_on_qos_0() {
    for retain in [0x00, 0x01] {
        let bytes = Body::new().str(b"t").props(&[]).frame(0x38 | retain);
        rejects(V5, &bytes, ProtocolError::DupWithQos0, ReasonCode::MalformedPacket);
    }
    let packet = Packet::Publish(Publish { dup: true, ..Publish::new("t", "", QoS::AtMostOnce) });
    refuses(V5, packet, ProtocolError::DupWithQos0);
}

#[test]
fn mqtt311_3_3_1_2_dup_is_zero_on_qos_0() {
    rejects(
        V311,
        &Body::new().str(b"t").frame(0x38),
        ProtocolError::DupWithQos0,
        ReasonCode::MalformedPacket,
    );
    let packet = Packet::Publish(Publish { dup: true, ..Publish::new("t", "", QoS::AtMostOnce) });
    refuses(V311, packet, ProtocolError::DupWithQos0);
}

#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    for first in [0x36, 0x37, 0x3E, 0x3F] {
        let bytes = Body::new().str(b"t").u16(1).props(&[]).frame(first);
        rejects(V5, &bytes, ProtocolError::InvalidQos("PUBLISH"), ReasonCode::MalformedPacket);
    }
}

#[test]
fn mqtt311_3_3_1_4_qos_3_is_malformed() {
    for first in [0x36, 0x3F] {
        let bytes = Body::new().str(b"t").u16(1).frame(first);
        rejects(V311, &bytes, ProtocolError::InvalidQos("PUBLISH"), ReasonCode::MalformedPacket);
    }
}

#[test]
fn mqtt_3_3_2_1_topic_name_is_utf8() {
    let bytes = publish_v5(&[b'a', 0xFF], &[], b"");
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("topic name"), ReasonCode::MalformedPacket);
    // A topic name cut short by the end of the packet.
    let bytes = Body::new().u16(5).raw(b"ab").frame(0x30);
    rejects(V5, &bytes, ProtocolError::UnexpectedEnd("topic name"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_3_2_2_topic_name_has_no_wildcards() {
    for topic in ["a/+", "#", "a/#", "+", "a+b", "sport/tennis#"] {
        let error = ProtocolError::InvalidTopicName(TopicError::WildcardInName);
        rejects(V5, &publish_v5(topic.as_bytes(), &[], b""), error.clone(), ReasonCode::TopicNameInvalid);
        rejects(
            V311,
            &Body::new().str(topic.as_bytes()).frame(0x30),
            error.clone(),
            ReasonCode::TopicNameInvalid,
        );
        refuses(V5, Packet::Publish(publish(topic, QoS::AtLeastOnce)), error.clone());
        refuses(V311, Packet::Publish(publish(topic, QoS::AtMostOnce)), error);
    }
}

#[test]
fn mqtt_4_7_0_1_wildcards_only_in_topic_filters() {
    let error = ProtocolError::InvalidTopicName(TopicError::WildcardInName);
    rejects(V5, &publish_v5(b"a/+/c", &[], b""), error, ReasonCode::TopicNameInvalid);
    // The same characters are fine in a filter.
    accepts(V5, &subscribe(V5, b"a/+/c", 0x00));
}

#[test]
fn section_3_3_2_1_empty_topic_without_topic_alias_is_a_protocol_error() {
    rejects(
        V5,
        &publish_v5(b"", &[], b"x"),
        ProtocolError::EmptyTopicWithoutAlias,
        ReasonCode::ProtocolError,
    );
    accepts(V5, &publish_v5(b"", &[0x23, 0x00, 0x01], b"x"));
    refuses(V5, Packet::Publish(publish("", QoS::AtMostOnce)), ProtocolError::EmptyTopicWithoutAlias);
}

#[test]
fn mqtt311_4_7_3_1_empty_topic_name_is_refused() {
    let bytes = Body::new().str(b"").frame(0x30);
    rejects(V311, &bytes, ProtocolError::EmptyTopicWithoutAlias, ReasonCode::ProtocolError);
    // A Topic Alias is not something 3.1.1 can send.
    let mut publish = publish("", QoS::AtMostOnce);
    publish.properties.topic_alias = Some(1);
    refuses(V311, Packet::Publish(publish), ProtocolError::EmptyTopicWithoutAlias);
}

#[test]
fn mqtt_3_3_2_8_topic_alias_is_not_zero() {
    let bytes = publish_v5(b"t", &[0x23, 0x00, 0x00], b"");
    let error = ProtocolError::InvalidPropertyValue { property: PropertyId::TopicAlias, value: 0 };
    // §3.3.4: "A Topic Alias value of 0 ... is a Protocol Error, the receiver uses DISCONNECT
    // with Reason Code of 0x94 (Topic Alias invalid)".
    rejects(V5, &bytes, error.clone(), ReasonCode::TopicAliasInvalid);
    let mut publish = publish("t", QoS::AtMostOnce);
    publish.properties.topic_alias = Some(0);
    refuses(V5, Packet::Publish(publish), error);
}

#[test]
fn mqtt_3_3_2_13_response_topic_is_utf8() {
    let block = Body::new().u8(0x08).str(&[0xED, 0xBF, 0xBF]).0;
    let bytes = publish_v5(b"t", &block, b"");
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("Response Topic"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_3_2_14_response_topic_has_no_wildcards() {
    let block = Body::new().u8(0x08).str(b"reply/+").0;
    let error = ProtocolError::InvalidTopicName(TopicError::WildcardInName);
    rejects(V5, &publish_v5(b"t", &block, b""), error.clone(), ReasonCode::TopicNameInvalid);
    let mut publish = publish("t", QoS::AtMostOnce);
    publish.properties.response_topic = Some("reply/#".into());
    refuses(V5, Packet::Publish(publish), error);
}

#[test]
fn mqtt_3_3_2_19_content_type_is_utf8() {
    let block = Body::new().u8(0x03).str(&[0xE2, 0x28, 0xA1]).0;
    let bytes = publish_v5(b"t", &block, b"");
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("Content Type"), ReasonCode::MalformedPacket);
}

#[test]
fn section_3_3_2_3_2_payload_format_invalid() {
    let bytes = publish_v5(b"t", &[0x01, 0x01], &[b'o', b'k', 0xC3]);
    rejects(V5, &bytes, ProtocolError::PayloadFormatInvalid, ReasonCode::PayloadFormatInvalid);
    // Surrogates are not UTF-8 in a payload either.
    let bytes = publish_v5(b"t", &[0x01, 0x01], &[0xED, 0xA0, 0x80]);
    rejects(V5, &bytes, ProtocolError::PayloadFormatInvalid, ReasonCode::PayloadFormatInvalid);
    // Unspecified bytes may be anything.
    accepts(V5, &publish_v5(b"t", &[0x01, 0x00], &[0xFF]));
    let mut publish = Publish::new("t", &[0xFF][..], QoS::AtMostOnce);
    publish.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    refuses(V5, Packet::Publish(publish), ProtocolError::PayloadFormatInvalid);
}

// ---- 3.8 SUBSCRIBE ----

#[test]
fn mqtt_3_8_3_1_topic_filters_are_utf8() {
    let bytes = subscribe(V5, &[b'a', 0xFF], 0x00);
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("topic filter"), ReasonCode::MalformedPacket);
    let bytes = subscribe(V311, b"a\0", 0x00);
    rejects(V311, &bytes, ProtocolError::NullCharacter("topic filter"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_8_3_2_subscribe_has_at_least_one_filter() {
    let bytes = Body::new().u16(1).props(&[]).frame(0x82);
    let error = ProtocolError::EmptyPayload(PacketType::Subscribe);
    rejects(V5, &bytes, error.clone(), ReasonCode::ProtocolError);
    refuses(V5, Packet::Subscribe(Subscribe::new(1, vec![])), error);
}

#[test]
fn mqtt311_3_8_3_3_subscribe_has_at_least_one_filter() {
    let bytes = Body::new().u16(1).frame(0x82);
    let error = ProtocolError::EmptyPayload(PacketType::Subscribe);
    rejects(V311, &bytes, error.clone(), ReasonCode::ProtocolError);
    refuses(V311, Packet::Subscribe(Subscribe::new(1, vec![])), error);
}

#[test]
fn mqtt_3_8_3_4_no_local_on_shared_subscription_is_a_protocol_error() {
    let bytes = subscribe(V5, b"$share/g/a", 0x04);
    let error = ProtocolError::NoLocalOnSharedSubscription("$share/g/a".into());
    rejects(V5, &bytes, error.clone(), ReasonCode::ProtocolError);
    // No Local on a plain subscription is fine.
    accepts(V5, &subscribe(V5, b"$shared/a", 0x04));
    let subscription = Subscription {
        filter: "$share/g/a".into(),
        options: SubscriptionOptions { no_local: true, ..SubscriptionOptions::new(QoS::AtMostOnce) },
    };
    refuses(V5, Packet::Subscribe(Subscribe::new(1, vec![subscription])), error);
}

#[test]
fn mqtt_3_8_3_5_subscription_options_reserved_bits_are_malformed() {
    for options in [0x40, 0x80, 0xC0, 0x41] {
        let error = ProtocolError::InvalidSubscriptionOptions(options);
        rejects(V5, &subscribe(V5, b"a", options), error, ReasonCode::MalformedPacket);
    }
}

#[test]
fn section_3_8_3_1_retain_handling_3_is_a_protocol_error() {
    for options in [0x30, 0x31, 0x3C] {
        let error = ProtocolError::InvalidSubscriptionOptionValue(options);
        rejects(V5, &subscribe(V5, b"a", options), error, ReasonCode::ProtocolError);
    }
}

#[test]
fn section_3_8_3_1_maximum_qos_3_is_a_protocol_error() {
    for options in [0x03, 0x0F, 0x23] {
        let error = ProtocolError::InvalidSubscriptionOptionValue(options);
        rejects(V5, &subscribe(V5, b"a", options), error, ReasonCode::ProtocolError);
    }
}

#[test]
fn mqtt311_3_8_3_4_reserved_bits_and_qos_3_are_malformed() {
    for options in [0x04, 0x08, 0x10, 0x20, 0x40, 0x80] {
        let error = ProtocolError::InvalidSubscriptionOptions(options);
        rejects(V311, &subscribe(V311, b"a", options), error, ReasonCode::MalformedPacket);
    }
    let error = ProtocolError::InvalidQos("subscription options");
    rejects(V311, &subscribe(V311, b"a", 0x03), error, ReasonCode::MalformedPacket);
}

// ---- 3.10 UNSUBSCRIBE ----

#[test]
fn mqtt_3_10_3_1_topic_filters_are_utf8() {
    let bytes = unsubscribe(V5, &[0xED, 0xA0, 0x80]);
    rejects(V5, &bytes, ProtocolError::InvalidUtf8("topic filter"), ReasonCode::MalformedPacket);
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_has_at_least_one_filter() {
    let error = ProtocolError::EmptyPayload(PacketType::Unsubscribe);
    rejects(V5, &Body::new().u16(1).props(&[]).frame(0xA2), error.clone(), ReasonCode::ProtocolError);
    refuses(V5, Packet::Unsubscribe(Unsubscribe::new(1, vec![])), error);
}

#[test]
fn mqtt311_3_10_3_2_unsubscribe_has_at_least_one_filter() {
    let error = ProtocolError::EmptyPayload(PacketType::Unsubscribe);
    rejects(V311, &Body::new().u16(1).frame(0xA2), error.clone(), ReasonCode::ProtocolError);
    refuses(V311, Packet::Unsubscribe(Unsubscribe::new(1, vec![])), error);
}

// ---- 3.15 AUTH ----

#[test]
fn section_3_15_2_2_2_auth_method_may_not_be_omitted() {
    // Continue authentication with no properties at all.
    rejects(V5, &[0xF0, 0x01, 0x18], ProtocolError::AuthMethodMissing, ReasonCode::ProtocolError);
    let block = property(PropertyId::AuthenticationData);
    let bytes = Body::new().u8(0x18).props(&block).frame(0xF0);
    rejects(V5, &bytes, ProtocolError::AuthMethodMissing, ReasonCode::ProtocolError);
    // The short form (§3.15.2.1) has no room for it.
    assert_eq!(accepts(V5, &[0xF0, 0x00]), Packet::Auth(Auth::default()));
    let auth = Auth { reason_code: ReasonCode::ReAuthenticate, ..Auth::default() };
    refuses(V5, Packet::Auth(auth), ProtocolError::AuthMethodMissing);
}

// ---- 4.7 Topic names and filters, 4.8.2 shared subscriptions ----

/// A SUBSCRIBE and an UNSUBSCRIBE of `filter` are rejected with `error`, and neither is
/// encoded.
#[track_caller]
fn assert_bad_filter(filter: &str, error: TopicError) {
    let error = ProtocolError::InvalidTopicFilter(error);
    for version in [V311, V5] {
        rejects(
            version,
            &subscribe(version, filter.as_bytes(), 0),
            error.clone(),
            ReasonCode::TopicFilterInvalid,
        );
        rejects(
            version,
            &unsubscribe(version, filter.as_bytes()),
            error.clone(),
            ReasonCode::TopicFilterInvalid,
        );
        let packet = Packet::Subscribe(Subscribe::new(1, vec![Subscription::new(filter, QoS::AtMostOnce)]));
        refuses(version, packet, error.clone());
        refuses(version, Packet::Unsubscribe(Unsubscribe::new(1, vec![filter.into()])), error.clone());
    }
}

#[test]
fn mqtt_4_7_1_1_multi_level_wildcard_is_last_and_alone() {
    for filter in ["a/#/b", "a#", "#/", "##", "sport/tennis#"] {
        assert_bad_filter(filter, TopicError::MultiLevelWildcardNotLast);
    }
    accepts(V5, &subscribe(V5, b"sport/#", 0));
}

#[test]
fn mqtt_4_7_1_2_single_level_wildcard_occupies_a_level() {
    for filter in ["a+", "a/+b", "+a/b", "++"] {
        assert_bad_filter(filter, TopicError::SingleLevelWildcardNotAlone);
    }
    accepts(V5, &subscribe(V5, b"+/+/", 0));
}

#[test]
fn mqtt_4_7_3_1_topics_are_at_least_one_character() {
    assert_bad_filter("", TopicError::Empty);
    refuses(V5, Packet::Publish(publish("", QoS::AtLeastOnce)), ProtocolError::EmptyTopicWithoutAlias);
}

#[test]
fn mqtt_4_7_3_2_topics_have_no_null_character() {
    rejects(
        V5,
        &publish_v5(b"a/\0", &[], b""),
        ProtocolError::NullCharacter("topic name"),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        &unsubscribe(V5, b"\0"),
        ProtocolError::NullCharacter("topic filter"),
        ReasonCode::MalformedPacket,
    );
    let error = ProtocolError::InvalidTopicName(TopicError::NullCharacter);
    refuses(V5, Packet::Publish(publish("a\0", QoS::AtMostOnce)), error);
    let error = ProtocolError::InvalidTopicFilter(TopicError::NullCharacter);
    refuses(V5, Packet::Unsubscribe(Unsubscribe::new(1, vec!["a\0".into()])), error);
}

#[test]
fn mqtt_4_7_3_3_topics_encode_to_at_most_65535_bytes() {
    let long = "a".repeat(65_536);
    let error = ProtocolError::InvalidTopicName(TopicError::TooLong(65_536));
    refuses(V5, Packet::Publish(publish(&long, QoS::AtMostOnce)), error);
    let error = ProtocolError::InvalidTopicFilter(TopicError::TooLong(65_536));
    refuses(V311, Packet::Unsubscribe(Unsubscribe::new(1, vec![long.as_str().into()])), error);
    let mut buf = BytesMut::new();
    Packet::Publish(publish(&long[1..], QoS::AtMostOnce)).encode(V5, &mut buf).unwrap();
    assert_eq!(&buf[..7], &[0x30, 0x82, 0x80, 0x04, 0xFF, 0xFF, b'a']);
}

#[test]
fn mqtt_4_8_2_1_shared_subscription_has_a_share_name() {
    assert_bad_filter("$share//a", TopicError::InvalidShareName);
}

#[test]
fn mqtt_4_8_2_2_share_name_is_followed_by_a_filter() {
    assert_bad_filter("$share/g", TopicError::MissingSharedFilter);
    assert_bad_filter("$share/g/", TopicError::MissingSharedFilter);
    assert_bad_filter("$share/g+/a", TopicError::InvalidShareName);
    assert_bad_filter("$share/#/a", TopicError::InvalidShareName);
    accepts(V5, &subscribe(V5, b"$share/g/a/+", 0x02));
}

// ---- Sizes: Maximum Packet Size (§3.1.2.11.4, §3.2.2.3.6), Remaining Length ----

#[test]
fn section_3_1_2_11_4_packet_too_large_is_refused_from_its_fixed_header() {
    // Remaining Length 16,383: refused with only the three header bytes buffered.
    let mut buf = BytesMut::from(&[0x30, 0xFF, 0x7F][..]);
    let mut decoder = Decoder::new(V5).with_max_packet_size(100);
    let error = ProtocolError::PacketTooLarge { size: 16_386, max: 100 };
    assert_eq!(decoder.decode(&mut buf), Err(error.clone()));
    assert_eq!(error.reason_code(), ReasonCode::PacketTooLarge);
    // A packet of exactly the maximum passes; one byte more does not.
    let bytes = publish_v5(b"t", &[], &[0u8; 94]);
    assert_eq!(bytes.len(), 100);
    assert!(matches!(decoder.decode(&mut BytesMut::from(&bytes[..])), Ok(Some(Packet::Publish(_)))));
    let bytes = publish_v5(b"t", &[], &[0u8; 95]);
    let error = ProtocolError::PacketTooLarge { size: 101, max: 100 };
    assert_eq!(decoder.decode(&mut BytesMut::from(&bytes[..2])), Err(error));
}

#[test]
fn remaining_length_must_match_the_packet() {
    // 3.1.1 PUBACK has exactly two bytes; PINGREQ none.
    let error = ProtocolError::TrailingBytes { packet: PacketType::PubAck, extra: 1 };
    rejects(V311, &[0x40, 0x03, 0x00, 0x01, 0x00], error, ReasonCode::MalformedPacket);
    let error = ProtocolError::TrailingBytes { packet: PacketType::PingReq, extra: 1 };
    rejects(V5, &[0xC0, 0x01, 0x00], error, ReasonCode::MalformedPacket);
    let error = ProtocolError::TrailingBytes { packet: PacketType::Disconnect, extra: 1 };
    rejects(V311, &[0xE0, 0x01, 0x00], error, ReasonCode::MalformedPacket);
    // A property block longer than the packet.
    let bytes = Body::new().str(b"t").u8(0x05).u8(0x01).frame(0x30);
    rejects(V5, &bytes, ProtocolError::UnexpectedEnd("properties"), ReasonCode::MalformedPacket);
    // A frame handed to Packet::decode with bytes beyond its Remaining Length.
    let error = ProtocolError::TrailingBytes { packet: PacketType::PingResp, extra: 2 };
    assert_eq!(Packet::decode(Bytes::from_static(&[0xD0, 0x00, 0xD0, 0x00]), V5), Err(error));
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0x40, 0x02, 0x00]), V5),
        Err(ProtocolError::UnexpectedEnd("packet body"))
    );
}
