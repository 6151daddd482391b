//! [`MalformedPacketGenerator`]: one ready-made byte sequence per rule of the
//! specification that a receiver must enforce, and a catalogue of them all.
//!
//! The bytes are written out here field by field, not produced by mqttkit's encoder, so
//! that they can be used to test mqttkit's own decoder.

use crate::protocol::{ProtocolVersion, ReasonCode};

use super::builder::encode_var_int;

/// Client Identifier of every generated CONNECT.
const CLIENT_ID: &[u8] = b"mqttkit-test";
/// Topic of every generated PUBLISH and SUBSCRIBE unless the case is about the topic.
const TOPIC: &[u8] = b"test/topic";
/// Payload of every generated PUBLISH unless the case is about the payload.
const PAYLOAD: &[u8] = b"hello";

/// How a receiver can tell that a [`MalformedCase`] is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Detection {
    /// From the bytes alone: a decoder ([`crate::protocol::Decoder`]) rejects them.
    Codec,
    /// Only a receiver that enforces a Maximum Packet Size rejects the bytes (for instance a
    /// [`crate::protocol::Decoder::with_max_packet_size`]); without a limit it waits for
    /// the rest of a huge packet.
    PacketSizeLimit,
    /// Only a broker: the bytes decode as a valid packet, and what is wrong depends on
    /// connection state, on what the server announced in CONNACK, or on server policy.
    Broker,
}

/// One entry of [`MalformedPacketGenerator::all`]: a byte sequence, the rule it breaks and
/// what a compliant receiver does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MalformedCase {
    /// The name of the generator function, e.g. `"connect_reserved_flag"`.
    pub name: &'static str,
    /// The numbered conformance statement the bytes violate (`"MQTT-2.1.3-1"`), or, where
    /// the specification states the rule without a number, its section (`"§3.8.2.1.2"`).
    /// Numbers and sections are those of the specification of [`version`](Self::version).
    pub normative: &'static str,
    /// What is wrong, in a sentence or two (the first paragraph of the generator's
    /// documentation).
    pub summary: String,
    /// The protocol version of the connection the bytes are meant for.
    pub version: ProtocolVersion,
    /// Whether the bytes only make sense after a CONNECT (see [`prelude`](Self::prelude)).
    pub needs_connect: bool,
    /// Who can tell that the bytes are wrong.
    pub detection: Detection,
    /// The reason code a compliant receiver sends (in CONNACK when the bytes are a CONNECT,
    /// in DISCONNECT otherwise) before closing the connection; `None` when it closes without
    /// sending any packet (MQTT 3.1.1, where a server sends no DISCONNECT, or before a
    /// CONNECT was accepted).
    pub reason: Option<ReasonCode>,
    /// The bytes to send.
    pub bytes: Vec<u8>,
}

impl MalformedCase {
    /// The CONNECT to send before [`bytes`](Self::bytes) (and whose CONNACK to read), when
    /// [`needs_connect`](Self::needs_connect): [`MalformedPacketGenerator::valid_connect`]
    /// or, for MQTT 3.1.1 cases, [`MalformedPacketGenerator::valid_connect_v311`].
    pub fn prelude(&self) -> Option<Vec<u8>> {
        self.needs_connect.then(|| match self.version {
            ProtocolVersion::V5 => MalformedPacketGenerator::valid_connect(),
            ProtocolVersion::V311 => MalformedPacketGenerator::valid_connect_v311(),
        })
    }
}

/// Byte sequences that break one rule of the MQTT specification each, for testing that a
/// server (or client) rejects them, plus a few valid baselines.
///
/// Each generator's documentation names the rule it breaks, the reason code a compliant
/// receiver answers with, whether it must follow a CONNECT, and who can detect it.
/// [`all`](Self::all) lists every generator as a [`MalformedCase`] with the same
/// information, for looping over them.
///
/// Unless a case says otherwise, packets are MQTT 5, CONNECTs use the client identifier
/// `mqttkit-test`, and PUBLISH and SUBSCRIBE use the topic `test/topic`. Cases marked "send
/// after a CONNECT" are only meaningful on an established connection: send
/// [`valid_connect`](Self::valid_connect) first (or use [`MalformedCase::prelude`]) and read
/// the CONNACK, otherwise a broker closes the connection for the missing CONNECT instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct MalformedPacketGenerator;

