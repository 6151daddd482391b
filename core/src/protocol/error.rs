//! The codec's error type: what was wrong, and the reason code the receiver answers with.

use super::{PacketType, PropertyContext, PropertyId, ReasonCode, topic::TopicError};

/// Everything that can be wrong with bytes on the wire (decoding) or with a packet that is
/// about to be written (encoding).
///
/// Each kind maps to the reason code the receiver of such a packet must answer with
/// ([`ProtocolError::reason_code`]): `0x81` Malformed Packet, `0x82` Protocol Error,
/// `0x95` Packet Too Large, `0x99` Payload Format Invalid, and so on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The packet type nibble is 0 (reserved), or 15 (AUTH) on an MQTT 3.1.1 connection.
    #[error("invalid packet type {0} in fixed header")]
    InvalidPacketType(u8),
    /// Reserved fixed-header flag bits have a value other than the one the spec fixes
    /// (`MQTT-2.1.3-1`).
    #[error("invalid fixed header flags {flags:#06b} for {packet}")]
    InvalidHeaderFlags {
        /// The packet whose flags were wrong.
        packet: PacketType,
        /// The four flag bits received.
        flags: u8,
    },
    /// A Variable Byte Integer has a fifth byte (MQTT 5.0 §1.5.5: at most four bytes).
    #[error("variable byte integer is longer than 4 bytes")]
    VarIntTooLong,
    /// A Variable Byte Integer is not encoded in the minimum number of bytes
    /// (`MQTT-1.5.5-1`).
    #[error("variable byte integer is not minimally encoded")]
    VarIntNotMinimal,
    /// The packet is larger than the configured or negotiated Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Size of the whole packet (fixed header included), in bytes.
        size: usize,
        /// The maximum that applied.
        max: usize,
    },
    /// The packet ended before a field was complete.
    #[error("packet ended while reading {0}")]
    UnexpectedEnd(&'static str),
    /// Bytes were left over after the last field of a packet.
    #[error("{extra} unexpected trailing bytes after {packet}")]
    TrailingBytes {
        /// The packet that had trailing bytes.
        packet: PacketType,
        /// How many bytes were left over.
        extra: usize,
    },
    /// A UTF-8 Encoded String is ill-formed (`MQTT-1.5.4-1`, which also rules out encoded
    /// surrogates U+D800..U+DFFF).
    #[error("{0} is not well-formed UTF-8")]
    InvalidUtf8(&'static str),
    /// A UTF-8 Encoded String contains U+0000 (`MQTT-1.5.4-2`).
    #[error("{0} contains the null character U+0000")]
    NullCharacter(&'static str),
    /// A string or binary field is longer than 65,535 bytes, or an integer is out of the
    /// range its encoding allows (encoding only).
    #[error("{what} is too long to encode: {len} (maximum {max})")]
    ValueTooLarge {
        /// The field.
        what: &'static str,
        /// Its length or value.
        len: usize,
        /// The largest that can be encoded.
        max: usize,
    },
    /// A QoS value of 3 (`MQTT-3.3.1-4`; also in CONNECT will flags and, on MQTT 3.1.1,
    /// subscription options).
    #[error("invalid QoS value 3 in {0}")]
    InvalidQos(&'static str),
    /// DUP set on a QoS 0 PUBLISH (`MQTT-3.3.1-2`).
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupWithQos0,
    /// The protocol name in CONNECT is not `MQTT` (`MQTT-3.1.2-1`).
    #[error("protocol name {0:?} is not \"MQTT\"")]
    InvalidProtocolName(String),
    /// The protocol level in CONNECT is neither 4 (3.1.1) nor 5 (`MQTT-3.1.2-2`).
    #[error("unsupported protocol level {0} (supported: 4 = MQTT 3.1.1, 5 = MQTT 5.0)")]
    UnsupportedProtocolVersion(u8),
    /// A CONNECT flag combination the spec forbids.
    #[error("invalid CONNECT flags: {0}")]
    InvalidConnectFlags(&'static str),
    /// Reserved CONNACK acknowledge flag bits 7..1 are set (`MQTT-3.2.2-1`).
    #[error("reserved CONNACK flag bits are set: {0:#04x}")]
    InvalidConnAckFlags(u8),
    /// Authentication Data without an Authentication Method (MQTT 5.0 §3.1.2.11.10).
    #[error("Authentication Data is present without an Authentication Method")]
    AuthDataWithoutMethod,
    /// AUTH without an Authentication Method, other than the short Success form
    /// (MQTT 5.0 §3.15.2.2.2).
    #[error("AUTH carries no Authentication Method")]
    AuthMethodMissing,
    /// A packet identifier of 0 where a non-zero one is required (`MQTT-2.2.1-3`).
    #[error("{0} has packet identifier 0")]
    ZeroPacketId(PacketType),
    /// A property identifier this codec does not know.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property that may not appear in this packet.
    #[error("property {property} is not allowed in {context}")]
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// Where it appeared.
        context: PropertyContext,
    },
    /// A property that may appear at most once appeared again.
    #[error("property {property} appears more than once in {context}")]
    DuplicateProperty {
        /// The property.
        property: PropertyId,
        /// Where it appeared.
        context: PropertyContext,
    },
    /// A property value outside its allowed range (Topic Alias 0, Receive Maximum 0, a
    /// flag other than 0 or 1, ...): a Protocol Error, answered with Topic Alias invalid for
    /// a Topic Alias (MQTT 5.0 §3.3.4).
    #[error("property {property} has invalid value {value}")]
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// The value received.
        value: u32,
    },
    /// A reason code that is not defined for this packet.
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The packet.
        packet: PacketType,
        /// The code received.
        code: u8,
    },
    /// A topic name is not valid (wildcards, empty, ...).
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// A topic filter is not valid.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// PUBLISH with a zero-length topic and no Topic Alias (MQTT 5.0 §3.3.2.1).
    #[error("PUBLISH has an empty topic name and no topic alias")]
    EmptyTopicWithoutAlias,
    /// SUBSCRIBE or UNSUBSCRIBE with no topic filter (`MQTT-3.8.3-2`, `MQTT-3.10.3-2`),
    /// or SUBACK with no reason code.
    #[error("{0} carries no topic filter or reason code")]
    EmptyPayload(PacketType),
    /// Reserved bits of a subscription options byte are set (`MQTT-3.8.3-5`).
    #[error("invalid subscription options byte {0:#04x}")]
    InvalidSubscriptionOptions(u8),
    /// An MQTT 5 subscription options byte has Maximum QoS 3 or Retain Handling 3: a
    /// Protocol Error (MQTT 5.0 §3.8.3.1), where set reserved bits are a Malformed Packet.
    #[error("subscription options byte {0:#04x} has Maximum QoS 3 or Retain Handling 3")]
    InvalidSubscriptionOptionValue(u8),
    /// No Local set on a shared subscription (`MQTT-3.8.3-4`).
    #[error("No Local is set on shared subscription {0:?}")]
    NoLocalOnSharedSubscription(String),
    /// Payload Format Indicator says UTF-8 but the payload is not (MQTT 5.0 §3.3.2.3.2).
    #[error("payload is marked as UTF-8 but is not valid UTF-8")]
    PayloadFormatInvalid,
}

impl ProtocolError {
    /// The MQTT 5 reason code a receiver of the offending packet answers with (in the
    /// CONNACK or DISCONNECT it sends before closing the connection).
    pub fn reason_code(&self) -> ReasonCode {
        use ProtocolError::*;
        match self {
            InvalidPropertyValue { property: PropertyId::TopicAlias, .. } => ReasonCode::TopicAliasInvalid,
            InvalidPacketType(_)
            | InvalidHeaderFlags { .. }
            | VarIntTooLong
            | VarIntNotMinimal
            | UnexpectedEnd(_)
            | TrailingBytes { .. }
            | InvalidUtf8(_)
            | NullCharacter(_)
            | ValueTooLarge { .. }
            | InvalidQos(_)
            | DupWithQos0
            | InvalidConnectFlags(_)
            | InvalidConnAckFlags(_)
            | UnknownProperty(_)
            | PropertyNotAllowed { .. }
            | InvalidSubscriptionOptions(_) => ReasonCode::MalformedPacket,
            ZeroPacketId(_)
            | DuplicateProperty { .. }
            | InvalidPropertyValue { .. }
            | InvalidReasonCode { .. }
            | AuthDataWithoutMethod
            | AuthMethodMissing
            | EmptyTopicWithoutAlias
            | EmptyPayload(_)
            | InvalidSubscriptionOptionValue(_)
            | NoLocalOnSharedSubscription(_) => ReasonCode::ProtocolError,
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            InvalidProtocolName(_) | UnsupportedProtocolVersion(_) => ReasonCode::UnsupportedProtocolVersion,
            InvalidTopicName(_) => ReasonCode::TopicNameInvalid,
            InvalidTopicFilter(_) => ReasonCode::TopicFilterInvalid,
            PayloadFormatInvalid => ReasonCode::PayloadFormatInvalid,
        }
    }
}

/// Result of codec operations.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_alias_0_is_answered_with_topic_alias_invalid() {
        let error = ProtocolError::InvalidPropertyValue { property: PropertyId::TopicAlias, value: 0 };
        assert_eq!(error.reason_code(), ReasonCode::TopicAliasInvalid);
        let error = ProtocolError::InvalidPropertyValue { property: PropertyId::ReceiveMaximum, value: 0 };
        assert_eq!(error.reason_code(), ReasonCode::ProtocolError);
    }
}
