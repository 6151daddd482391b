//! CONNECT (§3.1) and CONNACK (§3.2).

use bytes::Bytes;
use bytestring::ByteString;

use super::error::{ProtocolError, Result};
use super::properties::{PropertyReader, PropertySet, UserProperty, put, read_properties, write_properties};
use super::publish::{PayloadFormat, check_payload_format};
use super::topic::{validate_decoded_topic_name, validate_topic_name};
use super::wire::{Reader, Sink, put_binary, put_checked_string, put_string};
use super::{ConnectReturnCode, PacketType, PropertyContext, PropertyId, ProtocolVersion, QoS, ReasonCode};

const PROTOCOL_NAME: &str = "MQTT";
const CONNECT: PropertyContext = PropertyContext::Packet(PacketType::Connect);
const CONNACK: PropertyContext = PropertyContext::Packet(PacketType::ConnAck);

/// CONNECT: the first packet a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol version the client speaks; decides how the whole connection is encoded.
    pub protocol_version: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns keep-alive off.
    pub keep_alive: u16,
    /// Client Identifier; empty asks the server to assign one.
    pub client_id: ByteString,
    /// The will message, if any.
    pub will: Option<Will>,
    /// User Name.
    pub username: Option<ByteString>,
    /// Password (binary data).
    pub password: Option<Bytes>,
    /// CONNECT properties (MQTT 5 only).
    pub properties: ConnectProperties,
}

