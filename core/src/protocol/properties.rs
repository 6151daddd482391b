//! MQTT 5 properties (§2.2.2): identifiers, where each may appear, and the machinery the
//! packet modules share to read and write their property sets.

use std::fmt;

use bytes::Bytes;
use bytestring::ByteString;

use super::PacketType;
use super::error::{ProtocolError, Result};
use super::topic::{validate_decoded_topic_name, validate_topic_name};
use super::wire::{Reader, Sink, put_binary, put_checked_string, put_string, put_var_int};

/// A User Property: a name/value pair of UTF-8 strings. Order is significant and names may
/// repeat.
pub type UserProperty = (ByteString, ByteString);

/// Where a property set appears: in a packet, or in the will properties of CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    /// The properties of a control packet.
    Packet(PacketType),
    /// The Will Properties in the CONNECT payload.
    Will,
}

impl fmt::Display for PropertyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyContext::Packet(packet) => packet.fmt(f),
            PropertyContext::Will => f.write_str("will properties"),
        }
    }
}

macro_rules! property_ids {
    ($( $name:ident = $id:literal, $label:literal, [$($ctx:ident),+]; )+) => {
        /// A property identifier (MQTT 5.0 table 2-4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum PropertyId {
            $( #[doc = $label] $name = $id, )+
        }

        impl PropertyId {
            /// Every property identifier, in numeric order.
            pub const ALL: &'static [PropertyId] = &[$(PropertyId::$name),+];

            /// The property with this identifier, if MQTT 5 defines one.
            pub fn from_u32(id: u32) -> Option<Self> {
                match id {
                    $( $id => Some(PropertyId::$name), )+
                    _ => None,
                }
            }

            /// The spec's name for this property.
            pub fn name(self) -> &'static str {
                match self { $( PropertyId::$name => $label, )+ }
            }

            /// Whether the spec allows this property in `context`.
            pub fn allowed_in(self, context: PropertyContext) -> bool {
                match self {
                    $( PropertyId::$name => [$(property_ids!(@ctx $ctx)),+].contains(&context), )+
                }
            }
        }
    };
    (@ctx Will) => { PropertyContext::Will };
    (@ctx $packet:ident) => { PropertyContext::Packet(PacketType::$packet) };
}

property_ids! {
    PayloadFormatIndicator = 0x01, "Payload Format Indicator", [Publish, Will];
    MessageExpiryInterval = 0x02, "Message Expiry Interval", [Publish, Will];
    ContentType = 0x03, "Content Type", [Publish, Will];
    ResponseTopic = 0x08, "Response Topic", [Publish, Will];
    CorrelationData = 0x09, "Correlation Data", [Publish, Will];
    SubscriptionIdentifier = 0x0B, "Subscription Identifier", [Publish, Subscribe];
    SessionExpiryInterval = 0x11, "Session Expiry Interval", [Connect, ConnAck, Disconnect];
    AssignedClientIdentifier = 0x12, "Assigned Client Identifier", [ConnAck];
    ServerKeepAlive = 0x13, "Server Keep Alive", [ConnAck];
    AuthenticationMethod = 0x15, "Authentication Method", [Connect, ConnAck, Auth];
    AuthenticationData = 0x16, "Authentication Data", [Connect, ConnAck, Auth];
    RequestProblemInformation = 0x17, "Request Problem Information", [Connect];
    WillDelayInterval = 0x18, "Will Delay Interval", [Will];
    RequestResponseInformation = 0x19, "Request Response Information", [Connect];
    ResponseInformation = 0x1A, "Response Information", [ConnAck];
    ServerReference = 0x1C, "Server Reference", [ConnAck, Disconnect];
    ReasonString = 0x1F, "Reason String", [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth];
    ReceiveMaximum = 0x21, "Receive Maximum", [Connect, ConnAck];
    TopicAliasMaximum = 0x22, "Topic Alias Maximum", [Connect, ConnAck];
    TopicAlias = 0x23, "Topic Alias", [Publish];
    MaximumQos = 0x24, "Maximum QoS", [ConnAck];
    RetainAvailable = 0x25, "Retain Available", [ConnAck];
    UserProperty = 0x26, "User Property", [Connect, ConnAck, Publish, Will, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck, Unsubscribe, UnsubAck, Disconnect, Auth];
    MaximumPacketSize = 0x27, "Maximum Packet Size", [Connect, ConnAck];
    WildcardSubscriptionAvailable = 0x28, "Wildcard Subscription Available", [ConnAck];
    SubscriptionIdentifierAvailable = 0x29, "Subscription Identifier Available", [ConnAck];
    SharedSubscriptionAvailable = 0x2A, "Shared Subscription Available", [ConnAck];
}

