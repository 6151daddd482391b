//! What the encoder refuses to write beyond the rules `codec_normative.rs` covers: fields
//! too long for their length prefix, integers out of range, packets over the largest
//! Remaining Length. Every refusal returns the error, appends nothing to the buffer, and
//! `encoded_len` reports the same error.

use ProtocolVersion::{V5, V311};
use bytes::{Bytes, BytesMut};
use mqttkit::protocol::{
    Connect, MAX_PACKET_SIZE, MAX_VAR_INT, Packet, PacketType, ProtocolError, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe, Subscription, UnsubAck, Will,
};

const TOO_LONG: usize = 65_536;

/// The encoder refuses `packet` with `error` and leaves the buffer as it was.
#[track_caller]
fn refuses(version: ProtocolVersion, packet: Packet, error: ProtocolError) {
    let mut buf = BytesMut::from(&b"earlier packets"[..]);
    assert_eq!(packet.encode(version, &mut buf), Err(error.clone()));
    assert_eq!(&buf[..], b"earlier packets", "a refused encoding appended bytes");
    assert_eq!(packet.encoded_len(version), Err(error));
}

fn too_long(what: &'static str) -> ProtocolError {
    ProtocolError::ValueTooLarge { what, len: TOO_LONG, max: 65_535 }
}

fn long_text() -> bytestring::ByteString {
    "x".repeat(TOO_LONG).into()
}

fn long_bytes() -> Bytes {
    Bytes::from(vec![0u8; TOO_LONG])
}

#[test]
fn strings_longer_than_65535_bytes() {
    for version in [V311, V5] {
        let connect = Connect { protocol_version: version, ..Connect::new(long_text()) };
        refuses(version, Packet::Connect(Box::new(connect)), too_long("client identifier"));
        let connect = Connect { protocol_version: version, username: Some(long_text()), ..Connect::new("c") };
        refuses(version, Packet::Connect(Box::new(connect)), too_long("user name"));
    }
    let mut connect = Connect::new("c");
    connect.properties.user_properties.push((long_text(), "v".into()));
    refuses(V5, Packet::Connect(Box::new(connect)), too_long("User Property name"));
    let mut ack = PubAck::new(1);
    ack.properties.user_properties.push(("k".into(), long_text()));
    refuses(V5, Packet::PubAck(ack), too_long("User Property value"));
    let mut ack = PubRec::new(1);
    ack.properties.reason_string = Some(long_text());
    refuses(V5, Packet::PubRec(ack), too_long("Reason String"));
    let mut publish = Publish::new("t", "", QoS::AtMostOnce);
    publish.properties.content_type = Some(long_text());
    refuses(V5, Packet::Publish(publish), too_long("Content Type"));
}

#[test]
fn binary_data_longer_than_65535_bytes() {
    let connect = Connect { password: Some(long_bytes()), ..Connect::new("c") };
    refuses(V5, Packet::Connect(Box::new(connect)), too_long("password"));
    let connect =
        Connect { protocol_version: V311, will: Some(Will::new("w", long_bytes())), ..Connect::new("c") };
    refuses(V311, Packet::Connect(Box::new(connect)), too_long("will payload"));
    let mut publish = Publish::new("t", "", QoS::AtMostOnce);
    publish.properties.correlation_data = Some(long_bytes());
    refuses(V5, Packet::Publish(publish), too_long("Correlation Data"));
    // Exactly 65,535 bytes is fine.
    let connect = Connect { password: Some(Bytes::from(vec![0u8; 65_535])), ..Connect::new("c") };
    let packet = Packet::Connect(Box::new(connect));
    let mut buf = BytesMut::new();
    packet.encode(V5, &mut buf).unwrap();
    assert_eq!(packet.encoded_len(V5), Ok(buf.len()));
    assert_eq!(Packet::decode(buf.freeze(), V5), Ok(packet));
}

#[test]
fn subscription_identifier_beyond_a_variable_byte_integer() {
    let mut publish = Publish::new("t", "", QoS::AtMostOnce);
    publish.properties.subscription_identifiers = vec![MAX_VAR_INT + 1];
    let error = ProtocolError::ValueTooLarge {
        what: "Subscription Identifier",
        len: MAX_VAR_INT as usize + 1,
        max: MAX_VAR_INT as usize,
    };
    refuses(V5, Packet::Publish(publish), error.clone());
    let mut subscribe = Subscribe::new(1, vec![Subscription::new("a", QoS::AtMostOnce)]);
    subscribe.properties.subscription_identifier = Some(u32::MAX);
    let error = ProtocolError::ValueTooLarge {
        what: "Subscription Identifier",
        len: u32::MAX as usize,
        max: MAX_VAR_INT as usize,
    };
    refuses(V5, Packet::Subscribe(subscribe), error);
}

#[test]
fn body_over_the_largest_remaining_length() {
    // The payload is never written, so its zeroed pages are never touched.
    let payload = Bytes::from(vec![0u8; MAX_VAR_INT as usize - 2]);
    // Topic "t" takes 3 bytes: one over the limit.
    let publish = Publish::new("t", payload.clone(), QoS::AtMostOnce);
    let error = ProtocolError::PacketTooLarge { size: MAX_PACKET_SIZE + 1, max: MAX_PACKET_SIZE };
    refuses(V311, Packet::Publish(publish.clone()), error.clone());
    let mut buf = BytesMut::from(&b"x"[..]);
    assert_eq!(publish.encode(V311, &mut buf), Err(error.clone()));
    assert_eq!(&buf[..], b"x");
    assert_eq!(publish.encoded_len(V311), Err(error));
    // One byte less fits exactly.
    let publish = Publish::new("t", payload.slice(1..), QoS::AtMostOnce);
    assert_eq!(Packet::Publish(publish).encoded_len(V311), Ok(MAX_PACKET_SIZE));
}

#[test]
fn zero_packet_identifiers() {
    for version in [V311, V5] {
        let cases = [
            (Packet::PubAck(PubAck::new(0)), PacketType::PubAck),
            (Packet::PubRec(PubRec::new(0)), PacketType::PubRec),
            (Packet::PubRel(PubRel::new(0)), PacketType::PubRel),
            (Packet::PubComp(PubComp::new(0)), PacketType::PubComp),
            (Packet::SubAck(SubAck::new(0, vec![ReasonCode::Success])), PacketType::SubAck),
            (Packet::UnsubAck(UnsubAck::new(0, vec![ReasonCode::Success])), PacketType::UnsubAck),
            (Packet::Publish(Publish::new("t", "", QoS::ExactlyOnce)), PacketType::Publish),
        ];
        for (packet, packet_type) in cases {
            refuses(version, packet, ProtocolError::ZeroPacketId(packet_type));
        }
    }
}

#[test]
fn acknowledgements_without_reason_codes() {
    for version in [V311, V5] {
        refuses(
            version,
            Packet::SubAck(SubAck::new(1, vec![])),
            ProtocolError::EmptyPayload(PacketType::SubAck),
        );
    }
    refuses(
        V5,
        Packet::UnsubAck(UnsubAck::new(1, vec![])),
        ProtocolError::EmptyPayload(PacketType::UnsubAck),
    );
}
