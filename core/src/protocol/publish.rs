//! PUBLISH (§3.3) and the acknowledgements of the QoS 1 and QoS 2 flows: PUBACK, PUBREC,
//! PUBREL, PUBCOMP (§3.4 to §3.7).

use bytes::Bytes;
use bytestring::ByteString;

use super::error::{ProtocolError, Result};
use super::packet::{put_packet_id, read_packet_id, read_reason_and_properties, write_reason_and_properties};
use super::properties::{PropertyReader, PropertySet, UserProperty, put, read_properties, write_properties};
use super::topic::{validate_decoded_topic_name, validate_topic_name};
use super::wire::{Reader, Sink, put_checked_string};
use super::{PacketType, PropertyContext, PropertyId, ProtocolVersion, QoS, ReasonCode};

const PUBLISH: PropertyContext = PropertyContext::Packet(PacketType::Publish);

/// PUBLISH: an application message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this is a re-delivery of an earlier attempt (QoS 1/2 only).
    pub dup: bool,
    /// QoS of this delivery.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic Name; empty only when a Topic Alias stands for it (MQTT 5).
    pub topic: ByteString,
    /// Packet Identifier: non-zero for QoS 1 and 2; ignored (not sent) for QoS 0.
    pub packet_id: u16,
    /// PUBLISH properties (MQTT 5 only).
    pub properties: PublishProperties,
    /// The application payload: a zero-copy view of the received packet.
    pub payload: Bytes,
}

impl Publish {
    /// A PUBLISH without DUP or RETAIN, packet identifier 0 and no properties.
    pub fn new(topic: impl Into<ByteString>, payload: impl Into<Bytes>, qos: QoS) -> Self {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.into(),
            packet_id: 0,
            properties: PublishProperties::default(),
            payload: payload.into(),
        }
    }

    /// Sets the packet identifier.
    pub fn with_packet_id(mut self, packet_id: u16) -> Self {
        self.packet_id = packet_id;
        self
    }

    /// Sets RETAIN.
    pub fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// Appends this PUBLISH's encoding to `buf`, exactly as
    /// `Packet::Publish(publish).encode(version, buf)` would, without moving it into a
    /// [`Packet`](super::Packet).
    ///
    /// # Errors
    /// As [`Packet::encode`](super::Packet::encode); nothing is appended then.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut bytes::BytesMut) -> Result<()> {
        super::packet::encode_frame::<true, _>(self, version, buf)
    }

    /// The size of this PUBLISH on the wire, without any check: it may be computed before
    /// the packet identifier is assigned (which takes the same two bytes).
    pub fn wire_len(&self, version: ProtocolVersion) -> usize {
        let mut counter = super::wire::Counter::<false>::default();
        // A counting pass without checks cannot fail.
        let _ = self.write(&mut counter, version);
        1 + super::wire::var_int_len(counter.0.min(super::wire::MAX_VAR_INT as usize) as u32) + counter.0
    }

    /// Runs the content checks [`encode`](Publish::encode) makes (topic name, Response
    /// Topic, a payload marked UTF-8 being UTF-8, no U+0000 in strings) without encoding, so
    /// that content can be validated where it enters a program and later encoded with
    /// [`encode_unchecked`](Publish::encode_unchecked).
    ///
    /// # Errors
    /// The first content problem found.
    pub fn validate(&self) -> Result<()> {
        check_topic(&self.topic, &self.properties, validate_topic_name)?;
        check_payload_format(self.properties.payload_format_indicator, &self.payload)?;
        self.properties.write_properties(&mut super::wire::Counter::<true>::default())
    }

    /// [`encode`](Publish::encode) without the content checks, as
    /// [`Packet::encode_unchecked`](super::Packet::encode_unchecked) describes.
    ///
    /// # Errors
    /// As [`Packet::encode_unchecked`](super::Packet::encode_unchecked).
    pub fn encode_unchecked(&self, version: ProtocolVersion, buf: &mut bytes::BytesMut) -> Result<()> {
        super::packet::encode_frame::<false, _>(self, version, buf)
    }

    /// The number of bytes [`Publish::encode`] writes.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize> {
        super::packet::frame_len(self, version)
    }

    pub(crate) fn header_flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    pub(crate) fn read(flags: u8, r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
        let qos = QoS::from_bits((flags >> 1) & 0x03, "PUBLISH")?;
        let dup = flags & 0x08 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(ProtocolError::DupWithQos0);
        }
        let topic = r.string("topic name")?;
        let packet_id = match qos {
            QoS::AtMostOnce => 0,
            _ => read_packet_id(r, PacketType::Publish)?,
        };
        let properties = match version {
            ProtocolVersion::V5 => read_properties::<PublishProperties>(r, PUBLISH)?,
            ProtocolVersion::V311 => PublishProperties::default(),
        };
        check_topic(&topic, &properties, validate_decoded_topic_name)?;
        let payload = r.rest();
        check_payload_format(properties.payload_format_indicator, &payload)?;
        Ok(Publish { dup, qos, retain: flags & 0x01 != 0, topic, packet_id, properties, payload })
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(ProtocolError::DupWithQos0);
        }
        let properties = match version {
            ProtocolVersion::V5 => &self.properties,
            ProtocolVersion::V311 => &PublishProperties::EMPTY,
        };
        if S::CHECKS {
            check_topic(&self.topic, properties, validate_topic_name)?;
            check_payload_format(properties.payload_format_indicator, &self.payload)?;
        }
        put_checked_string(sink, &self.topic, "topic name")?;
        if self.qos != QoS::AtMostOnce {
            put_packet_id(sink, self.packet_id, PacketType::Publish)?;
        }
        if version == ProtocolVersion::V5 {
            if properties.is_empty() {
                // The common case: a zero property length, without walking the set.
                sink.put_u8(0);
            } else {
                write_properties(sink, properties)?;
            }
        }
        sink.put_slice(&self.payload);
        Ok(())
    }
}

