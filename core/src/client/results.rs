//! What operations return, and the received [`Message`].

use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::protocol::{
    AckProperties, AuthProperties, ConnAckProperties, DisconnectProperties, PublishProperties, QoS,
    ReasonCode,
};

/// The CONNACK a connect produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResult {
    /// Whether the server resumed a session.
    pub session_present: bool,
    /// CONNACK reason code (always Success in a `Connected` event or an `Ok`).
    pub reason_code: ReasonCode,
    /// The client identifier the server assigned, when the client sent none.
    pub assigned_client_id: Option<String>,
    /// CONNACK properties (MQTT 5).
    pub properties: ConnAckProperties,
}

/// The acknowledgement of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishResult {
    /// Packet identifier used (`None` for QoS 0).
    pub packet_id: Option<u16>,
    /// QoS the message was sent with.
    pub qos: QoS,
    /// PUBACK / PUBREC / PUBCOMP reason code (Success for QoS 0 once written).
    pub reason_code: ReasonCode,
    /// Acknowledgement properties (MQTT 5).
    pub properties: AckProperties,
}

impl PublishResult {
    /// Whether the server accepted the message.
    pub fn is_success(&self) -> bool {
        !self.reason_code.is_error()
    }
}

/// The SUBACK of a subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeResult {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: u16,
    /// One per filter: the granted QoS or a failure.
    pub reason_codes: Vec<ReasonCode>,
    /// SUBACK properties (MQTT 5).
    pub properties: AckProperties,
}

impl SubscribeResult {
    /// Whether every filter was accepted.
    pub fn is_success(&self) -> bool {
        self.reason_codes.iter().all(|code| !code.is_error())
    }
}

/// The UNSUBACK of an unsubscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeResult {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: u16,
    /// One per filter (MQTT 5); empty on 3.1.1.
    pub reason_codes: Vec<ReasonCode>,
    /// UNSUBACK properties (MQTT 5).
    pub properties: AckProperties,
}

impl UnsubscribeResult {
    /// Whether every filter was removed (or there was nothing to remove).
    pub fn is_success(&self) -> bool {
        self.reason_codes.iter().all(|code| !code.is_error())
    }
}

/// A PINGRESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingResult {
    /// Time from PINGREQ written to PINGRESP read.
    pub round_trip: Duration,
}

/// An AUTH packet from the server, or the end of an authentication exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    /// Continue authentication (0x18) or Success (0x00).
    pub reason_code: ReasonCode,
    /// AUTH properties: method, data, reason string.
    pub properties: AuthProperties,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisconnectInfo {
    /// The DISCONNECT reason code (Normal disconnection when the application asked).
    pub reason_code: ReasonCode,
    /// Whether the server sent the DISCONNECT.
    pub by_server: bool,
    /// DISCONNECT properties (reason string, server reference).
    pub properties: DisconnectProperties,
}

/// A message received from the server.
#[derive(Debug, Clone)]
pub struct Message {
    /// Topic the message was published to (topic aliases already resolved).
    pub topic: ByteString,
    /// Payload: a zero-copy view of the received packet.
    pub payload: Bytes,
    /// QoS it was delivered with.
    pub qos: QoS,
    /// Whether it is a retained message.
    pub retain: bool,
    /// Whether it may be a re-delivery.
    pub dup: bool,
    /// Packet identifier (0 for QoS 0).
    pub packet_id: u16,
    /// PUBLISH properties (MQTT 5): content type, response topic, correlation data,
    /// subscription identifiers, user properties, ...
    pub properties: PublishProperties,
    pub(crate) acker: Option<Acker>,
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        (&self.topic, &self.payload, self.qos, self.retain, self.dup, self.packet_id, &self.properties)
            == (
                &other.topic,
                &other.payload,
                other.qos,
                other.retain,
                other.dup,
                other.packet_id,
                &other.properties,
            )
    }
}

impl Message {
    /// Acknowledges this message (PUBACK for QoS 1, PUBREC for QoS 2) when the client was
    /// built with `auto_ack(false)`. Call it once processing is done; until then the server
    /// counts the message against the client's Receive Maximum.
    ///
    /// Returns `Ok(())` without sending anything for QoS 0 messages and when auto-ack is on.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] if the client was shut down.
    pub fn ack(&self) -> Result<()> {
        match &self.acker {
            Some(acker) => acker.ack(self.packet_id, self.qos),
            None => Ok(()),
        }
    }

    /// Whether [`ack`](Message::ack) must be called for this message.
    pub fn needs_ack(&self) -> bool {
        self.acker.is_some()
    }

    /// The payload as UTF-8 text, if it is.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }
}

/// A manual acknowledgement on its way to the connection task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ManualAck {
    pub(crate) packet_id: u16,
    pub(crate) qos: QoS,
    /// The connection the message arrived on: acks for an earlier connection are dropped.
    pub(crate) connection: u64,
}

/// Sends manual acknowledgements. The channel is unbounded, but its content is bounded by
/// the client's Receive Maximum: the server cannot send more unacknowledged messages.
#[derive(Debug, Clone)]
pub(crate) struct Acker {
    pub(crate) sender: mpsc::UnboundedSender<ManualAck>,
    pub(crate) connection: u64,
}

impl Acker {
    fn ack(&self, packet_id: u16, qos: QoS) -> Result<()> {
        self.sender
            .send(ManualAck { packet_id, qos, connection: self.connection })
            .map_err(|_| Error::ChannelClosed)
    }
}
