//! Raw packet API for protocol-compliance testing (feature `protocol-testing`).
//!
//! **Test-only.** These types produce packets that violate the MQTT specification on
//! purpose, to check that a server (mqttkit's or another) rejects them. Never enable the
//! feature in production builds.
//!
//! - [`RawPacketBuilder`] starts from a valid packet (or any bytes) and breaks it: flip a
//!   flag, corrupt the Remaining Length, insert, remove or truncate bytes.
//! - [`MalformedPacketGenerator`] has one ready-made byte sequence per rule a receiver must
//!   enforce, each documented with the normative statement it violates and the reason code
//!   a compliant receiver answers with; [`MalformedPacketGenerator::all`] lists them as
//!   [`MalformedCase`]s to loop over.
//! - [`RawTestClient`] is a bare TCP connection: it sends those bytes and reports what the
//!   server does (answers, decodes, closes the connection, or stays silent).
//!
//! Check a decoder without any network:
//!
//! ```
//! use bytes::BytesMut;
//! use mqttkit::protocol::{Decoder, ProtocolError, ProtocolVersion, ReasonCode};
//! use mqttkit::testing::{MalformedPacketGenerator, RawPacketBuilder};
//!
//! // A valid CONNECT with one reserved fixed-header flag set (MQTT-2.1.3-1).
//! let mut builder = RawPacketBuilder::from_bytes(MalformedPacketGenerator::valid_connect());
//! builder.set_fixed_header_flags(0b0001);
//! assert_eq!(builder.as_bytes(), MalformedPacketGenerator::connect_reserved_flag());
//!
//! let error = Decoder::new(ProtocolVersion::V5)
//!     .decode(&mut BytesMut::from(builder.as_bytes()))
//!     .unwrap_err();
//! assert!(matches!(error, ProtocolError::InvalidHeaderFlags { flags: 1, .. }));
//! assert_eq!(error.reason_code(), ReasonCode::MalformedPacket);
//! ```
//!
//! Check a running broker (here on `127.0.0.1:1883`):
//!
//! ```no_run
//! use std::time::Duration;
//! use mqttkit::protocol::ProtocolVersion;
//! use mqttkit::testing::{Detection, MalformedPacketGenerator, RawTestClient};
//!
//! # async fn run() -> Result<(), mqttkit::testing::RawClientError> {
//! let timeout = Duration::from_secs(5);
//! for case in MalformedPacketGenerator::all() {
//!     if case.detection == Detection::PacketSizeLimit {
//!         continue; // only meaningful against a broker with a Maximum Packet Size
//!     }
//!     let mut client = RawTestClient::connect("127.0.0.1:1883").await?;
//!     client.set_protocol_version(case.version);
//!     if let Some(connect) = case.prelude() {
//!         client.send_raw(connect).await?;
//!         client.receive_packet(case.version, timeout).await?; // the CONNACK
//!     }
//!     let reason = client.send_expect_disconnect(&case.bytes, timeout).await?;
//!     println!("{} ({}): closed with {reason:?}, expected {:?}", case.name, case.normative, case.reason);
//! }
//! # Ok(())
//! # }
//! ```

mod builder;
mod client;
mod malformed;

pub use builder::RawPacketBuilder;
pub use client::{RawClientError, RawResult, RawTestClient};
pub use malformed::{Detection, MalformedCase, MalformedPacketGenerator};
