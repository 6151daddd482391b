//! Reason codes (MQTT 5.0 §2.4) and MQTT 3.1.1 CONNACK return codes.

use std::fmt;

use super::PacketType;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $label:literal, $desc:literal, [$($packet:ident),+]; )+) => {
        /// An MQTT 5 reason code. One value may have several meanings by packet (0x00 is
        /// Success, Normal Disconnection or Granted QoS 0); the variant is named after its
        /// most common one and [`ReasonCode::allowed_in`] tells which packets may carry it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum ReasonCode {
            $( $(#[$doc])* $name = $code, )+
        }

        impl ReasonCode {
            /// Every reason code, in numeric order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$name),+];

            /// The reason code with this value, if the spec defines one.
            pub fn from_u8(code: u8) -> Option<Self> {
                match code {
                    $( $code => Some(ReasonCode::$name), )+
                    _ => None,
                }
            }

            /// The spec's name for this code, e.g. `"Packet too large"`.
            pub fn name(self) -> &'static str {
                match self { $( ReasonCode::$name => $label, )+ }
            }

            /// A sentence saying what this code means.
            pub fn description(self) -> &'static str {
                match self { $( ReasonCode::$name => $desc, )+ }
            }

            /// Whether the spec allows this code in `packet`.
            pub fn allowed_in(self, packet: PacketType) -> bool {
                match self { $( ReasonCode::$name => matches!(packet, $(PacketType::$packet)|+), )+ }
            }
        }
    };
}