// ---------------------------------------------------------------------------------------
// Field encoders: the minimum of MQTT's data representation (§1.5) needed to write packets.

/// A complete packet: first byte, Remaining Length, body.
fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut packet = vec![first_byte];
    packet.extend(encode_var_int(body.len() as u32, 1));
    packet.extend_from_slice(body);
    packet
}

/// A UTF-8 Encoded String or Binary Data field: two-byte length, then the bytes (which are
/// written as given, valid or not).
fn string(bytes: &[u8]) -> Vec<u8> {
    let mut field = (bytes.len() as u16).to_be_bytes().to_vec();
    field.extend_from_slice(bytes);
    field
}

/// An MQTT 5 property block: Property Length, then the already encoded properties.
fn props(properties: &[u8]) -> Vec<u8> {
    let mut block = encode_var_int(properties.len() as u32, 1);
    block.extend_from_slice(properties);
    block
}

/// A CONNECT with Keep Alive 60 and client identifier `mqttkit-test`. `properties` is the
/// encoded property block (MQTT 5; empty for 3.1.1); `rest` follows the client identifier.
fn connect(name: &[u8], level: u8, flags: u8, properties: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut body = string(name);
    body.extend([level, flags, 0x00, 0x3C]);
    body.extend_from_slice(properties);
    body.extend(string(CLIENT_ID));
    body.extend_from_slice(rest);
    frame(0x10, &body)
}

/// An MQTT 5 CONNECT with Clean Start and these properties.
fn connect_v5_with(properties: &[u8]) -> Vec<u8> {
    connect(b"MQTT", 5, 0x02, &props(properties), &[])
}

/// A PUBLISH: `flags` is the low nibble of the first byte; `properties` the encoded property
/// block (empty for 3.1.1).
fn publish(flags: u8, topic: &[u8], packet_id: Option<u16>, properties: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = string(topic);
    if let Some(id) = packet_id {
        body.extend(id.to_be_bytes());
    }
    body.extend_from_slice(properties);
    body.extend_from_slice(payload);
    frame(0x30 | flags, &body)
}

/// A QoS 0 MQTT 5 PUBLISH of `hello` to `test/topic` with these properties.
fn publish_v5_with(properties: &[u8]) -> Vec<u8> {
    publish(0x00, TOPIC, None, &props(properties), PAYLOAD)
}

/// A SUBSCRIBE (packet identifier 1) with an encoded property block and `(filter, options)`
/// pairs; `first_byte` is normally `0x82`.
fn subscribe(first_byte: u8, properties: &[u8], filters: &[(&[u8], u8)]) -> Vec<u8> {
    let mut body = vec![0x00, 0x01];
    body.extend_from_slice(properties);
    for (filter, options) in filters {
        body.extend(string(filter));
        body.push(*options);
    }
    frame(first_byte, &body)
}

/// An MQTT 5 SUBSCRIBE to `test/topic` with this options byte.
fn subscribe_v5_options(options: u8) -> Vec<u8> {
    subscribe(0x82, &props(&[]), &[(TOPIC, options)])
}

/// The first paragraph of a doc comment given as its lines, joined into one line.
fn first_paragraph(lines: &[&str]) -> String {
    let lines: Vec<&str> = lines.iter().map(|line| line.trim()).take_while(|line| !line.is_empty()).collect();
    lines.join(" ")
}

// ---------------------------------------------------------------------------------------
// The generators.