impl Connect {
    /// An MQTT 5 CONNECT with Clean Start and a 60 s keep-alive.
    pub fn new(client_id: impl Into<ByteString>) -> Self {
        Connect {
            protocol_version: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Self> {
        let name = r.string("protocol name")?;
        if name != PROTOCOL_NAME {
            return Err(ProtocolError::InvalidProtocolName(name.to_string()));
        }
        let version = ProtocolVersion::from_level(r.u8("protocol level")?)?;
        let flags = r.u8("connect flags")?;
        if flags & 0x01 != 0 {
            return Err(ProtocolError::InvalidConnectFlags("reserved flag bit 0 is set"));
        }
        let will_flag = flags & 0x04 != 0;
        let will_qos = QoS::from_bits((flags >> 3) & 0x03, "will QoS")?;
        let will_retain = flags & 0x20 != 0;
        let has_password = flags & 0x40 != 0;
        let has_username = flags & 0x80 != 0;
        if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
            return Err(ProtocolError::InvalidConnectFlags(
                "will QoS or will retain is set without the will flag",
            ));
        }
        if version == ProtocolVersion::V311 && has_password && !has_username {
            return Err(ProtocolError::InvalidConnectFlags(
                "password flag is set without the user name flag",
            ));
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = match version {
            ProtocolVersion::V5 => read_properties::<ConnectProperties>(r, CONNECT)?,
            ProtocolVersion::V311 => ConnectProperties::default(),
        };
        if properties.authentication_data.is_some() && properties.authentication_method.is_none() {
            return Err(ProtocolError::AuthDataWithoutMethod);
        }
        let client_id = r.string("client identifier")?;
        let will = if will_flag { Some(Will::read(r, version, will_qos, will_retain)?) } else { None };
        let username = if has_username { Some(r.string("user name")?) } else { None };
        let password = if has_password { Some(r.binary("password")?) } else { None };
        Ok(Connect {
            protocol_version: version,
            clean_start: flags & 0x02 != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = u8::from(self.clean_start) << 1;
        if let Some(will) = &self.will {
            flags |= 0x04 | ((will.qos as u8) << 3) | (u8::from(will.retain) << 5);
        }
        flags |= u8::from(self.password.is_some()) << 6;
        flags |= u8::from(self.username.is_some()) << 7;
        flags
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S) -> Result<()> {
        let version = self.protocol_version;
        if version == ProtocolVersion::V311 && self.password.is_some() && self.username.is_none() {
            return Err(ProtocolError::InvalidConnectFlags(
                "MQTT 3.1.1 does not allow a password without a user name",
            ));
        }
        let properties = &self.properties;
        if version == ProtocolVersion::V5
            && properties.authentication_data.is_some()
            && properties.authentication_method.is_none()
        {
            return Err(ProtocolError::AuthDataWithoutMethod);
        }
        put_string(sink, PROTOCOL_NAME, "protocol name")?;
        sink.put_u8(version.level());
        sink.put_u8(self.flags());
        sink.put_u16(self.keep_alive);
        if version == ProtocolVersion::V5 {
            write_properties(sink, &self.properties)?;
        }
        put_string(sink, &self.client_id, "client identifier")?;
        if let Some(will) = &self.will {
            will.write(sink, version)?;
        }
        if let Some(username) = &self.username {
            put_string(sink, username, "user name")?;
        }
        if let Some(password) = &self.password {
            put_binary(sink, password, "password")?;
        }
        Ok(())
    }
}

/// CONNECT properties (MQTT 5.0 §3.1.2.11).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectProperties {
    /// Session Expiry Interval in seconds (absent = 0: the session ends with the connection).
    pub session_expiry_interval: Option<u32>,
    /// How many QoS 1/2 publications the client accepts in flight (1..=65535).
    pub receive_maximum: Option<u16>,
    /// Largest packet the client accepts, in bytes (non-zero).
    pub maximum_packet_size: Option<u32>,
    /// Highest topic alias the client accepts from the server (0 = none).
    pub topic_alias_maximum: Option<u16>,
    /// Asks the server for Response Information in CONNACK.
    pub request_response_information: Option<bool>,
    /// Whether the server may send Reason String and User Properties on failures (default
    /// true).
    pub request_problem_information: Option<bool>,
    /// Enhanced authentication method name.
    pub authentication_method: Option<ByteString>,
    /// Enhanced authentication data.
    pub authentication_data: Option<Bytes>,
    /// User properties.
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for ConnectProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::SessionExpiryInterval => self.session_expiry_interval = Some(r.u32()?),
            PropertyId::ReceiveMaximum => self.receive_maximum = Some(r.nonzero_u16()?),
            PropertyId::MaximumPacketSize => self.maximum_packet_size = Some(r.nonzero_u32()?),
            PropertyId::TopicAliasMaximum => self.topic_alias_maximum = Some(r.u16()?),
            PropertyId::RequestResponseInformation => self.request_response_information = Some(r.flag()?),
            PropertyId::RequestProblemInformation => self.request_problem_information = Some(r.flag()?),
            PropertyId::AuthenticationMethod => self.authentication_method = Some(r.string()?),
            PropertyId::AuthenticationData => self.authentication_data = Some(r.binary()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        put::u32(sink, PropertyId::SessionExpiryInterval, self.session_expiry_interval)?;
        put::u16(sink, PropertyId::ReceiveMaximum, self.receive_maximum)?;
        put::u32(sink, PropertyId::MaximumPacketSize, self.maximum_packet_size)?;
        put::u16(sink, PropertyId::TopicAliasMaximum, self.topic_alias_maximum)?;
        put::flag(sink, PropertyId::RequestResponseInformation, self.request_response_information);
        put::flag(sink, PropertyId::RequestProblemInformation, self.request_problem_information);
        put::string(sink, PropertyId::AuthenticationMethod, self.authentication_method.as_ref())?;
        put::binary(sink, PropertyId::AuthenticationData, self.authentication_data.as_ref())?;
        put::user_properties(sink, &self.user_properties)
    }
}

/// The will message of a CONNECT: published by the server if the connection ends without a
/// normal DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Will Topic (a topic name: no wildcards).
    pub topic: ByteString,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will properties (MQTT 5 only).
    pub properties: WillProperties,
}

impl Will {
    /// A will message with QoS 0, not retained, no properties.
    pub fn new(topic: impl Into<ByteString>, payload: impl Into<Bytes>) -> Self {
        Will {
            topic: topic.into(),
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        }
    }

    fn read(r: &mut Reader, version: ProtocolVersion, qos: QoS, retain: bool) -> Result<Self> {
        let properties = match version {
            ProtocolVersion::V5 => read_properties::<WillProperties>(r, PropertyContext::Will)?,
            ProtocolVersion::V311 => WillProperties::default(),
        };
        let topic = r.string("will topic")?;
        validate_decoded_topic_name(&topic).map_err(ProtocolError::InvalidTopicName)?;
        let payload = r.binary("will payload")?;
        check_payload_format(properties.payload_format_indicator, &payload)?;
        Ok(Will { topic, payload, qos, retain, properties })
    }

    fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        if version == ProtocolVersion::V5 {
            write_properties(sink, &self.properties)?;
        }
        if S::CHECKS {
            validate_topic_name(&self.topic).map_err(ProtocolError::InvalidTopicName)?;
            if version == ProtocolVersion::V5 {
                check_payload_format(self.properties.payload_format_indicator, &self.payload)?;
            }
        }
        put_checked_string(sink, &self.topic, "will topic")?;
        put_binary(sink, &self.payload, "will payload")
    }
}

/// Will properties (MQTT 5.0 §3.1.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WillProperties {
    /// Seconds the server waits after the connection ends before publishing the will.
    pub will_delay_interval: Option<u32>,
    /// Whether the will payload is UTF-8.
    pub payload_format_indicator: Option<PayloadFormat>,
    /// Lifetime of the will message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Content Type (e.g. a MIME type).
    pub content_type: Option<ByteString>,
    /// Response Topic.
    pub response_topic: Option<ByteString>,
    /// Correlation Data.
    pub correlation_data: Option<Bytes>,
    /// User properties.
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for WillProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::WillDelayInterval => self.will_delay_interval = Some(r.u32()?),
            PropertyId::PayloadFormatIndicator => {
                self.payload_format_indicator = Some(PayloadFormat::read(r)?)
            }
            PropertyId::MessageExpiryInterval => self.message_expiry_interval = Some(r.u32()?),
            PropertyId::ContentType => self.content_type = Some(r.string()?),
            PropertyId::ResponseTopic => self.response_topic = Some(r.response_topic()?),
            PropertyId::CorrelationData => self.correlation_data = Some(r.binary()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        put::u32(sink, PropertyId::WillDelayInterval, self.will_delay_interval)?;
        put::u8(sink, PropertyId::PayloadFormatIndicator, self.payload_format_indicator.map(|f| f as u8));
        put::u32(sink, PropertyId::MessageExpiryInterval, self.message_expiry_interval)?;
        put::string(sink, PropertyId::ContentType, self.content_type.as_ref())?;
        put::response_topic(sink, self.response_topic.as_ref())?;
        put::binary(sink, PropertyId::CorrelationData, self.correlation_data.as_ref())?;
        put::user_properties(sink, &self.user_properties)
    }
}