/// A topic name must be valid (`MQTT-3.3.2-2`); it may be empty only with a Topic Alias
/// (MQTT 5.0 §3.3.2.1).
fn check_topic(
    topic: &str,
    properties: &PublishProperties,
    validate: fn(&str) -> std::result::Result<(), super::TopicError>,
) -> Result<()> {
    if topic.is_empty() {
        return match properties.topic_alias {
            Some(_) => Ok(()),
            None => Err(ProtocolError::EmptyTopicWithoutAlias),
        };
    }
    validate(topic).map_err(ProtocolError::InvalidTopicName)
}

/// Checks a payload against its Payload Format Indicator (MQTT 5.0 §3.3.2.3.2: a payload marked
/// UTF-8 must be UTF-8).
pub(crate) fn check_payload_format(format: Option<PayloadFormat>, payload: &[u8]) -> Result<()> {
    if format == Some(PayloadFormat::Utf8) && std::str::from_utf8(payload).is_err() {
        return Err(ProtocolError::PayloadFormatInvalid);
    }
    Ok(())
}

/// The Payload Format Indicator property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PayloadFormat {
    /// 0: unspecified bytes.
    Unspecified = 0,
    /// 1: UTF-8 encoded character data.
    Utf8 = 1,
}

impl PayloadFormat {
    pub(crate) fn read(r: &mut PropertyReader<'_>) -> Result<Self> {
        Ok(if r.flag()? { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified })
    }
}

/// PUBLISH properties (MQTT 5.0 §3.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishProperties {
    /// Whether the payload is UTF-8.
    pub payload_format_indicator: Option<PayloadFormat>,
    /// Lifetime of the message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Topic Alias (non-zero) standing for the topic name.
    pub topic_alias: Option<u16>,
    /// Response Topic for request/response.
    pub response_topic: Option<ByteString>,
    /// Correlation Data for request/response.
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Identifiers of the subscriptions that matched (server to client only).
    pub subscription_identifiers: Vec<u32>,
    /// Content Type (e.g. a MIME type).
    pub content_type: Option<ByteString>,
}

impl PublishProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.payload_format_indicator.is_none()
            && self.message_expiry_interval.is_none()
            && self.topic_alias.is_none()
            && self.response_topic.is_none()
            && self.correlation_data.is_none()
            && self.user_properties.is_empty()
            && self.subscription_identifiers.is_empty()
            && self.content_type.is_none()
    }

    const EMPTY: PublishProperties = PublishProperties {
        payload_format_indicator: None,
        message_expiry_interval: None,
        topic_alias: None,
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
        subscription_identifiers: Vec::new(),
        content_type: None,
    };
}

impl PropertySet for PublishProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::PayloadFormatIndicator => {
                self.payload_format_indicator = Some(PayloadFormat::read(r)?)
            }
            PropertyId::MessageExpiryInterval => self.message_expiry_interval = Some(r.u32()?),
            PropertyId::TopicAlias => self.topic_alias = Some(r.nonzero_u16()?),
            PropertyId::ResponseTopic => self.response_topic = Some(r.response_topic()?),
            PropertyId::CorrelationData => self.correlation_data = Some(r.binary()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            PropertyId::SubscriptionIdentifier => self.subscription_identifiers.push(r.nonzero_var_int()?),
            PropertyId::ContentType => self.content_type = Some(r.string()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        put::u8(sink, PropertyId::PayloadFormatIndicator, self.payload_format_indicator.map(|f| f as u8));
        put::u32(sink, PropertyId::MessageExpiryInterval, self.message_expiry_interval)?;
        put::u16(sink, PropertyId::TopicAlias, self.topic_alias)?;
        put::response_topic(sink, self.response_topic.as_ref())?;
        put::binary(sink, PropertyId::CorrelationData, self.correlation_data.as_ref())?;
        put::user_properties(sink, &self.user_properties)?;
        for &id in &self.subscription_identifiers {
            put::var_int(sink, PropertyId::SubscriptionIdentifier, id)?;
        }
        put::string(sink, PropertyId::ContentType, self.content_type.as_ref())
    }
}