/// Writes the generator functions and [`MalformedPacketGenerator::all`] from one list, so
/// that each function's documentation and its catalogue entry cannot disagree.
macro_rules! generators {
    (@reason none) => { None };
    (@reason $reason:ident) => { Some(ReasonCode::$reason) };
    (@reason_doc none) => {
        "the receiver closes the connection without sending a packet."
    };
    (@reason_doc $reason:ident) => {
        concat!(
            "[`ReasonCode::", stringify!($reason), "`] (in CONNACK if the packet is a CONNECT, ",
            "in DISCONNECT otherwise), then the connection is closed."
        )
    };
    (@version_doc V5) => { "MQTT 5.0." };
    (@version_doc V311) => { "MQTT 3.1.1 (numbers and sections of the 3.1.1 specification)." };
    (@connect_doc true, V5) => { "after [`valid_connect`](Self::valid_connect) and its CONNACK." };
    (@connect_doc true, V311) => {
        "after [`valid_connect_v311`](Self::valid_connect_v311) and its CONNACK."
    };
    (@connect_doc false, $version:ident) => { "as the first packet of a connection." };
    (@detection_doc Codec) => { "the bytes alone (mqttkit's decoder rejects them)." };
    (@detection_doc PacketSizeLimit) => { "a receiver that enforces a Maximum Packet Size." };
    (@detection_doc Broker) => { "a broker only: the bytes decode as a valid packet." };
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $normative:literal, $version:ident, connect: $connect:tt,
            $detection:ident, answer: $reason:ident
        => $body:block
    )+) => {
        impl MalformedPacketGenerator {
            $(
                $(#[doc = $doc])+
                #[doc = ""]
                #[doc = concat!("- **Violates**: `", $normative, "`, ", generators!(@version_doc $version))]
                #[doc = concat!("- **Compliant answer**: ", generators!(@reason_doc $reason))]
                #[doc = concat!("- **Send**: ", generators!(@connect_doc $connect, $version))]
                #[doc = concat!("- **Detectable from**: ", generators!(@detection_doc $detection))]
                pub fn $name() -> Vec<u8> $body
            )+

            /// Every malformed-packet generator of this type, in declaration order, with the
            /// rule each breaks and the expected answer. The valid baselines
            /// ([`valid_connect`](Self::valid_connect) and the like) are not included.
            pub fn all() -> Vec<MalformedCase> {
                vec![$(
                    MalformedCase {
                        name: stringify!($name),
                        normative: $normative,
                        summary: first_paragraph(&[$($doc),+]),
                        version: ProtocolVersion::$version,
                        needs_connect: $connect,
                        detection: Detection::$detection,
                        reason: generators!(@reason $reason),
                        bytes: Self::$name(),
                    }
                ),+]
            }
        }
    };
}

impl MalformedPacketGenerator {
    /// A valid MQTT 5 CONNECT: Clean Start, Keep Alive 60, no properties, client identifier
    /// `mqttkit-test`. Send it before any case that needs a connection.
    pub fn valid_connect() -> Vec<u8> {
        connect_v5_with(&[])
    }

    /// A valid MQTT 3.1.1 CONNECT: Clean Session, Keep Alive 60, client identifier
    /// `mqttkit-test`.
    pub fn valid_connect_v311() -> Vec<u8> {
        connect(b"MQTT", 4, 0x02, &[], &[])
    }

    /// A valid PINGREQ: `C0 00`.
    pub fn valid_pingreq() -> Vec<u8> {
        vec![0xC0, 0x00]
    }

    /// A valid MQTT 5 QoS 0 PUBLISH of `hello` to `test/topic`, without properties.
    pub fn valid_publish() -> Vec<u8> {
        publish_v5_with(&[])
    }

    /// A valid MQTT 5 SUBSCRIBE (packet identifier 1) to `test/topic` with maximum QoS 1.
    pub fn valid_subscribe() -> Vec<u8> {
        subscribe_v5_options(0x01)
    }

    /// A valid DISCONNECT with reason code 0x00 (normal disconnection): `E0 00`.
    pub fn valid_disconnect() -> Vec<u8> {
        vec![0xE0, 0x00]
    }

    /// The catalogue entry of the generator called `name`, if there is one.
    pub fn case(name: &str) -> Option<MalformedCase> {
        Self::all().into_iter().find(|case| case.name == name)
    }
}

