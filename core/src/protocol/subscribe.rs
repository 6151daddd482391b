//! SUBSCRIBE (§3.8), SUBACK (§3.9), UNSUBSCRIBE (§3.10), UNSUBACK (§3.11).

use bytestring::ByteString;

use super::error::{ProtocolError, Result};
use super::packet::{put_packet_id, put_reason_code, read_packet_id, read_reason_code};
use super::properties::{PropertyReader, PropertySet, UserProperty, put, read_properties, write_properties};
use super::publish::AckProperties;
use super::topic::{SHARED_PREFIX, validate_topic_filter};
use super::wire::{Reader, Sink, put_checked_string};
use super::{PacketType, PropertyContext, PropertyId, ProtocolVersion, QoS, ReasonCode};

/// Retain Handling subscription option: when retained messages are sent for a new
/// subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist yet.
    SendIfNewSubscription = 1,
    /// 2: do not send retained messages.
    DoNotSend = 2,
}

/// The options byte of one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the subscriber accepts.
    pub qos: QoS,
    /// Do not receive one's own publications (MQTT 5).
    pub no_local: bool,
    /// Keep the RETAIN flag as published instead of clearing it (MQTT 5).
    pub retain_as_published: bool,
    /// When to send retained messages (MQTT 5).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this QoS and every MQTT 5 option at its default.
    pub fn new(qos: QoS) -> Self {
        SubscriptionOptions { qos, ..Default::default() }
    }

    fn to_byte(self, version: ProtocolVersion) -> u8 {
        let qos = self.qos as u8;
        match version {
            ProtocolVersion::V311 => qos,
            ProtocolVersion::V5 => {
                qos | (u8::from(self.no_local) << 2)
                    | (u8::from(self.retain_as_published) << 3)
                    | ((self.retain_handling as u8) << 4)
            }
        }
    }

    /// Decodes the options byte: reserved bits must be 0 (`MQTT-3.8.3-5`, a Malformed
    /// Packet; 3.1.1: bits 2..7), QoS and Retain Handling must not be 3 (MQTT 5: a Protocol
    /// Error; 3.1.1: malformed).
    fn from_byte(byte: u8, version: ProtocolVersion) -> Result<Self> {
        let reserved = match version {
            ProtocolVersion::V311 => 0xFC,
            ProtocolVersion::V5 => 0xC0,
        };
        if byte & reserved != 0 {
            return Err(ProtocolError::InvalidSubscriptionOptions(byte));
        }
        let value_3 = || match version {
            ProtocolVersion::V311 => ProtocolError::InvalidQos("subscription options"),
            ProtocolVersion::V5 => ProtocolError::InvalidSubscriptionOptionValue(byte),
        };
        let retain_handling = match (byte >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNewSubscription,
            2 => RetainHandling::DoNotSend,
            _ => return Err(value_3()),
        };
        Ok(SubscriptionOptions {
            qos: QoS::from_u8(byte & 0x03).ok_or_else(value_3)?,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling,
        })
    }
}

/// One topic filter of a SUBSCRIBE, with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The topic filter (may be a `$share/{group}/{filter}` shared subscription).
    pub filter: ByteString,
    /// Its options.
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// A subscription to `filter` with maximum QoS `qos` and default MQTT 5 options.
    pub fn new(filter: impl Into<ByteString>, qos: QoS) -> Self {
        Subscription { filter: filter.into(), options: SubscriptionOptions::new(qos) }
    }
}

/// SUBSCRIBE: one or more subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet Identifier (non-zero).
    pub packet_id: u16,
    /// The subscriptions, at least one.
    pub subscriptions: Vec<Subscription>,
    /// SUBSCRIBE properties (MQTT 5 only).
    pub properties: SubscribeProperties,
}

