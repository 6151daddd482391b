//! # mqttkit
//!
//! One MQTT v5 / v3.1.1 engine: the codec in [`protocol`] (no I/O, no Tokio), and on top of
//! it the client and broker that the Python, Node and C bindings share.
//!
//! ```
//! use bytes::BytesMut;
//! use mqttkit::protocol::{Decoder, Packet, ProtocolVersion, Publish, QoS};
//!
//! let publish = Publish::new("sensors/kitchen/temp", "21.5", QoS::AtLeastOnce).with_packet_id(7);
//! let mut wire = BytesMut::new();
//! Packet::Publish(publish.clone()).encode(ProtocolVersion::V5, &mut wire)?;
//!
//! let mut decoder = Decoder::new(ProtocolVersion::V5);
//! assert_eq!(decoder.decode(&mut wire)?, Some(Packet::Publish(publish)));
//! # Ok::<(), mqttkit::protocol::ProtocolError>(())
//! ```
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![deny(unsafe_code)]

pub mod protocol;

#[cfg(feature = "runtime")]
pub mod transport;

#[cfg(feature = "broker")]
pub mod broker;

#[cfg(feature = "client")]
pub mod blocking;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod dispatch;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "runtime")]
pub mod runtime;
#[cfg(any(feature = "client", feature = "broker"))]
pub mod scram;
#[cfg(feature = "client")]
pub use error::{Error, ErrorKind, Operation, Result};

#[cfg(feature = "protocol-testing")]
pub mod testing;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
