//! Proptest strategies for every packet of MQTT 3.1.1 and 5.0, and helpers shared by the
//! codec tests.
//!
//! Every strategy produces packets the codec must accept: a 3.1.1 packet carries no
//! properties and only what 3.1.1 can express, a 5.0 packet anything the spec allows.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use mqttkit::protocol::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    ConnectReturnCode, Disconnect, DisconnectProperties, MAX_VAR_INT, Packet, PacketType, PayloadFormat,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, SubscribeProperties, Subscription, SubscriptionOptions, UnsubAck,
    Unsubscribe, UnsubscribeProperties, UserProperty, Will, WillProperties,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;

/// Encodes `packet` for `version`, panicking on an encoding error.
pub(crate) fn encode(packet: &Packet, version: ProtocolVersion) -> BytesMut {
    let mut buf = BytesMut::new();
    packet.encode(version, &mut buf).unwrap_or_else(|e| panic!("encoding {packet:?}: {e}"));
    buf
}

/// Both protocol versions.
pub(crate) fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

fn packet_id() -> impl Strategy<Value = u16> {
    prop_oneof![Just(1u16), Just(u16::MAX), 1..=u16::MAX]
}

/// A UTF-8 string without U+0000, multi-byte characters included.
fn text() -> impl Strategy<Value = ByteString> {
    "[^\u{0}]{0,12}".prop_map(ByteString::from)
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

/// A valid topic name: non-empty, no wildcards, no U+0000.
fn topic_name() -> impl Strategy<Value = ByteString> {
    prop_oneof![
        "[^\u{0}+#]{1,24}",
        Just("/".to_owned()),
        Just("$SYS/broker/uptime".to_owned()),
        "[a-z]{1,4}(/[a-zé€😀 ]{0,4}){0,4}",
    ]
    .prop_map(ByteString::from)
}

/// A valid topic filter: levels of text, `+` or a final `#`, maybe shared.
fn topic_filter() -> impl Strategy<Value = ByteString> {
    let level = prop_oneof![3 => "[^\u{0}+#/]{0,6}", 1 => Just("+".to_owned())];
    let plain = (vec(level, 1..5), any::<bool>()).prop_map(|(levels, multi)| {
        let mut filter = levels.join("/");
        if multi {
            filter.push_str(if filter.is_empty() { "#" } else { "/#" });
        }
        filter
    });
    let plain = plain.prop_filter("a topic filter is not empty", |f| !f.is_empty());
    (of("[^\u{0}+#/]{1,6}"), plain)
        .prop_map(|(group, filter)| match group {
            Some(group) => format!("$share/{group}/{filter}"),
            None => filter,
        })
        .prop_map(ByteString::from)
}

fn user_properties() -> impl Strategy<Value = Vec<UserProperty>> {
    vec((text(), text()), 0..3)
}

fn subscription_identifier() -> impl Strategy<Value = u32> {
    prop_oneof![Just(1u32), Just(127), Just(128), Just(16_384), Just(MAX_VAR_INT), 1..=MAX_VAR_INT]
}

fn payload_format() -> impl Strategy<Value = PayloadFormat> {
    prop_oneof![Just(PayloadFormat::Unspecified), Just(PayloadFormat::Utf8)]
}

/// A payload that is valid UTF-8 when the format says so.
fn fit_payload(format: Option<PayloadFormat>, payload: Bytes) -> Bytes {
    match format {
        Some(PayloadFormat::Utf8) => Bytes::from(String::from_utf8_lossy(&payload).into_owned()),
        _ => payload,
    }
}

/// The reason codes the spec allows in `packet`.
pub(crate) fn reason_in(packet: PacketType) -> impl Strategy<Value = ReasonCode> {
    select(ReasonCode::ALL.iter().copied().filter(|r| r.allowed_in(packet)).collect::<Vec<_>>())
}

fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (of(text()), user_properties())
        .prop_map(|(reason_string, user_properties)| AckProperties { reason_string, user_properties })
}

fn will(version: ProtocolVersion) -> impl Strategy<Value = Will> {
    let properties = (
        of(any::<u32>()),
        of(payload_format()),
        of(any::<u32>()),
        of(text()),
        of(topic_name()),
        of(binary()),
        user_properties(),
    )
        .prop_map(
            |(
                will_delay_interval,
                payload_format_indicator,
                message_expiry_interval,
                content_type,
                response_topic,
                correlation_data,
                user_properties,
            )| WillProperties {
                will_delay_interval,
                payload_format_indicator,
                message_expiry_interval,
                content_type,
                response_topic,
                correlation_data,
                user_properties,
            },
        );
    let properties = v5_only(version, properties);
    (topic_name(), binary(), qos(), any::<bool>(), properties).prop_map(
        |(topic, payload, qos, retain, properties)| Will {
            payload: fit_payload(properties.payload_format_indicator, payload),
            topic,
            qos,
            retain,
            properties,
        },
    )
}