impl Subscribe {
    /// A SUBSCRIBE with these subscriptions and no properties.
    pub fn new(packet_id: u16, subscriptions: Vec<Subscription>) -> Self {
        Subscribe { packet_id, subscriptions, properties: SubscribeProperties::default() }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
        let packet_id = read_packet_id(r, PacketType::Subscribe)?;
        let properties = match version {
            ProtocolVersion::V5 => read_properties(r, PropertyContext::Packet(PacketType::Subscribe))?,
            ProtocolVersion::V311 => SubscribeProperties::default(),
        };
        let mut subscriptions = Vec::new();
        while !r.is_empty() {
            let filter = r.string("topic filter")?;
            validate_topic_filter(&filter).map_err(ProtocolError::InvalidTopicFilter)?;
            let options = SubscriptionOptions::from_byte(r.u8("subscription options")?, version)?;
            check_no_local(&filter, &options)?;
            subscriptions.push(Subscription { filter, options });
        }
        if subscriptions.is_empty() {
            return Err(ProtocolError::EmptyPayload(PacketType::Subscribe));
        }
        Ok(Subscribe { packet_id, subscriptions, properties })
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        if self.subscriptions.is_empty() {
            return Err(ProtocolError::EmptyPayload(PacketType::Subscribe));
        }
        put_packet_id(sink, self.packet_id, PacketType::Subscribe)?;
        if version == ProtocolVersion::V5 {
            write_properties(sink, &self.properties)?;
        }
        for subscription in &self.subscriptions {
            if S::CHECKS {
                validate_topic_filter(&subscription.filter).map_err(ProtocolError::InvalidTopicFilter)?;
                check_no_local(&subscription.filter, &subscription.options)?;
            }
            put_checked_string(sink, &subscription.filter, "topic filter")?;
            sink.put_u8(subscription.options.to_byte(version));
        }
        Ok(())
    }
}

/// No Local on a shared subscription is a Protocol Error (`MQTT-3.8.3-4`).
fn check_no_local(filter: &str, options: &SubscriptionOptions) -> Result<()> {
    if options.no_local && filter.starts_with(SHARED_PREFIX) {
        return Err(ProtocolError::NoLocalOnSharedSubscription(filter.to_owned()));
    }
    Ok(())
}

/// SUBSCRIBE properties (MQTT 5.0 §3.8.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeProperties {
    /// Subscription Identifier (1..=268,435,455) echoed in matching PUBLISH packets.
    pub subscription_identifier: Option<u32>,
    /// User properties.
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for SubscribeProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::SubscriptionIdentifier => self.subscription_identifier = Some(r.nonzero_var_int()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        if let Some(id) = self.subscription_identifier {
            put::var_int(sink, PropertyId::SubscriptionIdentifier, id)?;
        }
        put::user_properties(sink, &self.user_properties)
    }
}

/// SUBACK: one reason code per subscription, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet Identifier of the SUBSCRIBE.
    pub packet_id: u16,
    /// Granted QoS or failure per subscription. On 3.1.1 every failure travels as 0x80.
    pub reason_codes: Vec<ReasonCode>,
    /// Properties (MQTT 5 only).
    pub properties: AckProperties,
}