impl PropertyId {
    /// Whether the property may appear more than once in `context`: User Property
    /// anywhere, Subscription Identifier only in PUBLISH (one per matching subscription).
    pub fn may_repeat(self, context: PropertyContext) -> bool {
        match self {
            PropertyId::UserProperty => true,
            PropertyId::SubscriptionIdentifier => context == PropertyContext::Packet(PacketType::Publish),
            _ => false,
        }
    }
}

impl fmt::Display for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#04x})", self.name(), *self as u8)
    }
}

/// A packet's property set: how to read one property into it and how to write it all.
pub(crate) trait PropertySet: Default {
    /// Stores the value of property `id`, read from `reader`. Only called for properties
    /// that [`PropertyId::allowed_in`] allows in `context` and that are not duplicates.
    fn read_property(&mut self, id: PropertyId, reader: &mut PropertyReader<'_>) -> Result<()>;

    /// Writes every property that is set.
    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()>;
}

/// Reads the value of one property, checking its range.
pub(crate) struct PropertyReader<'a> {
    reader: &'a mut Reader,
    id: PropertyId,
    context: PropertyContext,
}

impl PropertyReader<'_> {
    fn invalid(&self, value: u32) -> ProtocolError {
        ProtocolError::InvalidPropertyValue { property: self.id, value }
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        self.reader.u8(self.id.name())
    }

    /// A byte that must be 0 or 1.
    pub(crate) fn flag(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.invalid(other.into())),
        }
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        self.reader.u16(self.id.name())
    }

    /// A two-byte integer that must not be 0 (Receive Maximum, Topic Alias).
    pub(crate) fn nonzero_u16(&mut self) -> Result<u16> {
        match self.u16()? {
            0 => Err(self.invalid(0)),
            value => Ok(value),
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.reader.u32(self.id.name())
    }

    /// A four-byte integer that must not be 0 (Maximum Packet Size).
    pub(crate) fn nonzero_u32(&mut self) -> Result<u32> {
        match self.u32()? {
            0 => Err(self.invalid(0)),
            value => Ok(value),
        }
    }

    /// A Variable Byte Integer that must not be 0 (Subscription Identifier).
    pub(crate) fn nonzero_var_int(&mut self) -> Result<u32> {
        match self.reader.var_int(self.id.name())? {
            0 => Err(self.invalid(0)),
            value => Ok(value),
        }
    }

    pub(crate) fn string(&mut self) -> Result<ByteString> {
        self.reader.string(self.id.name())
    }

    pub(crate) fn binary(&mut self) -> Result<Bytes> {
        self.reader.binary(self.id.name())
    }

    /// A Response Topic: a topic name, so no wildcards (as Mosquitto also enforces).
    pub(crate) fn response_topic(&mut self) -> Result<ByteString> {
        let topic = self.string()?;
        validate_decoded_topic_name(&topic).map_err(ProtocolError::InvalidTopicName)?;
        Ok(topic)
    }

    pub(crate) fn string_pair(&mut self) -> Result<UserProperty> {
        self.reader.string_pair(self.id.name())
    }

    /// The error for a property the set does not hold (never reached when the set agrees
    /// with [`PropertyId::allowed_in`], which a test checks).
    pub(crate) fn not_allowed(&self) -> ProtocolError {
        ProtocolError::PropertyNotAllowed { property: self.id, context: self.context }
    }
}