/// `strategy` on MQTT 5, the empty value on 3.1.1.
fn v5_only<T: Default + std::fmt::Debug + Clone + 'static>(
    version: ProtocolVersion,
    strategy: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    match version {
        ProtocolVersion::V5 => strategy.boxed(),
        ProtocolVersion::V311 => Just(T::default()).boxed(),
    }
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let properties = (
        of(any::<u32>()),
        of(1..=u16::MAX),
        of(1..=u32::MAX),
        of(any::<u16>()),
        of(any::<bool>()),
        of(any::<bool>()),
        of(text()),
        of(binary()),
        user_properties(),
    )
        .prop_map(
            |(
                session_expiry_interval,
                receive_maximum,
                maximum_packet_size,
                topic_alias_maximum,
                request_response_information,
                request_problem_information,
                authentication_method,
                authentication_data,
                user_properties,
            )| ConnectProperties {
                session_expiry_interval,
                receive_maximum,
                maximum_packet_size,
                topic_alias_maximum,
                request_response_information,
                request_problem_information,
                // Authentication Data needs an Authentication Method.
                authentication_data: authentication_data.filter(|_| authentication_method.is_some()),
                authentication_method,
                user_properties,
            },
        );
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        of(will(version)),
        of(text()),
        of(binary()),
        v5_only(version, properties),
    )
        .prop_map(move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
            // MQTT 3.1.1 has no password without a user name.
            let password = password.filter(|_| version == ProtocolVersion::V5 || username.is_some());
            Packet::Connect(Box::new(Connect {
                protocol_version: version,
                clean_start,
                keep_alive,
                client_id,
                will,
                username,
                password,
                properties,
            }))
        })
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    let first = (
        of(any::<u32>()),
        of(1..=u16::MAX),
        of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        of(any::<bool>()),
        of(1..=u32::MAX),
        of(text()),
        of(any::<u16>()),
        of(text()),
        user_properties(),
    );
    let second = (
        of(any::<bool>()),
        of(any::<bool>()),
        of(any::<bool>()),
        of(any::<u16>()),
        of(text()),
        of(text()),
        of(text()),
        of(binary()),
    );
    (first, second).prop_map(
        |(
            (
                session_expiry_interval,
                receive_maximum,
                maximum_qos,
                retain_available,
                maximum_packet_size,
                assigned_client_identifier,
                topic_alias_maximum,
                reason_string,
                user_properties,
            ),
            (
                wildcard_subscription_available,
                subscription_identifiers_available,
                shared_subscription_available,
                server_keep_alive,
                response_information,
                server_reference,
                authentication_method,
                authentication_data,
            ),
        )| ConnAckProperties {
            session_expiry_interval,
            receive_maximum,
            maximum_qos,
            retain_available,
            maximum_packet_size,
            assigned_client_identifier,
            topic_alias_maximum,
            reason_string,
            user_properties,
            wildcard_subscription_available,
            subscription_identifiers_available,
            shared_subscription_available,
            server_keep_alive,
            response_information,
            server_reference,
            authentication_method,
            authentication_data,
        },
    )
}

fn connack(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    match version {
        ProtocolVersion::V5 => (any::<bool>(), reason_in(PacketType::ConnAck), connack_properties())
            .prop_map(|(session_present, reason_code, properties)| {
                Packet::ConnAck(ConnAck { session_present, reason_code, properties })
            })
            .boxed(),
        ProtocolVersion::V311 => (any::<bool>(), 0u8..=5)
            .prop_map(|(session_present, code)| {
                let reason = ConnectReturnCode::from_u8(code).expect("0..=5 are return codes").to_reason();
                Packet::ConnAck(ConnAck::new(reason, session_present))
            })
            .boxed(),
    }
}

fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        of(payload_format()),
        of(any::<u32>()),
        of(1..=u16::MAX),
        of(topic_name()),
        of(binary()),
        user_properties(),
        vec(subscription_identifier(), 0..4),
        of(text()),
    )
        .prop_map(
            |(
                payload_format_indicator,
                message_expiry_interval,
                topic_alias,
                response_topic,
                correlation_data,
                user_properties,
                subscription_identifiers,
                content_type,
            )| PublishProperties {
                payload_format_indicator,
                message_expiry_interval,
                topic_alias,
                response_topic,
                correlation_data,
                user_properties,
                subscription_identifiers,
                content_type,
            },
        )
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let topic = match version {
        // MQTT 5: an empty topic name stands for a Topic Alias.
        ProtocolVersion::V5 => prop_oneof![4 => topic_name(), 1 => Just(ByteString::new())].boxed(),
        ProtocolVersion::V311 => topic_name().boxed(),
    };
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic,
        packet_id(),
        v5_only(version, publish_properties()),
        binary(),
    )
        .prop_map(|(qos, dup, retain, topic, packet_id, mut properties, payload)| {
            if topic.is_empty() && properties.topic_alias.is_none() {
                properties.topic_alias = Some(1);
            }
            Packet::Publish(Publish {
                dup: dup && qos != QoS::AtMostOnce,
                qos,
                retain,
                topic,
                packet_id: if qos == QoS::AtMostOnce { 0 } else { packet_id },
                payload: fit_payload(properties.payload_format_indicator, payload),
                properties,
            })
        })
}

/// The parts of PUBACK, PUBREC, PUBREL and PUBCOMP.
fn ack_parts(
    version: ProtocolVersion,
    packet: PacketType,
) -> impl Strategy<Value = (u16, ReasonCode, AckProperties)> {
    let reason = match version {
        ProtocolVersion::V5 => reason_in(packet).boxed(),
        ProtocolVersion::V311 => Just(ReasonCode::Success).boxed(),
    };
    (packet_id(), reason, v5_only(version, ack_properties()))
}

fn publish_acks(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    prop_oneof![
        ack_parts(version, PacketType::PubAck).prop_map(|(packet_id, reason_code, properties)| {
            Packet::PubAck(PubAck { packet_id, reason_code, properties })
        }),
        ack_parts(version, PacketType::PubRec).prop_map(|(packet_id, reason_code, properties)| {
            Packet::PubRec(PubRec { packet_id, reason_code, properties })
        }),
        ack_parts(version, PacketType::PubRel).prop_map(|(packet_id, reason_code, properties)| {
            Packet::PubRel(PubRel { packet_id, reason_code, properties })
        }),
        ack_parts(version, PacketType::PubComp).prop_map(|(packet_id, reason_code, properties)| {
            Packet::PubComp(PubComp { packet_id, reason_code, properties })
        }),
    ]
}

fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    match version {
        ProtocolVersion::V311 => qos().prop_map(SubscriptionOptions::new).boxed(),
        ProtocolVersion::V5 => (
            qos(),
            any::<bool>(),
            any::<bool>(),
            prop_oneof![
                Just(RetainHandling::SendAtSubscribe),
                Just(RetainHandling::SendIfNewSubscription),
                Just(RetainHandling::DoNotSend),
            ],
        )
            .prop_map(|(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                qos,
                no_local,
                retain_as_published,
                retain_handling,
            })
            .boxed(),
    }
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let subscription = (topic_filter(), subscription_options(version)).prop_map(|(filter, mut options)| {
        // No Local is a Protocol Error on a shared subscription (MQTT-3.8.3-4).
        options.no_local &= !filter.starts_with("$share/");
        Subscription { filter, options }
    });
    let properties = (of(subscription_identifier()), user_properties()).prop_map(
        |(subscription_identifier, user_properties)| SubscribeProperties {
            subscription_identifier,
            user_properties,
        },
    );
    (packet_id(), vec(subscription, 1..4), v5_only(version, properties)).prop_map(
        |(packet_id, subscriptions, properties)| {
            Packet::Subscribe(Subscribe { packet_id, subscriptions, properties })
        },
    )
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let reason = match version {
        ProtocolVersion::V5 => reason_in(PacketType::SubAck).boxed(),
        ProtocolVersion::V311 => select(vec![
            ReasonCode::Success,
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos2,
            ReasonCode::UnspecifiedError,
        ])
        .boxed(),
    };
    (packet_id(), vec(reason, 1..5), v5_only(version, ack_properties())).prop_map(
        |(packet_id, reason_codes, properties)| {
            Packet::SubAck(SubAck { packet_id, reason_codes, properties })
        },
    )
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let properties = user_properties().prop_map(|user_properties| UnsubscribeProperties { user_properties });
    (packet_id(), vec(topic_filter(), 1..4), v5_only(version, properties)).prop_map(
        |(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe { packet_id, filters, properties })
        },
    )
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let reasons = match version {
        ProtocolVersion::V5 => vec(reason_in(PacketType::UnsubAck), 1..5).boxed(),
        ProtocolVersion::V311 => Just(Vec::new()).boxed(),
    };
    (packet_id(), reasons, v5_only(version, ack_properties())).prop_map(
        |(packet_id, reason_codes, properties)| {
            Packet::UnsubAck(UnsubAck { packet_id, reason_codes, properties })
        },
    )
}

fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let properties = (of(any::<u32>()), of(text()), user_properties(), of(text())).prop_map(
        |(session_expiry_interval, reason_string, user_properties, server_reference)| DisconnectProperties {
            session_expiry_interval,
            reason_string,
            user_properties,
            server_reference,
        },
    );
    match version {
        ProtocolVersion::V5 => (reason_in(PacketType::Disconnect), properties)
            .prop_map(|(reason_code, properties)| Packet::Disconnect(Disconnect { reason_code, properties }))
            .boxed(),
        ProtocolVersion::V311 => Just(Packet::Disconnect(Disconnect::default())).boxed(),
    }
}

fn auth() -> impl Strategy<Value = Packet> {
    let properties = (of(text()), of(binary()), of(text()), user_properties()).prop_map(
        |(authentication_method, authentication_data, reason_string, user_properties)| AuthProperties {
            authentication_data: authentication_data.filter(|_| authentication_method.is_some()),
            authentication_method,
            reason_string,
            user_properties,
        },
    );
    (reason_in(PacketType::Auth), properties).prop_map(|(reason_code, mut properties)| {
        // Only the short form (Success, no properties) may leave the method out.
        if reason_code != ReasonCode::Success || properties != AuthProperties::default() {
            properties.authentication_method.get_or_insert_with(|| "SCRAM-SHA-1".into());
        }
        Packet::Auth(Auth { reason_code, properties })
    })
}

/// Any packet that `version` can carry, CONNECT included (with that version).
pub(crate) fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        1 => connect(version),
        1 => connack(version),
        2 => publish(version),
        4 => publish_acks(version),
        1 => subscribe(version),
        1 => suback(version),
        1 => unsubscribe(version),
        1 => unsuback(version),
        1 => Just(Packet::PingReq),
        1 => Just(Packet::PingResp),
        1 => disconnect(version),
    ];
    match version {
        ProtocolVersion::V5 => prop_oneof![12 => common, 1 => auth()].boxed(),
        ProtocolVersion::V311 => common.boxed(),
    }
}

/// A version and a packet of it.
pub(crate) fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|version| (Just(version), packet(version)))
}

/// A version and a few packets of it (a CONNECT among them has that version too, so it
/// leaves a decoder's version as it is).
pub(crate) fn versioned_packets() -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
    version().prop_flat_map(|version| (Just(version), vec(packet(version), 1..8)))
}

/// Raw material for [`loosen`]: which field to change and what to put there.
#[derive(Debug, Clone)]
pub(crate) struct Loosening {
    knob: usize,
    text: String,
    number: u32,
    bytes: Vec<u8>,
}

/// Values for [`loosen`]: strings with wildcards, U+0000 or nothing at all, numbers at
/// and beyond the limits, any bytes.
pub(crate) fn loosening() -> impl Strategy<Value = Loosening> {
    let text = prop_oneof![
        Just(String::new()),
        Just("a\0b".to_owned()),
        Just("a/+/b".to_owned()),
        Just("a/#".to_owned()),
        Just("a#".to_owned()),
        Just("$share/g/a".to_owned()),
        Just("$share//a".to_owned()),
        "[a-z+#/\u{0}]{0,6}",
        any::<String>(),
    ];
    let number = prop_oneof![Just(0u32), Just(3), Just(MAX_VAR_INT), Just(MAX_VAR_INT + 1), any::<u32>()];
    (any::<usize>(), text, number, vec(any::<u8>(), 0..8)).prop_map(|(knob, text, number, bytes)| Loosening {
        knob,
        text,
        number,
        bytes,
    })
}