reason_codes! {
    /// 0x00: Success; Normal disconnection in DISCONNECT; Granted QoS 0 in SUBACK.
    #[default]
    Success = 0x00, "Success", "The operation succeeded (in DISCONNECT: normal disconnection; in SUBACK: granted QoS 0).", [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth];
    /// 0x01: Granted QoS 1.
    GrantedQos1 = 0x01, "Granted QoS 1", "The subscription is accepted with maximum QoS 1.", [SubAck];
    /// 0x02: Granted QoS 2.
    GrantedQos2 = 0x02, "Granted QoS 2", "The subscription is accepted with maximum QoS 2.", [SubAck];
    /// 0x04: Disconnect with Will Message.
    DisconnectWithWill = 0x04, "Disconnect with Will Message", "The client disconnects normally but wants the server to publish its will.", [Disconnect];
    /// 0x10: No matching subscribers.
    NoMatchingSubscribers = 0x10, "No matching subscribers", "The message was accepted but nobody is subscribed to it.", [PubAck, PubRec];
    /// 0x11: No subscription existed.
    NoSubscriptionExisted = 0x11, "No subscription existed", "No matching topic filter was being used by the client.", [UnsubAck];
    /// 0x18: Continue authentication.
    ContinueAuthentication = 0x18, "Continue authentication", "Continue the authentication with another step.", [Auth];
    /// 0x19: Re-authenticate.
    ReAuthenticate = 0x19, "Re-authenticate", "Initiate a re-authentication.", [Auth];
    /// 0x80: Unspecified error.
    UnspecifiedError = 0x80, "Unspecified error", "The receiver does not accept this and gives no more specific reason.", [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    /// 0x81: Malformed Packet.
    MalformedPacket = 0x81, "Malformed Packet", "Data in the packet could not be parsed as the specification requires.", [ConnAck, Disconnect];
    /// 0x82: Protocol Error.
    ProtocolError = 0x82, "Protocol Error", "The packet was well formed but violates the protocol.", [ConnAck, Disconnect];
    /// 0x83: Implementation specific error.
    ImplementationSpecificError = 0x83, "Implementation specific error", "The packet is valid but the receiver's implementation does not accept it.", [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    /// 0x84: Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version", "The server does not support the protocol version the client asked for.", [ConnAck];
    /// 0x85: Client Identifier not valid.
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid", "The client identifier is well formed but the server does not allow it.", [ConnAck];
    /// 0x86: Bad User Name or Password.
    BadUserNameOrPassword = 0x86, "Bad User Name or Password", "The server does not accept the user name or password.", [ConnAck];
    /// 0x87: Not authorized.
    NotAuthorized = 0x87, "Not authorized", "The client is not authorized to do this.", [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    /// 0x88: Server unavailable.
    ServerUnavailable = 0x88, "Server unavailable", "The MQTT server is not available.", [ConnAck];
    /// 0x89: Server busy.
    ServerBusy = 0x89, "Server busy", "The server is busy; try again later.", [ConnAck, Disconnect];
    /// 0x8A: Banned.
    Banned = 0x8A, "Banned", "This client has been banned by administrative action.", [ConnAck];
    /// 0x8B: Server shutting down.
    ServerShuttingDown = 0x8B, "Server shutting down", "The server is shutting down.", [Disconnect];
    /// 0x8C: Bad authentication method.
    BadAuthenticationMethod = 0x8C, "Bad authentication method", "The authentication method is not supported or does not match the one in use.", [ConnAck, Disconnect];
    /// 0x8D: Keep Alive timeout.
    KeepAliveTimeout = 0x8D, "Keep Alive timeout", "No packet was received within 1.5 times the keep-alive interval.", [Disconnect];
    /// 0x8E: Session taken over.
    SessionTakenOver = 0x8E, "Session taken over", "Another connection using the same client identifier has connected.", [Disconnect];
    /// 0x8F: Topic Filter invalid.
    TopicFilterInvalid = 0x8F, "Topic Filter invalid", "The topic filter is well formed but the server does not accept it.", [SubAck, UnsubAck, Disconnect];
    /// 0x90: Topic Name invalid.
    TopicNameInvalid = 0x90, "Topic Name invalid", "The topic name is well formed but the receiver does not accept it.", [ConnAck, PubAck, PubRec, Disconnect];
    /// 0x91: Packet Identifier in use.
    PacketIdentifierInUse = 0x91, "Packet Identifier in use", "The packet identifier is already in use.", [PubAck, PubRec, SubAck, UnsubAck];
    /// 0x92: Packet Identifier not found.
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found", "The packet identifier is not known.", [PubRel, PubComp];
    /// 0x93: Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded", "More QoS 1/2 publications were in flight than Receive Maximum allows.", [Disconnect];
    /// 0x94: Topic Alias invalid.
    TopicAliasInvalid = 0x94, "Topic Alias invalid", "The topic alias is 0, above the maximum, or not yet mapped.", [Disconnect];
    /// 0x95: Packet too large.
    PacketTooLarge = 0x95, "Packet too large", "The packet exceeds the maximum permissible size.", [ConnAck, Disconnect];
    /// 0x96: Message rate too high.
    MessageRateTooHigh = 0x96, "Message rate too high", "The received data rate is too high.", [Disconnect];
    /// 0x97: Quota exceeded.
    QuotaExceeded = 0x97, "Quota exceeded", "An implementation or administrative limit has been exceeded.", [ConnAck, PubAck, PubRec, SubAck, Disconnect];
    /// 0x98: Administrative action.
    AdministrativeAction = 0x98, "Administrative action", "The connection is closed due to an administrative action.", [Disconnect];
    /// 0x99: Payload format invalid.
    PayloadFormatInvalid = 0x99, "Payload format invalid", "The payload does not match the Payload Format Indicator.", [ConnAck, PubAck, PubRec, Disconnect];
    /// 0x9A: Retain not supported.
    RetainNotSupported = 0x9A, "Retain not supported", "The server does not support retained messages.", [ConnAck, Disconnect];
    /// 0x9B: QoS not supported.
    QosNotSupported = 0x9B, "QoS not supported", "The QoS is greater than the Maximum QoS the server granted.", [ConnAck, Disconnect];
    /// 0x9C: Use another server.
    UseAnotherServer = 0x9C, "Use another server", "The client should temporarily use another server.", [ConnAck, Disconnect];
    /// 0x9D: Server moved.
    ServerMoved = 0x9D, "Server moved", "The client should permanently use another server.", [ConnAck, Disconnect];
    /// 0x9E: Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported", "The server does not support shared subscriptions.", [SubAck, Disconnect];
    /// 0x9F: Connection rate exceeded.
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded", "The connection rate limit has been exceeded.", [ConnAck, Disconnect];
    /// 0xA0: Maximum connect time.
    MaximumConnectTime = 0xA0, "Maximum connect time", "The maximum connection time authorized for this connection has been exceeded.", [Disconnect];
    /// 0xA1: Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported", "The server does not support subscription identifiers.", [SubAck, Disconnect];
    /// 0xA2: Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported", "The server does not support wildcard subscriptions.", [SubAck, Disconnect];
}

impl ReasonCode {
    /// The numeric value sent on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Whether this code reports a failure (values 0x80 and above).
    pub fn is_error(self) -> bool {
        self.code() >= 0x80
    }

    /// The reason code for a granted QoS in SUBACK.
    pub fn granted(qos: super::QoS) -> Self {
        match qos {
            super::QoS::AtMostOnce => ReasonCode::Success,
            super::QoS::AtLeastOnce => ReasonCode::GrantedQos1,
            super::QoS::ExactlyOnce => ReasonCode::GrantedQos2,
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} {}", self.code(), self.name())
    }
}

/// The CONNACK return codes of MQTT 3.1.1 (§3.2.2.3).
///
/// mqttkit's packet model carries a [`ReasonCode`] in CONNACK for both versions; the codec
/// translates with [`ConnectReturnCode::from_reason`] and [`ConnectReturnCode::to_reason`]
/// on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectReturnCode {
    /// 0x00 Connection Accepted.
    Accepted = 0,
    /// 0x01 Connection Refused, unacceptable protocol version.
    UnacceptableProtocolVersion = 1,
    /// 0x02 Connection Refused, identifier rejected.
    IdentifierRejected = 2,
    /// 0x03 Connection Refused, server unavailable.
    ServerUnavailable = 3,
    /// 0x04 Connection Refused, bad user name or password.
    BadUserNameOrPassword = 4,
    /// 0x05 Connection Refused, not authorized.
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    /// The return code with this value, if 3.1.1 defines one.
    pub fn from_u8(code: u8) -> Option<Self> {
        use ConnectReturnCode::*;
        Some(match code {
            0 => Accepted,
            1 => UnacceptableProtocolVersion,
            2 => IdentifierRejected,
            3 => ServerUnavailable,
            4 => BadUserNameOrPassword,
            5 => NotAuthorized,
            _ => return None,
        })
    }

    /// The MQTT 5 reason code with the same meaning.
    pub fn to_reason(self) -> ReasonCode {
        use ConnectReturnCode::*;
        match self {
            Accepted => ReasonCode::Success,
            UnacceptableProtocolVersion => ReasonCode::UnsupportedProtocolVersion,
            IdentifierRejected => ReasonCode::ClientIdentifierNotValid,
            ServerUnavailable => ReasonCode::ServerUnavailable,
            BadUserNameOrPassword => ReasonCode::BadUserNameOrPassword,
            NotAuthorized => ReasonCode::NotAuthorized,
        }
    }

    /// The closest 3.1.1 return code for an MQTT 5 CONNACK reason code (3.1.1 has only
    /// six); reasons without a counterpart become "server unavailable", authorization
    /// failures "not authorized".
    pub fn from_reason(reason: ReasonCode) -> Self {
        use ConnectReturnCode::*;
        match reason {
            ReasonCode::Success => Accepted,
            ReasonCode::UnsupportedProtocolVersion => UnacceptableProtocolVersion,
            ReasonCode::ClientIdentifierNotValid => IdentifierRejected,
            ReasonCode::BadUserNameOrPassword => BadUserNameOrPassword,
            ReasonCode::NotAuthorized | ReasonCode::Banned | ReasonCode::BadAuthenticationMethod => {
                NotAuthorized
            }
            _ => ServerUnavailable,
        }
    }
}
