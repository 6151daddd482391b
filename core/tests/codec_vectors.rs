//! Byte-exact vectors: each of the 15 packet types, in each version that has it, written out
//! by hand from the specifications (MQTT 3.1.1 §3, MQTT 5.0 §3) and checked both ways:
//! the encoder must produce exactly these bytes and the decoder must read them back into
//! the same packet.
//!
//! Properties are listed in the order the encoder writes them (the spec allows any order).

use ProtocolVersion::{V5, V311};
use bytes::{Bytes, BytesMut};
use mqttkit::protocol::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties, Decoder,
    Disconnect, DisconnectProperties, MAX_VAR_INT, Packet, PayloadFormat, ProtocolVersion, PubAck, PubComp,
    PubRec, PubRel, Publish, PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscribeProperties, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties,
    Will, WillProperties, decode_var_int, var_int_len,
};

/// `packet` encodes to exactly `bytes` and `bytes` decode to `packet`, whole and through
/// the streaming decoder.
#[track_caller]
fn check(version: ProtocolVersion, packet: Packet, bytes: &[u8]) {
    let mut buf = BytesMut::new();
    packet.encode(version, &mut buf).expect("encodes");
    assert_eq!(&buf[..], bytes, "encoding of {packet:?}");
    assert_eq!(packet.encoded_len(version), Ok(bytes.len()));
    check_decode(version, bytes, packet);
}

/// `bytes` decode to `packet` (for encodings that are valid but not the encoder's choice).
#[track_caller]
fn check_decode(version: ProtocolVersion, bytes: &[u8], packet: Packet) {
    assert_eq!(Packet::decode(Bytes::copy_from_slice(bytes), version), Ok(packet.clone()));
    let mut buf = BytesMut::from(bytes);
    assert_eq!(Decoder::new(version).decode(&mut buf), Ok(Some(packet)));
    assert!(buf.is_empty());
}

fn user(name: &str, value: &str) -> (bytestring::ByteString, bytestring::ByteString) {
    (name.into(), value.into())
}

// ---- Variable Byte Integer (MQTT 5.0 §1.5.5, MQTT 3.1.1 §2.2.3) ----

#[test]
fn variable_byte_integer_boundaries_from_the_spec_table() {
    let table: [(u32, &[u8]); 8] = [
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (MAX_VAR_INT, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];
    for (value, bytes) in table {
        assert_eq!(decode_var_int(bytes), Ok(Some((value, bytes.len()))), "{value}");
        assert_eq!(var_int_len(value), bytes.len(), "{value}");
        assert_eq!(decode_var_int(&bytes[..bytes.len() - 1]), Ok(None), "{value} cut short");
    }
}

#[test]
fn remaining_length_of_two_and_three_bytes() {
    for version in [V311, V5] {
        // QoS 0 PUBLISH to "t" (3 bytes), properties (1 byte on 5.0), payload to 128 bytes.
        let props = usize::from(version == V5);
        let payload = vec![b'x'; 128 - 3 - props];
        let packet = Packet::Publish(Publish::new("t", payload.clone(), QoS::AtMostOnce));
        let mut bytes = vec![0x30, 0x80, 0x01, 0x00, 0x01, b't'];
        bytes.extend(std::iter::repeat_n(0x00, props));
        bytes.extend_from_slice(&payload);
        check(version, packet, &bytes);

        let payload = vec![b'y'; 16_384 - 3 - props];
        let packet = Packet::Publish(Publish::new("t", payload.clone(), QoS::AtMostOnce));
        let mut bytes = vec![0x30, 0x80, 0x80, 0x01, 0x00, 0x01, b't'];
        bytes.extend(std::iter::repeat_n(0x00, props));
        bytes.extend_from_slice(&payload);
        check(version, packet, &bytes);
    }
}

// ---- CONNECT (§3.1) ----

#[test]
fn connect_v5_with_properties_will_and_credentials() {
    let connect = Connect {
        protocol_version: V5,
        clean_start: true,
        keep_alive: 60,
        client_id: "c1".into(),
        will: Some(Will {
            topic: "w/t".into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties {
                will_delay_interval: Some(5),
                payload_format_indicator: Some(PayloadFormat::Utf8),
                ..Default::default()
            },
        }),
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"pw")),
        properties: ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: Some(20),
            user_properties: vec![user("k", "v")],
            ..Default::default()
        },
    };
    #[rustfmt::skip]
    let bytes = [
        0x10, 55,                                   // CONNECT, remaining length 55
        0x00, 0x04, b'M', b'Q', b'T', b'T',         // protocol name
        0x05,                                       // protocol level 5
        0xCE,                                       // user name, password, will QoS 1, will, clean start
        0x00, 0x3C,                                 // keep alive 60
        15,                                         // property length
        0x11, 0x00, 0x00, 0x0E, 0x10,               // session expiry interval 3600
        0x21, 0x00, 0x14,                           // receive maximum 20
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v',   // user property k=v
        0x00, 0x02, b'c', b'1',                     // client identifier
        7,                                          // will property length
        0x18, 0x00, 0x00, 0x00, 0x05,               // will delay interval 5
        0x01, 0x01,                                 // payload format indicator: UTF-8
        0x00, 0x03, b'w', b'/', b't',               // will topic
        0x00, 0x03, b'b', b'y', b'e',               // will payload
        0x00, 0x01, b'u',                           // user name
        0x00, 0x02, b'p', b'w',                     // password
    ];
    check(V5, Packet::Connect(Box::new(connect)), &bytes);
}