/// Sets one field of `packet` to a value that may break a rule of the spec, keeping to
/// fields that `version` carries (a 3.1.1 encoding leaves MQTT 5 fields out on purpose).
pub(crate) fn loosen(packet: &mut Packet, version: ProtocolVersion, l: Loosening) {
    let v5 = version == ProtocolVersion::V5;
    let text = ByteString::from(l.text);
    let bytes = Bytes::from(l.bytes);
    let id = l.number as u16;
    let reason = ReasonCode::ALL[l.knob / 16 % ReasonCode::ALL.len()];
    let knob = l.knob % 16;
    match packet {
        Packet::Publish(p) => match knob {
            0 => p.payload = bytes,
            1 => p.topic = text,
            2 => p.dup = true,
            // QoS 0 has no packet identifier: it is documented as not sent.
            3 if p.qos != QoS::AtMostOnce => p.packet_id = id,
            4 if v5 => p.properties.topic_alias = Some(id).filter(|_| l.number.is_multiple_of(2)),
            5 if v5 => p.properties.response_topic = Some(text),
            6 if v5 => p.properties.subscription_identifiers.push(l.number),
            7 if v5 => p.properties.user_properties.push((text.clone(), text)),
            8 if v5 => p.properties.payload_format_indicator = Some(PayloadFormat::Utf8),
            _ => (p.qos, p.packet_id) = (QoS::AtMostOnce, 0),
        },
        Packet::Connect(c) => match knob {
            0 => c.password = Some(bytes),
            1 => c.username = None,
            2 => c.client_id = text,
            3 => c.will.get_or_insert_with(|| Will::new("t", "")).topic = text,
            4 => c.will.get_or_insert_with(|| Will::new("t", "")).payload = bytes,
            5 if v5 => c.properties.authentication_data = Some(bytes),
            6 if v5 => c.properties.authentication_method = None,
            7 if v5 => c.properties.receive_maximum = Some(id),
            8 if v5 => c.properties.maximum_packet_size = Some(l.number),
            9 if v5 => {
                let will = c.will.get_or_insert_with(|| Will::new("t", ""));
                will.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
            }
            10 if v5 => {
                c.will.get_or_insert_with(|| Will::new("t", "")).properties.response_topic = Some(text)
            }
            _ => c.username = Some(text),
        },
        Packet::ConnAck(c) if v5 => match knob {
            0 => c.reason_code = reason,
            1 => c.properties.maximum_qos = QoS::from_u8(l.number as u8 % 3),
            2 => c.properties.receive_maximum = Some(id),
            3 => c.properties.maximum_packet_size = Some(l.number),
            4 => c.properties.authentication_data = Some(bytes),
            _ => c.properties.reason_string = Some(text),
        },
        Packet::PubAck(PubAck { packet_id, reason_code, properties })
        | Packet::PubRec(PubRec { packet_id, reason_code, properties })
        | Packet::PubRel(PubRel { packet_id, reason_code, properties })
        | Packet::PubComp(PubComp { packet_id, reason_code, properties }) => match knob {
            0 => *packet_id = id,
            1 if v5 => *reason_code = reason,
            2 if v5 => properties.reason_string = Some(text),
            _ => {}
        },
        Packet::Subscribe(s) => match knob {
            0 => s.packet_id = id,
            1 => s.subscriptions.clear(),
            2 => s.subscriptions[0].filter = text,
            3 if v5 => s.subscriptions[0].options.no_local = true,
            4 if v5 => s.properties.subscription_identifier = Some(l.number),
            _ => s.subscriptions.push(Subscription::new(text, QoS::AtMostOnce)),
        },
        Packet::Unsubscribe(u) => match knob {
            0 => u.packet_id = id,
            1 => u.filters.clear(),
            _ => u.filters.push(text),
        },
        Packet::SubAck(s) => match knob {
            0 => s.packet_id = id,
            1 => s.reason_codes.clear(),
            2 if v5 => s.reason_codes.push(reason),
            _ => {}
        },
        Packet::UnsubAck(u) => match knob {
            0 => u.packet_id = id,
            1 if v5 => u.reason_codes.clear(),
            2 if v5 => u.reason_codes.push(reason),
            _ => {}
        },
        Packet::Disconnect(d) if v5 => match knob {
            0 => d.reason_code = reason,
            _ => d.properties.server_reference = Some(text),
        },
        Packet::Auth(a) => match knob {
            0 => a.reason_code = reason,
            1 => a.properties.authentication_data = Some(bytes),
            2 => a.properties.authentication_method = None,
            _ => a.properties.reason_string = Some(text),
        },
        _ => {}
    }
}