/// CONNACK: the server's answer to CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Whether the server resumed a session for this client.
    pub session_present: bool,
    /// The result. On MQTT 3.1.1 it travels as the nearest [`ConnectReturnCode`].
    pub reason_code: ReasonCode,
    /// CONNACK properties (MQTT 5 only).
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// A CONNACK with this reason code and no properties.
    pub fn new(reason_code: ReasonCode, session_present: bool) -> Self {
        ConnAck { session_present, reason_code, properties: ConnAckProperties::default() }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
        let flags = r.u8("connect acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(ProtocolError::InvalidConnAckFlags(flags));
        }
        let (reason_code, properties) = match version {
            ProtocolVersion::V5 => {
                let reason = super::packet::read_reason_code(r, PacketType::ConnAck)?;
                (reason, read_properties::<ConnAckProperties>(r, CONNACK)?)
            }
            ProtocolVersion::V311 => {
                let code = r.u8("connect return code")?;
                let reason = ConnectReturnCode::from_u8(code)
                    .ok_or(ProtocolError::InvalidReasonCode { packet: PacketType::ConnAck, code })?
                    .to_reason();
                (reason, ConnAckProperties::default())
            }
        };
        Ok(ConnAck { session_present: flags & 0x01 != 0, reason_code, properties })
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        sink.put_u8(u8::from(self.session_present));
        match version {
            ProtocolVersion::V5 => {
                super::packet::put_reason_code(sink, self.reason_code, PacketType::ConnAck)?;
                write_properties(sink, &self.properties)
            }
            ProtocolVersion::V311 => {
                sink.put_u8(ConnectReturnCode::from_reason(self.reason_code) as u8);
                Ok(())
            }
        }
    }
}

/// CONNACK properties (MQTT 5.0 §3.2.2.3): what the server grants and announces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAckProperties {
    /// Session Expiry Interval the server uses, if it differs from the client's.
    pub session_expiry_interval: Option<u32>,
    /// How many QoS 1/2 publications the server accepts in flight.
    pub receive_maximum: Option<u16>,
    /// Highest QoS the server supports (only 0 or 1 may be sent; absent means 2).
    pub maximum_qos: Option<QoS>,
    /// Whether the server supports retained messages (absent means yes).
    pub retain_available: Option<bool>,
    /// Largest packet the server accepts.
    pub maximum_packet_size: Option<u32>,
    /// The client identifier the server assigned (when the client sent an empty one).
    pub assigned_client_identifier: Option<ByteString>,
    /// Highest topic alias the server accepts from the client.
    pub topic_alias_maximum: Option<u16>,
    /// Human-readable diagnostic.
    pub reason_string: Option<ByteString>,
    /// User properties.
    pub user_properties: Vec<UserProperty>,
    /// Whether wildcard subscriptions are supported (absent means yes).
    pub wildcard_subscription_available: Option<bool>,
    /// Whether subscription identifiers are supported (absent means yes).
    pub subscription_identifiers_available: Option<bool>,
    /// Whether shared subscriptions are supported (absent means yes).
    pub shared_subscription_available: Option<bool>,
    /// Keep alive the server requires, overriding the client's.
    pub server_keep_alive: Option<u16>,
    /// Basis for response topics, when the client asked for it.
    pub response_information: Option<ByteString>,
    /// Another server to use.
    pub server_reference: Option<ByteString>,
    /// Enhanced authentication method.
    pub authentication_method: Option<ByteString>,
    /// Enhanced authentication data.
    pub authentication_data: Option<Bytes>,
}