generators! {
    // ---- Fixed header ---------------------------------------------------------------

    /// CONNECT whose fixed-header flags are `0001` instead of the reserved `0000`
    /// (first byte `0x11`).
    connect_reserved_flag: "MQTT-2.1.3-1", V5, connect: false, Codec, answer: MalformedPacket => {
        let mut bytes = connect_v5_with(&[]);
        bytes[0] = 0x11;
        bytes
    }

    /// SUBSCRIBE whose fixed-header flags are `0000` instead of the required `0010`
    /// (first byte `0x80`).
    subscribe_reserved_bits: "MQTT-3.8.1-1", V5, connect: true, Codec, answer: MalformedPacket => {
        subscribe(0x80, &props(&[]), &[(TOPIC, 0x01)])
    }

    /// UNSUBSCRIBE whose fixed-header flags are `0000` instead of the required `0010`
    /// (first byte `0xA0`).
    unsubscribe_reserved_bits: "MQTT-3.10.1-1", V5, connect: true, Codec, answer: MalformedPacket => {
        let mut body = vec![0x00, 0x01];
        body.extend(props(&[]));
        body.extend(string(TOPIC));
        frame(0xA0, &body)
    }

    /// PUBREL whose fixed-header flags are `0000` instead of the required `0010`:
    /// `60 02 00 01`.
    pubrel_wrong_flags: "MQTT-3.6.1-1", V5, connect: true, Codec, answer: MalformedPacket => {
        vec![0x60, 0x02, 0x00, 0x01]
    }

    /// DISCONNECT with a reserved fixed-header flag set: `E1 00`.
    disconnect_reserved_flags: "MQTT-3.14.1-1", V5, connect: true, Codec, answer: MalformedPacket => {
        vec![0xE1, 0x00]
    }

    /// AUTH with a reserved fixed-header flag set: `F1 00`.
    auth_reserved_flags: "MQTT-3.15.1-1", V5, connect: true, Codec, answer: MalformedPacket => {
        vec![0xF1, 0x00]
    }

    /// A packet of the reserved type 0: `00 00`.
    reserved_packet_type: "§2.1.2", V5, connect: true, Codec, answer: MalformedPacket => {
        vec![0x00, 0x00]
    }

    /// AUTH (type 15, reserved in MQTT 3.1.1) on a 3.1.1 connection: `F0 00`.
    auth_on_v311: "§2.2.1", V311, connect: true, Codec, answer: none => {
        vec![0xF0, 0x00]
    }

    // ---- Variable Byte Integers and lengths -----------------------------------------

    /// PINGREQ whose Remaining Length 0 is encoded in two bytes: `C0 80 00`.
    non_minimal_variable_length: "MQTT-1.5.5-1", V5, connect: true, Codec, answer: MalformedPacket => {
        vec![0xC0, 0x80, 0x00]
    }

    /// PINGREQ whose Remaining Length has five bytes, where a Variable Byte Integer has at
    /// most four: `C0 80 80 80 80 00`.
    remaining_length_five_bytes: "§1.5.5", V5, connect: true, Codec, answer: MalformedPacket => {
        vec![0xC0, 0x80, 0x80, 0x80, 0x80, 0x00]
    }

    /// PUBLISH whose Property Length is a five-byte Variable Byte Integer
    /// (`80 80 80 80 01`).
    property_length_five_bytes: "§1.5.5", V5, connect: true, Codec, answer: MalformedPacket => {
        publish(0x00, TOPIC, None, &[0x80, 0x80, 0x80, 0x80, 0x01], PAYLOAD)
    }

    /// PUBLISH whose Remaining Length claims the largest possible body, 268,435,455 bytes
    /// (`FF FF FF 7F`), followed by only a few bytes of it.
    ///
    /// A server that announced a Maximum Packet Size (or applies one) must reject it as soon
    /// as it has read the fixed header; one without a limit waits for the rest.
    remaining_length_too_large: "MQTT-3.2.2-15", V5, connect: true, PacketSizeLimit,
        answer: PacketTooLarge => {
        let mut bytes = vec![0x30, 0xFF, 0xFF, 0xFF, 0x7F];
        bytes.extend(string(TOPIC));
        bytes.push(0x00);
        bytes.extend_from_slice(PAYLOAD);
        bytes
    }

    /// PUBLISH whose topic length prefix (10) runs past the end of the packet:
    /// `30 03 00 0A 61`.
    string_length_exceeds_packet: "§1.5.4", V5, connect: true, Codec, answer: MalformedPacket => {
        frame(0x30, &[0x00, 0x0A, b'a'])
    }

    /// PINGREQ with a one-byte body, where PINGREQ has none: `C0 01 00`.
    pingreq_with_body: "§3.12", V5, connect: true, Codec, answer: MalformedPacket => {
        vec![0xC0, 0x01, 0x00]
    }

    // ---- Packet identifiers -----------------------------------------------------------

    /// QoS 0 PUBLISH that carries a Packet Identifier (0x0500) between topic and properties.
    ///
    /// On the wire this is ambiguous: a receiver reads the identifier's bytes as the start
    /// of the properties. 0x0500 is chosen so that an MQTT 5 receiver reads Property Length
    /// 5 and then property identifier 0, which does not exist, so the packet is detectably
    /// malformed. (With other identifiers the same mistake can look like a valid PUBLISH.)
    qos0_with_packet_id: "MQTT-2.2.1-2", V5, connect: true, Codec, answer: MalformedPacket => {
        publish(0x00, TOPIC, Some(0x0500), &props(&[]), PAYLOAD)
    }

    /// QoS 1 PUBLISH with Packet Identifier 0.
    ///
    /// The specification names no reason code; mqttkit answers Protocol Error.
    publish_qos1_packet_id_zero: "MQTT-2.2.1-3", V5, connect: true, Codec, answer: ProtocolError => {
        publish(0x02, TOPIC, Some(0), &props(&[]), PAYLOAD)
    }

    // ---- CONNECT ----------------------------------------------------------------------

    /// CONNECT whose protocol name is `mqtt` instead of `MQTT`.
    incorrect_protocol_name: "MQTT-3.1.2-1", V5, connect: false, Codec,
        answer: UnsupportedProtocolVersion => {
        connect(b"mqtt", 5, 0x02, &props(&[]), &[])
    }

    /// CONNECT with protocol level 6, which no MQTT version uses.
    invalid_protocol_version: "MQTT-3.1.2-2", V5, connect: false, Codec,
        answer: UnsupportedProtocolVersion => {
        connect(b"MQTT", 6, 0x02, &props(&[]), &[])
    }

    /// CONNECT with the reserved bit 0 of the Connect Flags set (flags `0x03`).
    connect_flags_reserved_bit: "MQTT-3.1.2-3", V5, connect: false, Codec, answer: MalformedPacket => {
        connect(b"MQTT", 5, 0x03, &props(&[]), &[])
    }

    /// CONNECT with the Will Flag set but no Will Properties, Will Topic or Will Payload in
    /// the payload (flags `0x06`).
    will_flag_without_payload: "MQTT-3.1.2-9", V5, connect: false, Codec, answer: MalformedPacket => {
        connect(b"MQTT", 5, 0x06, &props(&[]), &[])
    }

    /// CONNECT with Will QoS 1 but the Will Flag clear (flags `0x0A`).
    will_qos_without_will_flag: "MQTT-3.1.2-11", V5, connect: false, Codec, answer: MalformedPacket => {
        connect(b"MQTT", 5, 0x0A, &props(&[]), &[])
    }

    /// CONNECT with a will of QoS 3 (flags `0x1E`), a Malformed Packet.
    will_qos_three: "MQTT-3.1.2-12", V5, connect: false, Codec, answer: MalformedPacket => {
        let mut will = props(&[]);
        will.extend(string(b"will/topic"));
        will.extend(string(b"bye"));
        connect(b"MQTT", 5, 0x1E, &props(&[]), &will)
    }

    /// CONNECT with Will Retain set but the Will Flag clear (flags `0x22`).
    will_retain_without_will_flag: "MQTT-3.1.2-13", V5, connect: false, Codec, answer: MalformedPacket => {
        connect(b"MQTT", 5, 0x22, &props(&[]), &[])
    }

    /// MQTT 3.1.1 CONNECT with the Password Flag set and the User Name Flag clear (flags
    /// `0x42`), which 3.1.1 forbids (MQTT 5 allows it).
    password_without_username_v311: "MQTT-3.1.2-22", V311, connect: false, Codec, answer: none => {
        connect(b"MQTT", 4, 0x42, &[], &string(b"secret"))
    }

    /// CONNECT whose client identifier is 65,535 bytes long (the longest a string can be).
    ///
    /// A server must accept identifiers of 1 to 23 alphanumeric characters and may accept
    /// others; one that rejects this identifier answers Client Identifier not valid
    /// (`MQTT-3.1.3-8`).
    client_id_too_long: "MQTT-3.1.3-5", V5, connect: false, Broker, answer: ClientIdentifierNotValid => {
        let mut body = string(b"MQTT");
        body.extend([5, 0x02, 0x00, 0x3C]);
        body.extend(props(&[]));
        body.extend(string(&[b'a'; u16::MAX as usize]));
        frame(0x10, &body)
    }

    /// CONNECT whose Receive Maximum property is 0.
    receive_maximum_zero: "§3.1.2.11.3", V5, connect: false, Codec, answer: ProtocolError => {
        connect_v5_with(&[0x21, 0x00, 0x00])
    }

    /// CONNECT whose Maximum Packet Size property is 0.
    maximum_packet_size_zero: "§3.1.2.11.4", V5, connect: false, Codec, answer: ProtocolError => {
        connect_v5_with(&[0x27, 0x00, 0x00, 0x00, 0x00])
    }

    /// CONNECT with the Session Expiry Interval property twice (a duplicate property).
    duplicate_session_expiry_interval: "§3.1.2.11.2", V5, connect: false, Codec, answer: ProtocolError => {
        connect_v5_with(&[0x11, 0x00, 0x00, 0x00, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x14])
    }

    /// CONNECT with Authentication Data but no Authentication Method.
    auth_data_without_method: "§3.1.2.11.10", V5, connect: false, Codec, answer: ProtocolError => {
        connect_v5_with(&[0x16, 0x00, 0x01, 0xAB])
    }

    /// A second CONNECT on the same connection.
    ///
    /// The bytes are those of [`valid_connect`](Self::valid_connect).
    second_connect: "MQTT-3.1.0-2", V5, connect: true, Broker, answer: ProtocolError => {
        connect_v5_with(&[])
    }

    /// A PINGREQ as the first packet of a connection, where the first packet must be
    /// CONNECT.
    first_packet_not_connect: "MQTT-3.1.0-1", V5, connect: false, Broker, answer: none => {
        vec![0xC0, 0x00]
    }

    // ---- PUBLISH ----------------------------------------------------------------------

    /// PUBLISH with both QoS bits set (first byte `0x36`).
    invalid_qos_both_bits: "MQTT-3.3.1-4", V5, connect: true, Codec, answer: MalformedPacket => {
        publish(0x06, TOPIC, Some(1), &props(&[]), PAYLOAD)
    }

    /// QoS 0 PUBLISH with the DUP flag set (first byte `0x38`).
    ///
    /// The specification names no reason code; mqttkit answers Malformed Packet.
    dup_with_qos0: "MQTT-3.3.1-2", V5, connect: true, Codec, answer: MalformedPacket => {
        publish(0x08, TOPIC, None, &props(&[]), PAYLOAD)
    }

    /// PUBLISH with a zero-length topic name and no Topic Alias, a Protocol Error
    /// (MQTT 5.0 §3.3.2.1).
    empty_topic_name: "MQTT-4.7.3-1", V5, connect: true, Codec, answer: ProtocolError => {
        publish(0x00, b"", None, &props(&[]), PAYLOAD)
    }

    /// PUBLISH to the topic name `test/+/topic`, which contains a wildcard.
    ///
    /// The specification names no reason code; mqttkit answers Topic Name invalid.
    topic_with_wildcards: "MQTT-3.3.2-2", V5, connect: true, Codec, answer: TopicNameInvalid => {
        publish(0x00, b"test/+/topic", None, &props(&[]), PAYLOAD)
    }

    /// PUBLISH whose topic name is not UTF-8: `test/` followed by the byte `0xFF`.
    topic_invalid_utf8: "MQTT-1.5.4-1", V5, connect: true, Codec, answer: MalformedPacket => {
        publish(0x00, b"test/\xFF", None, &props(&[]), PAYLOAD)
    }

    /// PUBLISH whose topic name contains an encoded UTF-16 surrogate (U+D800, `ED A0 80`),
    /// which UTF-8 forbids.
    topic_encoded_surrogate: "MQTT-1.5.4-1", V5, connect: true, Codec, answer: MalformedPacket => {
        publish(0x00, b"test/\xED\xA0\x80", None, &props(&[]), PAYLOAD)
    }

    /// PUBLISH whose topic name contains the null character U+0000 (`test/` then `00`).
    topic_null_character: "MQTT-1.5.4-2", V5, connect: true, Codec, answer: MalformedPacket => {
        publish(0x00, b"test/\x00", None, &props(&[]), PAYLOAD)
    }

    /// PUBLISH with Topic Alias 0 (property `23 00 00`).
    ///
    /// MQTT 5.0 §3.3.4 names the answer: DISCONNECT with Topic Alias invalid.
    topic_alias_zero: "MQTT-3.3.2-8", V5, connect: true, Codec, answer: TopicAliasInvalid => {
        publish_v5_with(&[0x23, 0x00, 0x00])
    }

    /// PUBLISH with the Topic Alias property twice (`23 00 01 23 00 01`).
    duplicate_topic_alias: "§3.3.2.3.4", V5, connect: true, Codec, answer: ProtocolError => {
        publish_v5_with(&[0x23, 0x00, 0x01, 0x23, 0x00, 0x01])
    }

    /// PUBLISH with Topic Alias 65,535, above the Topic Alias Maximum of any server that
    /// does not announce 65,535 in its CONNACK (servers announce none, meaning 0, by
    /// default).
    topic_alias_above_maximum: "MQTT-3.2.2-17", V5, connect: true, Broker, answer: TopicAliasInvalid => {
        publish_v5_with(&[0x23, 0xFF, 0xFF])
    }

    /// PUBLISH from the client carrying a Subscription Identifier (property `0B 01`), which
    /// only server-to-client PUBLISH packets may carry.
    publish_with_subscription_identifier: "MQTT-3.3.4-6", V5, connect: true, Broker,
        answer: ProtocolError => {
        publish_v5_with(&[0x0B, 0x01])
    }

    /// PUBLISH with Payload Format Indicator 1 (UTF-8) and the payload `FF FE FD`, which is
    /// not UTF-8.
    ///
    /// A receiver may validate the payload; one that does answers Payload format invalid.
    payload_format_invalid: "§3.3.2.3.2", V5, connect: true, Codec, answer: PayloadFormatInvalid => {
        publish(0x00, TOPIC, None, &props(&[0x01, 0x01]), &[0xFF, 0xFE, 0xFD])
    }

    /// PUBLISH with a Session Expiry Interval property, which PUBLISH may not carry.
    property_not_allowed: "§2.2.2.2", V5, connect: true, Codec, answer: MalformedPacket => {
        publish_v5_with(&[0x11, 0x00, 0x00, 0x00, 0x0A])
    }

    /// PUBLISH with the property identifier `0x7F`, which MQTT 5 does not define.
    unknown_property: "§2.2.2.2", V5, connect: true, Codec, answer: MalformedPacket => {
        publish_v5_with(&[0x7F, 0x00])
    }

    /// PUBLISH with a User Property whose name is not UTF-8 (the lone byte `0xC3`).
    user_property_invalid_utf8: "MQTT-1.5.7-1", V5, connect: true, Codec, answer: MalformedPacket => {
        let mut property = vec![0x26];
        property.extend(string(b"\xC3"));
        property.extend(string(b"value"));
        publish_v5_with(&property)
    }

    // ---- SUBSCRIBE and UNSUBSCRIBE -----------------------------------------------------

    /// SUBSCRIBE whose subscription options byte has the reserved bits 6 and 7 set
    /// (`0xC1`).
    subscription_options_reserved_bits: "MQTT-3.8.3-5", V5, connect: true, Codec, answer: MalformedPacket => {
        subscribe_v5_options(0xC1)
    }

    /// SUBSCRIBE with Retain Handling 3 (options `0x31`), a Protocol Error.
    retain_handling_three: "§3.8.3.1", V5, connect: true, Codec, answer: ProtocolError => {
        subscribe_v5_options(0x31)
    }

    /// SUBSCRIBE with Maximum QoS 3 (options `0x03`), a Protocol Error.
    subscription_qos_three: "§3.8.3.1", V5, connect: true, Codec, answer: ProtocolError => {
        subscribe_v5_options(0x03)
    }

    /// SUBSCRIBE with Subscription Identifier 0 (property `0B 00`).
    subscription_identifier_zero: "§3.8.2.1.2", V5, connect: true, Codec, answer: ProtocolError => {
        subscribe(0x82, &props(&[0x0B, 0x00]), &[(TOPIC, 0x01)])
    }

    /// SUBSCRIBE to the shared subscription `$share/group/test/topic` with No Local set
    /// (options `0x05`).
    no_local_on_shared_subscription: "MQTT-3.8.3-4", V5, connect: true, Codec, answer: ProtocolError => {
        subscribe(0x82, &props(&[]), &[(b"$share/group/test/topic", 0x05)])
    }

    /// SUBSCRIBE to the topic filter `test/#/topic`, where `#` is not the last level.
    ///
    /// A server answers Topic Filter invalid, in the SUBACK entry for that filter or, as
    /// mqttkit does, in a DISCONNECT.
    subscribe_multi_level_wildcard_not_last: "MQTT-4.7.1-1", V5, connect: true, Codec,
        answer: TopicFilterInvalid => {
        subscribe(0x82, &props(&[]), &[(b"test/#/topic", 0x01)])
    }

    /// SUBSCRIBE to the topic filter `test/topic+`, where `+` shares a level with other
    /// characters.
    ///
    /// A server answers Topic Filter invalid, in the SUBACK entry for that filter or, as
    /// mqttkit does, in a DISCONNECT.
    subscribe_single_level_wildcard_not_alone: "MQTT-4.7.1-2", V5, connect: true, Codec,
        answer: TopicFilterInvalid => {
        subscribe(0x82, &props(&[]), &[(b"test/topic+", 0x01)])
    }

    /// SUBSCRIBE to an empty topic filter.
    ///
    /// A server answers Topic Filter invalid, in the SUBACK entry for that filter or, as
    /// mqttkit does, in a DISCONNECT.
    subscribe_empty_topic_filter: "MQTT-4.7.3-1", V5, connect: true, Codec, answer: TopicFilterInvalid => {
        subscribe(0x82, &props(&[]), &[(b"", 0x01)])
    }

    /// SUBSCRIBE to the shared subscription `$share//test/topic`, whose ShareName is empty.
    ///
    /// A server answers Topic Filter invalid, in the SUBACK entry for that filter or, as
    /// mqttkit does, in a DISCONNECT.
    shared_subscription_empty_share_name: "MQTT-4.8.2-1", V5, connect: true, Codec,
        answer: TopicFilterInvalid => {
        subscribe(0x82, &props(&[]), &[(b"$share//test/topic", 0x01)])
    }

    /// SUBSCRIBE without any topic filter: `82 03 00 01 00`.
    subscribe_no_filters: "MQTT-3.8.3-2", V5, connect: true, Codec, answer: ProtocolError => {
        subscribe(0x82, &props(&[]), &[])
    }

    /// UNSUBSCRIBE without any topic filter: `A2 03 00 01 00`.
    unsubscribe_no_filters: "MQTT-3.10.3-2", V5, connect: true, Codec, answer: ProtocolError => {
        let mut body = vec![0x00, 0x01];
        body.extend(props(&[]));
        frame(0xA2, &body)
    }

    // ---- AUTH -------------------------------------------------------------------------

    /// AUTH with reason code 0x18 (Continue authentication) and no Authentication Method:
    /// `F0 02 18 00`.
    ///
    /// After [`valid_connect`](Self::valid_connect), which names no Authentication Method,
    /// any AUTH is a Protocol Error too (MQTT 5.0 §3.15); the answer is the same.
    auth_without_method: "§3.15.2.2.2", V5, connect: true, Codec, answer: ProtocolError => {
        vec![0xF0, 0x02, 0x18, 0x00]
    }

    // ---- DISCONNECT ---------------------------------------------------------------------

    /// DISCONNECT with the reason code 0x03, which is not defined: `E0 01 03`.
    ///
    /// The specification names no reason code for the answer; mqttkit answers Protocol
    /// Error.
    disconnect_invalid_reason_code: "MQTT-3.14.2-1", V5, connect: true, Codec, answer: ProtocolError => {
        vec![0xE0, 0x01, 0x03]
    }
}