#[test]
fn connect_v5_minimal() {
    let connect = Connect { keep_alive: 0, ..Connect::new("") };
    let bytes = [0x10, 13, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00];
    check(V5, Packet::Connect(Box::new(connect)), &bytes);
}

#[test]
fn connect_v5_password_without_user_name() {
    let connect = Connect { password: Some(Bytes::from_static(b"p")), ..Connect::new("c") };
    #[rustfmt::skip]
    let bytes = [
        0x10, 17, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
        0x42,                                       // password, clean start
        0x00, 0x3C, 0x00, 0x00, 0x01, b'c', 0x00, 0x01, b'p',
    ];
    check(V5, Packet::Connect(Box::new(connect)), &bytes);
}

#[test]
fn connect_v311_with_will_and_credentials() {
    let connect = Connect {
        protocol_version: V311,
        clean_start: true,
        keep_alive: 10,
        client_id: "id".into(),
        will: Some(Will { qos: QoS::ExactlyOnce, retain: true, ..Will::new("wt", "m") }),
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"p")),
        properties: ConnectProperties::default(),
    };
    #[rustfmt::skip]
    let bytes = [
        0x10, 27,
        0x00, 0x04, b'M', b'Q', b'T', b'T',
        0x04,                                       // protocol level 4
        0xF6,                                       // user name, password, will retain, will QoS 2,
                                                    // will, clean session
        0x00, 0x0A,
        0x00, 0x02, b'i', b'd',
        0x00, 0x02, b'w', b't',
        0x00, 0x01, b'm',
        0x00, 0x01, b'u',
        0x00, 0x01, b'p',
    ];
    // A 3.1.1 CONNECT decodes the same whatever version the decoder was set to.
    check(V311, Packet::Connect(Box::new(connect.clone())), &bytes);
    check(V5, Packet::Connect(Box::new(connect)), &bytes);
}

// ---- CONNACK (§3.2) ----

#[test]
fn connack_v5() {
    let connack = ConnAck {
        session_present: true,
        reason_code: ReasonCode::Success,
        properties: ConnAckProperties {
            assigned_client_identifier: Some("x".into()),
            topic_alias_maximum: Some(10),
            ..Default::default()
        },
    };
    #[rustfmt::skip]
    let bytes = [
        0x20, 10,
        0x01,                                       // session present
        0x00,                                       // Success
        7,
        0x12, 0x00, 0x01, b'x',                     // assigned client identifier
        0x22, 0x00, 0x0A,                           // topic alias maximum 10
    ];
    check(V5, Packet::ConnAck(connack), &bytes);
    check(
        V5,
        Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized, false)),
        &[0x20, 0x03, 0x00, 0x87, 0x00],
    );
}

#[test]
fn connack_v311() {
    check(V311, Packet::ConnAck(ConnAck::new(ReasonCode::Success, true)), &[0x20, 0x02, 0x01, 0x00]);
    let codes = [
        (0x01, ReasonCode::UnsupportedProtocolVersion),
        (0x02, ReasonCode::ClientIdentifierNotValid),
        (0x03, ReasonCode::ServerUnavailable),
        (0x04, ReasonCode::BadUserNameOrPassword),
        (0x05, ReasonCode::NotAuthorized),
    ];
    for (code, reason) in codes {
        check(V311, Packet::ConnAck(ConnAck::new(reason, false)), &[0x20, 0x02, 0x00, code]);
    }
}