impl PropertySet for ConnAckProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::SessionExpiryInterval => self.session_expiry_interval = Some(r.u32()?),
            PropertyId::ReceiveMaximum => self.receive_maximum = Some(r.nonzero_u16()?),
            PropertyId::MaximumQos => self.maximum_qos = Some(read_maximum_qos(r)?),
            PropertyId::RetainAvailable => self.retain_available = Some(r.flag()?),
            PropertyId::MaximumPacketSize => self.maximum_packet_size = Some(r.nonzero_u32()?),
            PropertyId::AssignedClientIdentifier => self.assigned_client_identifier = Some(r.string()?),
            PropertyId::TopicAliasMaximum => self.topic_alias_maximum = Some(r.u16()?),
            PropertyId::ReasonString => self.reason_string = Some(r.string()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            PropertyId::WildcardSubscriptionAvailable => {
                self.wildcard_subscription_available = Some(r.flag()?)
            }
            PropertyId::SubscriptionIdentifierAvailable => {
                self.subscription_identifiers_available = Some(r.flag()?)
            }
            PropertyId::SharedSubscriptionAvailable => self.shared_subscription_available = Some(r.flag()?),
            PropertyId::ServerKeepAlive => self.server_keep_alive = Some(r.u16()?),
            PropertyId::ResponseInformation => self.response_information = Some(r.string()?),
            PropertyId::ServerReference => self.server_reference = Some(r.string()?),
            PropertyId::AuthenticationMethod => self.authentication_method = Some(r.string()?),
            PropertyId::AuthenticationData => self.authentication_data = Some(r.binary()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        if self.maximum_qos == Some(QoS::ExactlyOnce) {
            return Err(ProtocolError::InvalidPropertyValue { property: PropertyId::MaximumQos, value: 2 });
        }
        put::u32(sink, PropertyId::SessionExpiryInterval, self.session_expiry_interval)?;
        put::u16(sink, PropertyId::ReceiveMaximum, self.receive_maximum)?;
        put::u8(sink, PropertyId::MaximumQos, self.maximum_qos.map(|q| q as u8));
        put::flag(sink, PropertyId::RetainAvailable, self.retain_available);
        put::u32(sink, PropertyId::MaximumPacketSize, self.maximum_packet_size)?;
        put::string(sink, PropertyId::AssignedClientIdentifier, self.assigned_client_identifier.as_ref())?;
        put::u16(sink, PropertyId::TopicAliasMaximum, self.topic_alias_maximum)?;
        put::string(sink, PropertyId::ReasonString, self.reason_string.as_ref())?;
        put::user_properties(sink, &self.user_properties)?;
        put::flag(sink, PropertyId::WildcardSubscriptionAvailable, self.wildcard_subscription_available);
        put::flag(sink, PropertyId::SubscriptionIdentifierAvailable, self.subscription_identifiers_available);
        put::flag(sink, PropertyId::SharedSubscriptionAvailable, self.shared_subscription_available);
        put::u16(sink, PropertyId::ServerKeepAlive, self.server_keep_alive)?;
        put::string(sink, PropertyId::ResponseInformation, self.response_information.as_ref())?;
        put::string(sink, PropertyId::ServerReference, self.server_reference.as_ref())?;
        put::string(sink, PropertyId::AuthenticationMethod, self.authentication_method.as_ref())?;
        put::binary(sink, PropertyId::AuthenticationData, self.authentication_data.as_ref())
    }
}

/// Maximum QoS may only be 0 or 1 (MQTT 5.0 §3.2.2.3.4).
fn read_maximum_qos(r: &mut PropertyReader<'_>) -> Result<QoS> {
    match r.u8()? {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        other => {
            Err(ProtocolError::InvalidPropertyValue { property: PropertyId::MaximumQos, value: other.into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::Packet;

    #[test]
    fn encode_refuses_what_decode_rejects() {
        let mut buf = BytesMut::new();
        let mut connect = Connect::new("c");
        connect.properties.authentication_data = Some(Bytes::from_static(b"secret"));
        let packet = Packet::Connect(Box::new(connect.clone()));
        assert_eq!(packet.encode(ProtocolVersion::V5, &mut buf), Err(ProtocolError::AuthDataWithoutMethod));

        connect.properties = ConnectProperties::default();
        let mut will = Will::new("will", &b"\xC3\x28"[..]);
        will.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
        connect.will = Some(will);
        let packet = Packet::Connect(Box::new(connect.clone()));
        assert_eq!(packet.encode(ProtocolVersion::V5, &mut buf), Err(ProtocolError::PayloadFormatInvalid));
        assert!(buf.is_empty());

        // MQTT 3.1.1 sends no properties, so neither rule applies.
        connect.protocol_version = ProtocolVersion::V311;
        connect.properties.authentication_data = Some(Bytes::from_static(b"secret"));
        assert!(Packet::Connect(Box::new(connect)).encode(ProtocolVersion::V311, &mut buf).is_ok());
    }
}
