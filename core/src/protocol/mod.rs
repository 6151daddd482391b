//! The MQTT 3.1.1 and 5.0 codec: one packet model for both versions, every control packet,
//! every MQTT 5 property and reason code, topic names and filters, and a streaming decoder.
//!
//! No Tokio and no I/O: this module builds with the crate's default features off.
//!
//! Decoding checks what the specifications require of a receiver and reports the first
//! violation as a [`ProtocolError`] that carries the reason code to answer with. Encoding
//! refuses to produce what a receiver would have to reject.

mod connect;
mod decoder;
mod disconnect;
mod error;
mod packet;
mod properties;
mod publish;
mod reason;
mod subscribe;
pub mod topic;
mod wire;

pub use connect::{ConnAck, ConnAckProperties, Connect, ConnectProperties, Will, WillProperties};
pub use decoder::{Decoder, MAX_PACKET_SIZE, RESERVE_CHUNK};
pub use disconnect::{Auth, AuthProperties, Disconnect, DisconnectProperties};
pub use error::{ProtocolError, Result};
pub use packet::{FixedHeader, Packet, PacketType, ProtocolVersion, QoS};
pub use properties::{PropertyContext, PropertyId, UserProperty};
pub use publish::{
    AckProperties, PayloadFormat, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties,
};
pub use reason::{ConnectReturnCode, ReasonCode};
pub use subscribe::{
    RetainHandling, SubAck, Subscribe, SubscribeProperties, Subscription, SubscriptionOptions, UnsubAck,
    Unsubscribe, UnsubscribeProperties,
};
pub use topic::{TopicError, TopicFilter, topic_matches, validate_topic_filter, validate_topic_name};
pub use wire::{MAX_VAR_INT, decode_var_int, var_int_len};