/// The properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AckProperties {
    /// Human-readable diagnostic.
    pub reason_string: Option<ByteString>,
    /// User properties.
    pub user_properties: Vec<UserProperty>,
}

impl AckProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.reason_string.is_none() && self.user_properties.is_empty()
    }
}

impl PropertySet for AckProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::ReasonString => self.reason_string = Some(r.string()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        put::string(sink, PropertyId::ReasonString, self.reason_string.as_ref())?;
        put::user_properties(sink, &self.user_properties)
    }
}

macro_rules! publish_ack {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// Packet Identifier of the PUBLISH this answers.
            pub packet_id: u16,
            /// Result (MQTT 5; always Success on 3.1.1).
            pub reason_code: ReasonCode,
            /// Properties (MQTT 5 only).
            pub properties: AckProperties,
        }

        impl $name {
            /// A successful acknowledgement without properties.
            pub fn new(packet_id: u16) -> Self {
                $name { packet_id, reason_code: ReasonCode::Success, properties: AckProperties::default() }
            }

            /// The same acknowledgement with another reason code.
            pub fn with_reason(mut self, reason_code: ReasonCode) -> Self {
                self.reason_code = reason_code;
                self
            }

            pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
                let packet_id = read_packet_id(r, PacketType::$name)?;
                let (reason_code, properties) = read_reason_and_properties(r, version, PacketType::$name)?;
                Ok($name { packet_id, reason_code, properties })
            }

            pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
                put_packet_id(sink, self.packet_id, PacketType::$name)?;
                write_reason_and_properties(sink, version, PacketType::$name, self.reason_code, &self.properties)
            }
        }
    };
}

publish_ack!(
    /// PUBACK: acknowledges a QoS 1 PUBLISH.
    PubAck
);
publish_ack!(
    /// PUBREC: first acknowledgement of a QoS 2 PUBLISH.
    PubRec
);
publish_ack!(
    /// PUBREL: releases a QoS 2 PUBLISH after PUBREC.
    PubRel
);
publish_ack!(
    /// PUBCOMP: completes the QoS 2 exchange.
    PubComp
);

impl super::packet::Frame for Publish {
    fn first_byte(&self) -> u8 {
        ((PacketType::Publish as u8) << 4) | self.header_flags()
    }

    fn write_body<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        self.write(sink, version)
    }

    /// Without properties, the body length is arithmetic.
    fn body_len(&self, version: ProtocolVersion) -> Option<usize> {
        let plain = version == ProtocolVersion::V311 || self.properties.is_empty();
        let packet_id = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let properties = usize::from(version == ProtocolVersion::V5);
        plain.then(|| 2 + self.topic.len() + packet_id + properties + self.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::Packet;

    #[test]
    fn encoded_len_refuses_a_body_that_encode_refuses() {
        // Zeroed pages that are counted, never written.
        let payload = Bytes::from(vec![0u8; super::super::MAX_VAR_INT as usize]);
        let publish = Publish::new("t", payload, QoS::AtMostOnce);
        let mut buf = BytesMut::new();
        let error = publish.encode(ProtocolVersion::V311, &mut buf).unwrap_err();
        assert!(matches!(error, ProtocolError::PacketTooLarge { .. }));
        assert_eq!(publish.encoded_len(ProtocolVersion::V311), Err(error));
        assert!(buf.is_empty());
    }

    #[test]
    fn encode_refuses_a_payload_that_is_not_the_utf8_its_format_says() {
        let mut publish = Publish::new("t", &b"\xFF"[..], QoS::AtMostOnce);
        publish.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
        let mut buf = BytesMut::new();
        assert_eq!(
            Packet::Publish(publish.clone()).encode(ProtocolVersion::V5, &mut buf),
            Err(ProtocolError::PayloadFormatInvalid)
        );
        assert!(buf.is_empty());
        // MQTT 3.1.1 does not send the indicator, so nothing contradicts the payload.
        assert!(Packet::Publish(publish).encode(ProtocolVersion::V311, &mut buf).is_ok());
    }

    #[test]
    fn validate_runs_the_content_checks_of_encode() {
        let mut publish = Publish::new("a/b", "x", QoS::AtLeastOnce);
        assert_eq!(publish.validate(), Ok(()));
        publish.properties.response_topic = Some("reply/+".into());
        assert!(matches!(publish.validate(), Err(ProtocolError::InvalidTopicName(_))));
        publish.properties.response_topic = None;
        publish.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
        publish.payload = Bytes::from_static(&[0xFF]);
        assert_eq!(publish.validate(), Err(ProtocolError::PayloadFormatInvalid));
        publish.payload = Bytes::from_static(b"ok");
        publish.properties.user_properties.push(("k".into(), "v\0".into()));
        assert!(matches!(publish.validate(), Err(ProtocolError::NullCharacter(_))));
    }
}