// ---- PUBLISH (§3.3) ----

#[test]
fn publish_v5_qos1_retained_with_properties() {
    let publish = Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: "a/b".into(),
        packet_id: 10,
        properties: PublishProperties {
            payload_format_indicator: Some(PayloadFormat::Utf8),
            topic_alias: Some(5),
            subscription_identifiers: vec![129, 2],
            ..Default::default()
        },
        payload: Bytes::from_static(b"hi"),
    };
    #[rustfmt::skip]
    let bytes = [
        0x33, 20,                                   // PUBLISH, QoS 1, RETAIN
        0x00, 0x03, b'a', b'/', b'b',
        0x00, 0x0A,                                 // packet identifier 10
        10,
        0x01, 0x01,                                 // payload format indicator: UTF-8
        0x23, 0x00, 0x05,                           // topic alias 5
        0x0B, 0x81, 0x01,                           // subscription identifier 129
        0x0B, 0x02,                                 // subscription identifier 2
        b'h', b'i',
    ];
    check(V5, Packet::Publish(publish), &bytes);
}

#[test]
fn publish_v5_empty_topic_with_alias() {
    let mut publish = Publish::new("", "x", QoS::AtMostOnce);
    publish.properties.topic_alias = Some(7);
    check(V5, Packet::Publish(publish), &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x07, b'x']);
}

#[test]
fn publish_v5_qos2_dup_empty_payload() {
    let publish = Publish { dup: true, ..Publish::new("t", "", QoS::ExactlyOnce).with_packet_id(0xFFFF) };
    check(V5, Packet::Publish(publish), &[0x3C, 0x06, 0x00, 0x01, b't', 0xFF, 0xFF, 0x00]);
}

