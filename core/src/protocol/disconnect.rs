//! DISCONNECT (§3.14) and AUTH (§3.15).

use bytes::Bytes;
use bytestring::ByteString;

use super::error::{ProtocolError, Result};
use super::packet::{read_reason_and_properties, write_reason_and_properties};
use super::properties::{PropertyReader, PropertySet, UserProperty, put};
use super::wire::{Reader, Sink};
use super::{PacketType, PropertyId, ProtocolVersion, ReasonCode};

/// DISCONNECT: the last packet of a connection, from either side.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Why (MQTT 5; 3.1.1 DISCONNECT has no body). 0x00 is a normal disconnection.
    pub reason_code: ReasonCode,
    /// DISCONNECT properties (MQTT 5 only).
    pub properties: DisconnectProperties,
}

impl Disconnect {
    /// A DISCONNECT with this reason code and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect { reason_code, properties: DisconnectProperties::default() }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Self> {
        let (reason_code, properties) = read_reason_and_properties(r, version, PacketType::Disconnect)?;
        Ok(Disconnect { reason_code, properties })
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        write_reason_and_properties(sink, version, PacketType::Disconnect, self.reason_code, &self.properties)
    }
}

/// DISCONNECT properties (MQTT 5.0 §3.14.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DisconnectProperties {
    /// New Session Expiry Interval (client to server only).
    pub session_expiry_interval: Option<u32>,
    /// Human-readable diagnostic.
    pub reason_string: Option<ByteString>,
    /// User properties.
    pub user_properties: Vec<UserProperty>,
    /// Another server the client should use.
    pub server_reference: Option<ByteString>,
}

impl PropertySet for DisconnectProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::SessionExpiryInterval => self.session_expiry_interval = Some(r.u32()?),
            PropertyId::ReasonString => self.reason_string = Some(r.string()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            PropertyId::ServerReference => self.server_reference = Some(r.string()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        put::u32(sink, PropertyId::SessionExpiryInterval, self.session_expiry_interval)?;
        put::string(sink, PropertyId::ReasonString, self.reason_string.as_ref())?;
        put::user_properties(sink, &self.user_properties)?;
        put::string(sink, PropertyId::ServerReference, self.server_reference.as_ref())
    }
}

/// AUTH: a step of enhanced authentication (MQTT 5 only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Success (0x00), Continue authentication (0x18) or Re-authenticate (0x19).
    pub reason_code: ReasonCode,
    /// AUTH properties.
    pub properties: AuthProperties,
}

impl Auth {
    /// An AUTH step with this method and data.
    pub fn new(reason_code: ReasonCode, method: impl Into<ByteString>, data: Option<Bytes>) -> Self {
        Auth {
            reason_code,
            properties: AuthProperties {
                authentication_method: Some(method.into()),
                authentication_data: data,
                ..Default::default()
            },
        }
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Self> {
        let (reason_code, properties) = read_reason_and_properties(r, ProtocolVersion::V5, PacketType::Auth)?;
        let auth = Auth { reason_code, properties };
        auth.check_method()?;
        Ok(auth)
    }

    pub(crate) fn write<S: Sink>(&self, sink: &mut S, version: ProtocolVersion) -> Result<()> {
        self.check_method()?;
        write_reason_and_properties(sink, version, PacketType::Auth, self.reason_code, &self.properties)
    }

    /// Omitting the Authentication Method is a Protocol Error (MQTT 5.0 §3.15.2.2.2), except
    /// in the short form: Success without properties, which has no room for it (§3.15.2.1).
    fn check_method(&self) -> Result<()> {
        let short_form =
            self.reason_code == ReasonCode::Success && self.properties == AuthProperties::default();
        if self.properties.authentication_method.is_none() && !short_form {
            return Err(ProtocolError::AuthMethodMissing);
        }
        Ok(())
    }
}

/// AUTH properties (MQTT 5.0 §3.15.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthProperties {
    /// Authentication method (required unless the packet is Success without properties,
    /// which travels in the short form).
    pub authentication_method: Option<ByteString>,
    /// Authentication data of this step.
    pub authentication_data: Option<Bytes>,
    /// Human-readable diagnostic.
    pub reason_string: Option<ByteString>,
    /// User properties.
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for AuthProperties {
    fn read_property(&mut self, id: PropertyId, r: &mut PropertyReader<'_>) -> Result<()> {
        match id {
            PropertyId::AuthenticationMethod => self.authentication_method = Some(r.string()?),
            PropertyId::AuthenticationData => self.authentication_data = Some(r.binary()?),
            PropertyId::ReasonString => self.reason_string = Some(r.string()?),
            PropertyId::UserProperty => self.user_properties.push(r.string_pair()?),
            _ => return Err(r.not_allowed()),
        }
        Ok(())
    }

    fn write_properties<S: Sink>(&self, sink: &mut S) -> Result<()> {
        put::string(sink, PropertyId::AuthenticationMethod, self.authentication_method.as_ref())?;
        put::binary(sink, PropertyId::AuthenticationData, self.authentication_data.as_ref())?;
        put::string(sink, PropertyId::ReasonString, self.reason_string.as_ref())?;
        put::user_properties(sink, &self.user_properties)
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::protocol::Packet;

    #[test]
    fn auth_without_method_is_a_protocol_error_except_in_the_short_form() {
        let decode = |bytes: &'static [u8]| Packet::decode(Bytes::from_static(bytes), ProtocolVersion::V5);
        assert_eq!(decode(&[0xF0, 0x00]), Ok(Packet::Auth(Auth::default())));
        assert_eq!(decode(&[0xF0, 0x02, 0x00, 0x00]), Ok(Packet::Auth(Auth::default())));
        // Continue authentication, no properties.
        assert_eq!(decode(&[0xF0, 0x01, 0x18]), Err(ProtocolError::AuthMethodMissing));
        // Success with a Reason String but no method.
        let error = decode(&[0xF0, 0x06, 0x00, 0x04, 0x1F, 0x00, 0x01, b'r']);
        assert_eq!(error, Err(ProtocolError::AuthMethodMissing));
        assert_eq!(ProtocolError::AuthMethodMissing.reason_code(), ReasonCode::ProtocolError);

        let mut buf = BytesMut::new();
        let mut auth = Auth::new(ReasonCode::ContinueAuthentication, "SCRAM-SHA-1", None);
        auth.properties.authentication_method = None;
        let error = Packet::Auth(auth).encode(ProtocolVersion::V5, &mut buf);
        assert_eq!(error, Err(ProtocolError::AuthMethodMissing));
        assert!(buf.is_empty());
    }
}
