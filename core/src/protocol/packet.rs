//! The packet model shared by MQTT 3.1.1 and 5.0, the fixed header, and whole-packet
//! encoding and decoding.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;

use super::error::{ProtocolError, Result};
use super::properties::{PropertySet, read_properties, write_properties};
use super::wire::{Counter, MAX_VAR_INT, Reader, Sink, Writer, decode_var_int, put_var_int, var_int_len};
use super::{
    Auth, ConnAck, Connect, Disconnect, PropertyContext, PubAck, PubComp, PubRec, PubRel, Publish,
    ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe, UserProperty,
};

/// The protocol version of a connection. It decides how packets are encoded; CONNECT carries
/// its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311 = 4,
    /// MQTT 5.0 (protocol level 5).
    V5 = 5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        self as u8
    }

    /// The version with this protocol level.
    pub fn from_level(level: u8) -> Result<Self> {
        match level {
            4 => Ok(ProtocolVersion::V311),
            5 => Ok(ProtocolVersion::V5),
            other => Err(ProtocolError::UnsupportedProtocolVersion(other)),
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V311 => "MQTT 3.1.1",
            ProtocolVersion::V5 => "MQTT 5.0",
        })
    }
}

/// Quality of service of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0: at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once, acknowledged by PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: exactly once, PUBREC / PUBREL / PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this value (0, 1 or 2).
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// Decodes two QoS bits, naming `what` in the error for the value 3.
    pub(crate) fn from_bits(bits: u8, what: &'static str) -> Result<Self> {
        QoS::from_u8(bits).ok_or(ProtocolError::InvalidQos(what))
    }
}