impl SubAck {
    /// A SUBACK with these reason codes and no properties.
    pub fn new(packet_id: u16, reason_codes: Vec<ReasonCode>) -> Self {
        SubAck { packet_id, reason_codes, properties: AckProperties::default() }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
        let packet_id = read_packet_id(r, PacketType::SubAck)?;
        let properties = read_ack_properties(r, version, PacketType::SubAck)?;
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let reason = match version {
                ProtocolVersion::V5 => read_reason_code(r, PacketType::SubAck)?,
                ProtocolVersion::V311 => match r.u8("return code")? {
                    0x00 => ReasonCode::Success,
                    0x01 => ReasonCode::GrantedQos1,
                    0x02 => ReasonCode::GrantedQos2,
                    0x80 => ReasonCode::UnspecifiedError,
                    code => {
                        return Err(ProtocolError::InvalidReasonCode { packet: PacketType::SubAck, code });
                    }
                },
            };
            reason_codes.push(reason);
        }
        if reason_codes.is_empty() {
            return Err(ProtocolError::EmptyPayload(PacketType::SubAck));
        }
        Ok(SubAck { packet_id, reason_codes, properties })
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        if self.reason_codes.is_empty() {
            return Err(ProtocolError::EmptyPayload(PacketType::SubAck));
        }
        put_packet_id(sink, self.packet_id, PacketType::SubAck)?;
        if version == ProtocolVersion::V5 {
            write_properties(sink, &self.properties)?;
        }
        for &reason in &self.reason_codes {
            match version {
                ProtocolVersion::V5 => put_reason_code(sink, reason, PacketType::SubAck)?,
                ProtocolVersion::V311 if reason.is_error() => sink.put_u8(0x80),
                ProtocolVersion::V311 => put_reason_code(sink, reason, PacketType::SubAck)?,
            }
        }
        Ok(())
    }
}

fn read_ack_properties(
    r: &mut Reader,
    version: ProtocolVersion,
    packet: PacketType,
) -> Result<AckProperties> {
    match version {
        ProtocolVersion::V5 => read_properties(r, PropertyContext::Packet(packet)),
        ProtocolVersion::V311 => Ok(AckProperties::default()),
    }
}

/// UNSUBSCRIBE: one or more topic filters to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet Identifier (non-zero).
    pub packet_id: u16,
    /// The topic filters, at least one.
    pub filters: Vec<ByteString>,
    /// UNSUBSCRIBE properties (MQTT 5 only).
    pub properties: UnsubscribeProperties,
}

/// UNSUBSCRIBE properties (MQTT 5.0 §3.10.2.1): user properties only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubscribeProperties {
    /// User properties.
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for UnsubscribeProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        put::user_properties(sink, &self.user_properties)
    }
}

impl Unsubscribe {
    /// An UNSUBSCRIBE for these filters.
    pub fn new(packet_id: u16, filters: Vec<ByteString>) -> Self {
        Unsubscribe { packet_id, filters, properties: UnsubscribeProperties::default() }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
        let packet_id = read_packet_id(r, PacketType::Unsubscribe)?;
        let properties = match version {
            ProtocolVersion::V5 => read_properties(r, PropertyContext::Packet(PacketType::Unsubscribe))?,
            ProtocolVersion::V311 => UnsubscribeProperties::default(),
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string("topic filter")?;
            validate_topic_filter(&filter).map_err(ProtocolError::InvalidTopicFilter)?;
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(ProtocolError::EmptyPayload(PacketType::Unsubscribe));
        }
        Ok(Unsubscribe { packet_id, filters, properties })
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        if self.filters.is_empty() {
            return Err(ProtocolError::EmptyPayload(PacketType::Unsubscribe));
        }
        put_packet_id(sink, self.packet_id, PacketType::Unsubscribe)?;
        if version == ProtocolVersion::V5 {
            write_properties(sink, &self.properties)?;
        }
        for filter in &self.filters {
            if S::CHECKS {
                validate_topic_filter(filter).map_err(ProtocolError::InvalidTopicFilter)?;
            }
            put_checked_string(sink, filter, "topic filter")?;
        }
        Ok(())
    }
}

/// UNSUBACK: one reason code per filter (MQTT 5; 3.1.1 carries none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: u16,
    /// Result per filter, in order (empty on 3.1.1).
    pub reason_codes: Vec<ReasonCode>,
    /// Properties (MQTT 5 only).
    pub properties: AckProperties,
}