/// Reads a property block (length, then properties) into `P`, checking that each property
/// is allowed in `context` and that only repeatable ones repeat.
pub(crate) fn read_properties<P: PropertySet>(reader: &mut Reader, context: PropertyContext) -> Result<P> {
    let len = reader.var_int("property length")? as usize;
    if len == 0 {
        return Ok(P::default());
    }
    let mut block = Reader::new(reader.take(len, "properties")?);
    let mut set = P::default();
    let mut seen: u64 = 0;
    while !block.is_empty() {
        let raw = block.var_int("property identifier")?;
        let id = PropertyId::from_u32(raw).ok_or(ProtocolError::UnknownProperty(raw))?;
        if !id.allowed_in(context) {
            return Err(ProtocolError::PropertyNotAllowed { property: id, context });
        }
        let bit = 1u64 << (id as u8);
        if seen & bit != 0 && !id.may_repeat(context) {
            return Err(ProtocolError::DuplicateProperty { property: id, context });
        }
        seen |= bit;
        set.read_property(id, &mut PropertyReader { reader: &mut block, id, context })?;
    }
    Ok(set)
}

/// Writes a property block: its length, then the properties.
pub(crate) fn write_properties<S: Sink, P: PropertySet>(sink: &mut S, set: &P) -> Result<()> {
    sink.put_length_prefixed(|sink| set.write_properties(sink))
}

/// Writers for each property value type; `None` writes nothing.
pub(crate) mod put {
    use super::*;

    pub(crate) fn u8<S: Sink>(sink: &mut S, id: PropertyId, value: Option<u8>) {
        if let Some(value) = value {
            sink.put_u8(id as u8);
            sink.put_u8(value);
        }
    }

    pub(crate) fn flag<S: Sink>(sink: &mut S, id: PropertyId, value: Option<bool>) {
        u8(sink, id, value.map(u8::from))
    }

    /// Refuses 0 for the properties where the spec makes 0 a Protocol Error, so that
    /// mqttkit never sends what its peer must reject.
    fn check_nonzero(id: PropertyId, value: u32) -> Result<()> {
        let must_be_nonzero = matches!(
            id,
            PropertyId::ReceiveMaximum
                | PropertyId::TopicAlias
                | PropertyId::MaximumPacketSize
                | PropertyId::SubscriptionIdentifier
        );
        if must_be_nonzero && value == 0 {
            return Err(ProtocolError::InvalidPropertyValue { property: id, value });
        }
        Ok(())
    }

    pub(crate) fn u16<S: Sink>(sink: &mut S, id: PropertyId, value: Option<u16>) -> Result<()> {
        if let Some(value) = value {
            check_nonzero(id, value.into())?;
            sink.put_u8(id as u8);
            sink.put_u16(value);
        }
        Ok(())
    }

    pub(crate) fn u32<S: Sink>(sink: &mut S, id: PropertyId, value: Option<u32>) -> Result<()> {
        if let Some(value) = value {
            check_nonzero(id, value)?;
            sink.put_u8(id as u8);
            sink.put_u32(value);
        }
        Ok(())
    }

    pub(crate) fn var_int<S: Sink>(sink: &mut S, id: PropertyId, value: u32) -> Result<()> {
        check_nonzero(id, value)?;
        sink.put_u8(id as u8);
        put_var_int(sink, value, id.name())
    }

    pub(crate) fn string<S: Sink>(sink: &mut S, id: PropertyId, value: Option<&ByteString>) -> Result<()> {
        if let Some(value) = value {
            sink.put_u8(id as u8);
            put_string(sink, value, id.name())?;
        }
        Ok(())
    }

    pub(crate) fn response_topic<S: Sink>(sink: &mut S, value: Option<&ByteString>) -> Result<()> {
        if let Some(topic) = value {
            if S::CHECKS {
                validate_topic_name(topic).map_err(ProtocolError::InvalidTopicName)?;
            }
            sink.put_u8(PropertyId::ResponseTopic as u8);
            put_checked_string(sink, topic, PropertyId::ResponseTopic.name())?;
        }
        Ok(())
    }

    pub(crate) fn binary<S: Sink>(sink: &mut S, id: PropertyId, value: Option<&Bytes>) -> Result<()> {
        if let Some(value) = value {
            sink.put_u8(id as u8);
            put_binary(sink, value, id.name())?;
        }
        Ok(())
    }

    pub(crate) fn user_properties<S: Sink>(sink: &mut S, pairs: &[UserProperty]) -> Result<()> {
        for (name, value) in pairs {
            sink.put_u8(PropertyId::UserProperty as u8);
            put_string(sink, name, "User Property name")?;
            put_string(sink, value, "User Property value")?;
        }
        Ok(())
    }
}