/// The type of a control packet (the high nibble of the first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    /// The packet type with this number (1..=15).
    pub fn from_u8(value: u8) -> Option<Self> {
        use PacketType::*;
        Some(match value {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The packet's name as the spec writes it, e.g. `"PUBACK"`.
    pub fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }

    /// The fixed-header flags the spec prescribes for this type (`MQTT-2.1.3-1`); `None`
    /// for PUBLISH, whose flags carry DUP, QoS and RETAIN.
    pub fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The four flag bits.
    pub flags: u8,
    /// The Remaining Length: bytes after the fixed header.
    pub remaining_len: usize,
    /// Length of the fixed header itself (2 to 5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// Parses a fixed header from the start of `bytes`; `Ok(None)` if more bytes are needed.
    ///
    /// Rejects a reserved packet type, AUTH on MQTT 3.1.1, wrong flag bits
    /// (`MQTT-2.1.3-1`) and a bad Remaining Length (`MQTT-1.5.5-1`) as soon as they are seen,
    /// before any body is buffered.
    pub fn parse(bytes: &[u8], version: ProtocolVersion) -> Result<Option<Self>> {
        let Some(&first) = bytes.first() else { return Ok(None) };
        let type_bits = first >> 4;
        let packet_type = PacketType::from_u8(type_bits)
            .filter(|t| *t != PacketType::Auth || version == ProtocolVersion::V5)
            .ok_or(ProtocolError::InvalidPacketType(type_bits))?;
        let flags = first & 0x0F;
        if packet_type.required_flags().is_some_and(|required| required != flags) {
            return Err(ProtocolError::InvalidHeaderFlags { packet: packet_type, flags });
        }
        Ok(decode_var_int(&bytes[1..])?.map(|(remaining, len)| FixedHeader {
            packet_type,
            flags,
            remaining_len: remaining as usize,
            header_len: 1 + len,
        }))
    }

    /// Length of the whole packet, fixed header included.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// An MQTT control packet of either protocol version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    /// This packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    fn flags(&self) -> u8 {
        match self {
            Packet::Publish(publish) => publish.header_flags(),
            other => other.packet_type().required_flags().unwrap_or(0),
        }
    }

    fn write_body<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        match self {
            Packet::Connect(p) => p.write(sink),
            Packet::ConnAck(p) => p.write(sink, version),
            Packet::Publish(p) => p.write(sink, version),
            Packet::PubAck(p) => p.write(sink, version),
            Packet::PubRec(p) => p.write(sink, version),
            Packet::PubRel(p) => p.write(sink, version),
            Packet::PubComp(p) => p.write(sink, version),
            Packet::Subscribe(p) => p.write(sink, version),
            Packet::SubAck(p) => p.write(sink, version),
            Packet::Unsubscribe(p) => p.write(sink, version),
            Packet::UnsubAck(p) => p.write(sink, version),
            Packet::PingReq | Packet::PingResp => Ok(()),
            Packet::Disconnect(p) => p.write(sink, version),
            Packet::Auth(p) => p.write(sink, version),
        }
    }

    fn version_for(&self, version: ProtocolVersion) -> Result<ProtocolVersion> {
        match self {
            Packet::Connect(connect) => Ok(connect.protocol_version),
            Packet::Auth(_) if version != ProtocolVersion::V5 => {
                Err(ProtocolError::InvalidPacketType(PacketType::Auth as u8))
            }
            _ => Ok(version),
        }
    }

    /// Removes the Reason String and User Properties, the properties a sender must leave out
    /// rather than exceed the receiver's Maximum Packet Size (MQTT-3.2.2-19/20, 3.4.2-2/3,
    /// 3.5.2-2/3, 3.6.2-2/3, 3.7.2-2/3, 3.9.2-1/2, 3.11.2-1/2, 3.14.2-3/4, 3.15.2-2/3).
    /// Returns whether there was anything to remove.
    pub fn strip_diagnostics(&mut self) -> bool {
        fn strip(reason_string: &mut Option<ByteString>, user_properties: &mut Vec<UserProperty>) -> bool {
            let had = reason_string.is_some() || !user_properties.is_empty();
            *reason_string = None;
            user_properties.clear();
            had
        }
        match self {
            Packet::ConnAck(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::PubAck(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::PubRec(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::PubRel(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::PubComp(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::SubAck(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::UnsubAck(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::Disconnect(p) => {
                strip(&mut p.properties.reason_string, &mut p.properties.user_properties)
            }
            Packet::Auth(p) => strip(&mut p.properties.reason_string, &mut p.properties.user_properties),
            Packet::Connect(_)
            | Packet::Publish(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq
            | Packet::PingResp => false,
        }
    }

    /// The number of bytes [`Packet::encode`] writes, fixed header included: compare it with
    /// the peer's Maximum Packet Size before sending.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize> {
        frame_len(self, self.version_for(version)?)
    }

    /// Appends this packet's encoding for `version` to `buf` (CONNECT uses its own
    /// `protocol_version`). Properties and reason codes that MQTT 3.1.1 cannot carry are not
    /// written on a 3.1.1 connection.
    ///
    /// # Errors
    /// A packet mqttkit would refuse to receive is refused here too: an over-long string,
    /// a zero packet identifier where one is required, an invalid topic name, a QoS 0
    /// PUBLISH with DUP, AUTH on 3.1.1, a body over 268,435,455 bytes. Nothing is appended
    /// then.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<()> {
        match self {
            // The hot path: dispatch once instead of at every step of the frame.
            Packet::Publish(publish) => encode_frame::<true, _>(publish, version, buf),
            other => encode_frame::<true, _>(other, other.version_for(version)?, buf),
        }
    }

    /// [`encode`](Packet::encode) without the content checks that scan data: topic name and
    /// filter syntax, U+0000 in strings, UTF-8 of payloads marked UTF-8. Structural checks
    /// (lengths, packet identifiers, reason codes, flags) still apply.
    ///
    /// For packets whose content was validated where it entered the program: a decoded
    /// packet being forwarded, or one built from arguments the caller has checked. mqttkit's
    /// client and broker encode this way on their hot paths.
    ///
    /// # Errors
    /// As [`encode`](Packet::encode), less the skipped checks.
    pub fn encode_unchecked(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<()> {
        match self {
            Packet::Publish(publish) => encode_frame::<false, _>(publish, version, buf),
            other => encode_frame::<false, _>(other, other.version_for(version)?, buf),
        }
    }

    /// Decodes one complete packet (fixed header included) that uses `version`; CONNECT is
    /// decoded whatever `version` says, since it carries its own.
    ///
    /// # Errors
    /// The first thing wrong with the bytes, including a frame whose Remaining Length does
    /// not match its length.
    pub fn decode(mut frame: Bytes, version: ProtocolVersion) -> Result<Packet> {
        let header =
            FixedHeader::parse(&frame, version)?.ok_or(ProtocolError::UnexpectedEnd("fixed header"))?;
        let body_len = frame.len() - header.header_len;
        if body_len < header.remaining_len {
            return Err(ProtocolError::UnexpectedEnd("packet body"));
        }
        if body_len > header.remaining_len {
            return Err(ProtocolError::TrailingBytes {
                packet: header.packet_type,
                extra: body_len - header.remaining_len,
            });
        }
        frame.advance(header.header_len);
        Packet::decode_body(&header, frame, version)
    }

    /// Decodes a packet body (the `remaining_len` bytes after `header`).
    pub(crate) fn decode_body(header: &FixedHeader, body: Bytes, version: ProtocolVersion) -> Result<Packet> {
        let mut r = Reader::new(body);
        let flags = header.flags;
        let packet = match header.packet_type {
            PacketType::Connect => Packet::Connect(Box::new(Connect::read(&mut r)?)),
            PacketType::ConnAck => Packet::ConnAck(ConnAck::read(&mut r, version)?),
            PacketType::Publish => Packet::Publish(Publish::read(flags, &mut r, version)?),
            PacketType::PubAck => Packet::PubAck(PubAck::read(&mut r, version)?),
            PacketType::PubRec => Packet::PubRec(PubRec::read(&mut r, version)?),
            PacketType::PubRel => Packet::PubRel(PubRel::read(&mut r, version)?),
            PacketType::PubComp => Packet::PubComp(PubComp::read(&mut r, version)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe::read(&mut r, version)?),
            PacketType::SubAck => Packet::SubAck(SubAck::read(&mut r, version)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::read(&mut r, version)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::read(&mut r, version)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(Disconnect::read(&mut r, version)?),
            PacketType::Auth => Packet::Auth(Auth::read(&mut r)?),
        };
        if !r.is_empty() {
            return Err(ProtocolError::TrailingBytes { packet: header.packet_type, extra: r.remaining() });
        }
        Ok(packet)
    }
}

/// Writes a whole packet: the fixed header with the body's length (counted by a first pass
/// of `write_body`), then the body, validating its content when `CHECKS`. On error nothing is
/// appended.
pub(crate) fn encode_frame<const CHECKS: bool, B: Frame + ?Sized>(
    frame: &B,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<()> {
    let remaining = match frame.body_len(version) {
        Some(len) if len <= MAX_VAR_INT as usize => len,
        _ => frame_body_len::<false, B>(frame, version)?,
    };
    let start = buf.len();
    buf.reserve(1 + var_int_len(remaining as u32) + remaining);
    let mut writer = Writer::<CHECKS>(buf);
    writer.put_u8(frame.first_byte());
    put_var_int(&mut writer, remaining as u32, "remaining length")?;
    // The checks run in this pass: on a refusal, take back what was written.
    frame.write_body(&mut writer, version).inspect_err(|_| buf.truncate(start))
}

/// The number of bytes [`encode_frame`] writes, after the same checks.
pub(crate) fn frame_len<B: Frame + ?Sized>(frame: &B, version: ProtocolVersion) -> Result<usize> {
    let remaining = frame_body_len::<true, B>(frame, version)?;
    Ok(1 + var_int_len(remaining as u32) + remaining)
}

/// The length of a frame's body, refusing one longer than a Remaining Length can say; with
/// `CHECKS`, also running the checks of the writing pass.
fn frame_body_len<const CHECKS: bool, B: Frame + ?Sized>(
    frame: &B,
    version: ProtocolVersion,
) -> Result<usize> {
    let mut counter = Counter::<CHECKS>::default();
    frame.write_body(&mut counter, version)?;
    let remaining = counter.0;
    if remaining > MAX_VAR_INT as usize {
        return Err(ProtocolError::PacketTooLarge {
            size: 1 + 4 + remaining,
            max: 1 + 4 + MAX_VAR_INT as usize,
        });
    }
    Ok(remaining)
}

/// Something encodable as one packet: a first byte and a body.
pub(crate) trait Frame {
    /// Packet type and flags.
    fn first_byte(&self) -> u8;
    /// The variable header and payload.
    fn write_body<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()>;
    /// The body's length when it is cheap to compute directly; `None` counts it with a pass
    /// of [`Frame::write_body`].
    fn body_len(&self, version: ProtocolVersion) -> Option<usize> {
        let _ = version;
        None
    }
}

impl Frame for Packet {
    fn first_byte(&self) -> u8 {
        ((self.packet_type() as u8) << 4) | self.flags()
    }

    fn write_body<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        Packet::write_body(self, sink, version)
    }

    fn body_len(&self, version: ProtocolVersion) -> Option<usize> {
        match self {
            Packet::Publish(publish) => publish.body_len(version),
            _ => None,
        }
    }
}

/// Reads a non-zero packet identifier (`MQTT-2.2.1-3`).
pub(crate) fn read_packet_id(r: &mut Reader, packet: PacketType) -> Result<u16> {
    match r.u16("packet identifier")? {
        0 => Err(ProtocolError::ZeroPacketId(packet)),
        id => Ok(id),
    }
}

/// Writes a packet identifier, refusing 0.
pub(crate) fn put_packet_id<S: Sink>(sink: &mut S, id: u16, packet: PacketType) -> Result<()> {
    // A plain count may size a packet before its identifier is assigned.
    if id == 0 && (S::CHECKS || S::WRITES) {
        return Err(ProtocolError::ZeroPacketId(packet));
    }
    sink.put_u16(id);
    Ok(())
}

/// Reads a reason code and checks that `packet` may carry it.
pub(crate) fn read_reason_code(r: &mut Reader, packet: PacketType) -> Result<super::ReasonCode> {
    let code = r.u8("reason code")?;
    super::ReasonCode::from_u8(code)
        .filter(|reason| reason.allowed_in(packet))
        .ok_or(ProtocolError::InvalidReasonCode { packet, code })
}

/// Writes a reason code, refusing one that `packet` may not carry.
pub(crate) fn put_reason_code<S: Sink>(
    sink: &mut S,
    reason: super::ReasonCode,
    packet: PacketType,
) -> Result<()> {
    if !reason.allowed_in(packet) {
        return Err(ProtocolError::InvalidReasonCode { packet, code: reason.code() });
    }
    sink.put_u8(reason.code());
    Ok(())
}

/// The tail of PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT and AUTH: an empty tail means Success with no properties, a one-byte
/// tail a reason code alone (MQTT 5.0 §3.4.2.1, §3.14.2.1, §3.15.2.1). On 3.1.1 the tail is
/// empty.
pub(crate) fn read_reason_and_properties<P: PropertySet>(
    r: &mut Reader,
    version: ProtocolVersion,
    packet: PacketType,
) -> Result<(ReasonCode, P)> {
    if version == ProtocolVersion::V311 || r.is_empty() {
        return Ok((ReasonCode::Success, P::default()));
    }
    let reason = read_reason_code(r, packet)?;
    let properties =
        if r.is_empty() { P::default() } else { read_properties(r, PropertyContext::Packet(packet))? };
    Ok((reason, properties))
}

/// Writes that tail in the shortest form the spec allows.
pub(crate) fn write_reason_and_properties<S: Sink, P: PropertySet + PartialEq>(
    sink: &mut S,
    version: ProtocolVersion,
    packet: PacketType,
    reason: ReasonCode,
    properties: &P,
) -> Result<()> {
    if version == ProtocolVersion::V311 {
        return Ok(());
    }
    let no_properties = *properties == P::default();
    if reason == ReasonCode::Success && no_properties {
        return Ok(());
    }
    put_reason_code(sink, reason, packet)?;
    if !no_properties {
        write_properties(sink, properties)?;
    }
    Ok(())
}