impl UnsubAck {
    /// An UNSUBACK with these reason codes and no properties.
    pub fn new(packet_id: u16, reason_codes: Vec<ReasonCode>) -> Self {
        UnsubAck { packet_id, reason_codes, properties: AckProperties::default() }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
        let packet_id = read_packet_id(r, PacketType::UnsubAck)?;
        let properties = read_ack_properties(r, version, PacketType::UnsubAck)?;
        let mut reason_codes = Vec::new();
        if version == ProtocolVersion::V5 {
            while !r.is_empty() {
                reason_codes.push(read_reason_code(r, PacketType::UnsubAck)?);
            }
            if reason_codes.is_empty() {
                return Err(ProtocolError::EmptyPayload(PacketType::UnsubAck));
            }
        }
        Ok(UnsubAck { packet_id, reason_codes, properties })
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        put_packet_id(sink, self.packet_id, PacketType::UnsubAck)?;
        if version == ProtocolVersion::V5 {
            if self.reason_codes.is_empty() {
                return Err(ProtocolError::EmptyPayload(PacketType::UnsubAck));
            }
            write_properties(sink, &self.properties)?;
            for &reason in &self.reason_codes {
                put_reason_code(sink, reason, PacketType::UnsubAck)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::protocol::topic::TopicError;
    use crate::protocol::{Packet, ProtocolError};

    fn decode(bytes: &'static [u8], version: ProtocolVersion) -> Result<Packet> {
        Packet::decode(Bytes::from_static(bytes), version)
    }

    #[test]
    fn options_value_3_is_a_protocol_error_on_v5_and_malformed_on_v311() {
        // SUBSCRIBE id 1, no properties, filter "a", options 0x30 (Retain Handling 3).
        let error = decode(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30], ProtocolVersion::V5);
        assert_eq!(error, Err(ProtocolError::InvalidSubscriptionOptionValue(0x30)));
        assert_eq!(error.unwrap_err().reason_code(), ReasonCode::ProtocolError);
        let error = decode(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x03], ProtocolVersion::V5);
        assert_eq!(error, Err(ProtocolError::InvalidSubscriptionOptionValue(0x03)));
        // Reserved bits stay malformed.
        let error = decode(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x40], ProtocolVersion::V5);
        assert_eq!(error.unwrap_err().reason_code(), ReasonCode::MalformedPacket);
        // 3.1.1: QoS 3 is malformed.
        let error = decode(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03], ProtocolVersion::V311);
        assert_eq!(error, Err(ProtocolError::InvalidQos("subscription options")));
    }

    #[test]
    fn topic_filters_are_validated_both_ways() {
        let wrong = ProtocolError::InvalidTopicFilter(TopicError::MultiLevelWildcardNotLast);
        // SUBSCRIBE id 1, no properties, filter "#/a", options 0.
        let bytes = &[0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, b'#', b'/', b'a', 0x00];
        assert_eq!(decode(bytes, ProtocolVersion::V5), Err(wrong.clone()));
        // UNSUBSCRIBE id 1, no properties, filter "#/a".
        let bytes = &[0xA2, 0x08, 0x00, 0x01, 0x00, 0x00, 0x03, b'#', b'/', b'a'];
        assert_eq!(decode(bytes, ProtocolVersion::V5), Err(wrong.clone()));
        assert_eq!(wrong.reason_code(), ReasonCode::TopicFilterInvalid);

        let mut buf = BytesMut::new();
        let subscribe = Packet::Subscribe(Subscribe::new(1, vec![Subscription::new("a+", QoS::AtMostOnce)]));
        let error = ProtocolError::InvalidTopicFilter(TopicError::SingleLevelWildcardNotAlone);
        assert_eq!(subscribe.encode(ProtocolVersion::V5, &mut buf), Err(error));
        let unsubscribe = Packet::Unsubscribe(Unsubscribe::new(1, vec!["".into()]));
        let error = ProtocolError::InvalidTopicFilter(TopicError::Empty);
        assert_eq!(unsubscribe.encode(ProtocolVersion::V311, &mut buf), Err(error));
        assert!(buf.is_empty());
    }
}