#[test]
fn publish_v311() {
    let publish = Publish::new("a/b", "hello", QoS::AtMostOnce);
    let bytes = [0x30, 10, 0x00, 0x03, b'a', b'/', b'b', b'h', b'e', b'l', b'l', b'o'];
    check(V311, Packet::Publish(publish), &bytes);

    let publish =
        Publish { dup: true, ..Publish::new("t", "", QoS::ExactlyOnce).with_packet_id(1).with_retain(true) };
    check(V311, Packet::Publish(publish), &[0x3D, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
}

#[test]
fn publish_qos0_carries_no_packet_identifier() {
    // MQTT-2.2.1-2 / MQTT-2.3.1-5: a packet_id set on a QoS 0 PUBLISH is not written.
    let publish = Publish::new("t", "p", QoS::AtMostOnce).with_packet_id(7);
    let mut buf = BytesMut::new();
    Packet::Publish(publish).encode(V311, &mut buf).unwrap();
    assert_eq!(&buf[..], &[0x30, 0x04, 0x00, 0x01, b't', b'p']);
}

// ---- PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4 to §3.7) ----

#[test]
fn puback_v5_short_and_long_forms() {
    // Remaining Length 2: Success, no properties (§3.4.2.1).
    check(V5, Packet::PubAck(PubAck::new(1)), &[0x40, 0x02, 0x00, 0x01]);
    // Remaining Length 3: a reason code, no properties.
    let packet = Packet::PubAck(PubAck::new(1).with_reason(ReasonCode::NoMatchingSubscribers));
    check(V5, packet, &[0x40, 0x03, 0x00, 0x01, 0x10]);
    // Reason code and properties.
    let ack = PubAck {
        packet_id: 1,
        reason_code: ReasonCode::UnspecifiedError,
        properties: AckProperties { reason_string: Some("r".into()), user_properties: vec![] },
    };
    check(V5, Packet::PubAck(ack), &[0x40, 0x08, 0x00, 0x01, 0x80, 0x04, 0x1F, 0x00, 0x01, b'r']);
    // Longer spellings of Success that a sender may choose.
    check_decode(V5, &[0x40, 0x03, 0x00, 0x01, 0x00], Packet::PubAck(PubAck::new(1)));
    check_decode(V5, &[0x40, 0x04, 0x00, 0x01, 0x00, 0x00], Packet::PubAck(PubAck::new(1)));
}

#[test]
fn pubrec_pubrel_pubcomp_v5() {
    let packet = Packet::PubRec(PubRec::new(2).with_reason(ReasonCode::PacketIdentifierInUse));
    check(V5, packet, &[0x50, 0x03, 0x00, 0x02, 0x91]);
    check(V5, Packet::PubRec(PubRec::new(2)), &[0x50, 0x02, 0x00, 0x02]);
    let packet = Packet::PubRel(PubRel::new(3).with_reason(ReasonCode::PacketIdentifierNotFound));
    check(V5, packet, &[0x62, 0x03, 0x00, 0x03, 0x92]);
    check(V5, Packet::PubRel(PubRel::new(3)), &[0x62, 0x02, 0x00, 0x03]);
    check(V5, Packet::PubComp(PubComp::new(4)), &[0x70, 0x02, 0x00, 0x04]);
    let ack = PubComp {
        packet_id: 4,
        reason_code: ReasonCode::Success,
        properties: AckProperties { reason_string: None, user_properties: vec![user("a", "")] },
    };
    check(
        V5,
        Packet::PubComp(ack),
        &[0x70, 0x0A, 0x00, 0x04, 0x00, 0x06, 0x26, 0x00, 0x01, b'a', 0x00, 0x00],
    );
}

#[test]
fn publish_acks_v311() {
    check(V311, Packet::PubAck(PubAck::new(1)), &[0x40, 0x02, 0x00, 0x01]);
    check(V311, Packet::PubRec(PubRec::new(2)), &[0x50, 0x02, 0x00, 0x02]);
    check(V311, Packet::PubRel(PubRel::new(3)), &[0x62, 0x02, 0x00, 0x03]);
    check(V311, Packet::PubComp(PubComp::new(0xABCD)), &[0x70, 0x02, 0xAB, 0xCD]);
}

// ---- SUBSCRIBE, SUBACK (§3.8, §3.9) ----

#[test]
fn subscribe_v5_with_every_option() {
    let subscribe = Subscribe {
        packet_id: 10,
        subscriptions: vec![
            Subscription {
                filter: "a/+".into(),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            },
            Subscription::new("$share/g/#", QoS::ExactlyOnce),
        ],
        properties: SubscribeProperties { subscription_identifier: Some(5), user_properties: vec![] },
    };
    #[rustfmt::skip]
    let bytes = [
        0x82, 24,
        0x00, 0x0A,
        2, 0x0B, 0x05,                              // subscription identifier 5
        0x00, 0x03, b'a', b'/', b'+',
        0x2D,                                       // Retain Handling 2, RAP, No Local, QoS 1
        0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'#',
        0x02,                                       // QoS 2
    ];
    check(V5, Packet::Subscribe(subscribe), &bytes);
    let options = [(0x10, RetainHandling::SendIfNewSubscription), (0x00, RetainHandling::SendAtSubscribe)];
    for (byte, retain_handling) in options {
        let subscription = Subscription {
            filter: "t".into(),
            options: SubscriptionOptions { retain_handling, ..SubscriptionOptions::new(QoS::AtMostOnce) },
        };
        let packet = Packet::Subscribe(Subscribe::new(1, vec![subscription]));
        check(V5, packet, &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b't', byte]);
    }
}

#[test]
fn subscribe_v311() {
    let subscribe = Subscribe::new(
        1,
        vec![Subscription::new("a/#", QoS::AtLeastOnce), Subscription::new("b", QoS::AtMostOnce)],
    );
    let bytes = [0x82, 12, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'#', 0x01, 0x00, 0x01, b'b', 0x00];
    check(V311, Packet::Subscribe(subscribe), &bytes);
}

#[test]
fn suback_v5() {
    let suback = SubAck::new(
        10,
        vec![
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos2,
            ReasonCode::UnspecifiedError,
            ReasonCode::WildcardSubscriptionsNotSupported,
        ],
    );
    check(V5, Packet::SubAck(suback), &[0x90, 0x07, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80, 0xA2]);
}

#[test]
fn suback_v311() {
    let codes = vec![ReasonCode::Success, ReasonCode::GrantedQos1, ReasonCode::UnspecifiedError];
    check(V311, Packet::SubAck(SubAck::new(1, codes)), &[0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x80]);
    // Every MQTT 5 failure travels as 0x80 on 3.1.1.
    let mut buf = BytesMut::new();
    let packet = Packet::SubAck(SubAck::new(1, vec![ReasonCode::QuotaExceeded]));
    packet.encode(V311, &mut buf).unwrap();
    assert_eq!(&buf[..], &[0x90, 0x03, 0x00, 0x01, 0x80]);
}

// ---- UNSUBSCRIBE, UNSUBACK (§3.10, §3.11) ----

#[test]
fn unsubscribe_v5() {
    let unsubscribe = Unsubscribe {
        packet_id: 3,
        filters: vec!["x/y".into()],
        properties: UnsubscribeProperties { user_properties: vec![user("a", "b")] },
    };
    #[rustfmt::skip]
    let bytes = [
        0xA2, 15,
        0x00, 0x03,
        7, 0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b',
        0x00, 0x03, b'x', b'/', b'y',
    ];
    check(V5, Packet::Unsubscribe(unsubscribe), &bytes);
}

#[test]
fn unsubscribe_v311() {
    let unsubscribe = Unsubscribe::new(3, vec!["x".into(), "+/#".into()]);
    let bytes = [0xA2, 0x0A, 0x00, 0x03, 0x00, 0x01, b'x', 0x00, 0x03, b'+', b'/', b'#'];
    check(V311, Packet::Unsubscribe(unsubscribe), &bytes);
}

#[test]
fn unsuback_v5() {
    let unsuback = UnsubAck::new(3, vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted]);
    check(V5, Packet::UnsubAck(unsuback), &[0xB0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11]);
}

#[test]
fn unsuback_v311() {
    check(V311, Packet::UnsubAck(UnsubAck::new(3, vec![])), &[0xB0, 0x02, 0x00, 0x03]);
}

// ---- PINGREQ, PINGRESP (§3.12, §3.13) ----

#[test]
fn pingreq_and_pingresp() {
    for version in [V311, V5] {
        check(version, Packet::PingReq, &[0xC0, 0x00]);
        check(version, Packet::PingResp, &[0xD0, 0x00]);
    }
}

// ---- DISCONNECT (§3.14) ----

#[test]
fn disconnect_v5() {
    // Remaining Length 0: Normal disconnection (§3.14.2.1).
    check(V5, Packet::Disconnect(Disconnect::default()), &[0xE0, 0x00]);
    let packet = Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWill));
    check(V5, packet, &[0xE0, 0x01, 0x04]);
    let disconnect = Disconnect {
        reason_code: ReasonCode::UseAnotherServer,
        properties: DisconnectProperties { server_reference: Some("s".into()), ..Default::default() },
    };
    check(V5, Packet::Disconnect(disconnect), &[0xE0, 0x06, 0x9C, 0x04, 0x1C, 0x00, 0x01, b's']);
    check_decode(V5, &[0xE0, 0x01, 0x00], Packet::Disconnect(Disconnect::default()));
    check_decode(V5, &[0xE0, 0x02, 0x00, 0x00], Packet::Disconnect(Disconnect::default()));
}

#[test]
fn disconnect_v311() {
    check(V311, Packet::Disconnect(Disconnect::default()), &[0xE0, 0x00]);
}

// ---- AUTH (§3.15, MQTT 5 only) ----

#[test]
fn auth_v5() {
    // Remaining Length 0: Success without properties (§3.15.2.1).
    check(V5, Packet::Auth(Auth::default()), &[0xF0, 0x00]);
    let auth = Auth::new(ReasonCode::ContinueAuthentication, "abc", Some(Bytes::from_static(&[0xFF])));
    #[rustfmt::skip]
    let bytes = [
        0xF0, 12,
        0x18,                                       // Continue authentication
        10,
        0x15, 0x00, 0x03, b'a', b'b', b'c',         // authentication method
        0x16, 0x00, 0x01, 0xFF,                     // authentication data
    ];
    check(V5, Packet::Auth(auth), &bytes);
    let auth = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: AuthProperties { authentication_method: Some("m".into()), ..Default::default() },
    };
    check(V5, Packet::Auth(auth), &[0xF0, 0x06, 0x19, 0x04, 0x15, 0x00, 0x01, b'm']);
}

// ---- The decoder takes the connection's version from CONNECT ----

#[test]
fn decoder_switches_to_the_version_of_connect() {
    // An MQTT 5 CONNECT reaches a decoder set to 3.1.1; the DISCONNECT after it carries a
    // reason code, which only MQTT 5 allows.
    let connect = [0x10, 13, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00];
    let mut buf = BytesMut::from(&connect[..]);
    buf.extend_from_slice(&[0xE0, 0x01, 0x8E]);
    let mut decoder = Decoder::new(V311);
    let packet = decoder.decode(&mut buf).unwrap().unwrap();
    assert!(matches!(packet, Packet::Connect(c) if c.protocol_version == V5 && c.client_id.is_empty()));
    assert_eq!(decoder.version(), V5);
    let disconnect = Disconnect::new(ReasonCode::SessionTakenOver);
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Packet::Disconnect(disconnect))));
}
