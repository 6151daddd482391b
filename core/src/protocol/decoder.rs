//! The streaming decoder: packets out of a growing byte buffer.

use bytes::{Buf, BytesMut};

use super::error::{ProtocolError, Result};
use super::packet::{FixedHeader, Packet, ProtocolVersion};
use super::wire::MAX_VAR_INT;

/// The largest packet MQTT can express: a 5-byte fixed header and a 268,435,455-byte body.
pub const MAX_PACKET_SIZE: usize = 5 + MAX_VAR_INT as usize;

/// The most [`Decoder::decode`] reserves at once for a partly received packet.
pub const RESERVE_CHUNK: usize = 64 * 1024;

/// Reads packets from a byte buffer that a connection keeps appending to.
///
/// Partial packets stay in the buffer until the rest arrives; several packets in one read
/// come out one per call. The size limit is checked from the fixed header, before the body is
/// buffered, so a peer cannot make the receiver buffer more than the limit. Payloads and
/// strings of decoded packets are zero-copy views of the buffer.
///
/// After an error the stream is out of step and the connection should be closed (with the
/// error's [`ProtocolError::reason_code`] where the protocol allows).
#[derive(Debug, Clone)]
pub struct Decoder {
    version: ProtocolVersion,
    max_packet_size: usize,
}

impl Decoder {
    /// A decoder for `version` with no size limit beyond the protocol's.
    pub fn new(version: ProtocolVersion) -> Self {
        Decoder { version, max_packet_size: MAX_PACKET_SIZE }
    }

    /// Limits the size of a whole packet (fixed header included), as the Maximum Packet
    /// Size property does.
    pub fn with_max_packet_size(mut self, max_packet_size: usize) -> Self {
        self.max_packet_size = max_packet_size.min(MAX_PACKET_SIZE);
        self
    }

    /// The protocol version packets are decoded with.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Switches the protocol version (decoding a CONNECT does this by itself).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// The size limit in force.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Changes the size limit.
    pub fn set_max_packet_size(&mut self, max_packet_size: usize) {
        self.max_packet_size = max_packet_size.min(MAX_PACKET_SIZE);
    }

    /// Takes the next complete packet out of `buf`; `Ok(None)` when `buf` holds only part
    /// of one. It then reserves room for more of it, at most [`RESERVE_CHUNK`] at a time, so
    /// that a header announcing a huge packet costs memory only as its bytes arrive.
    ///
    /// # Errors
    /// The first problem found; see [`ProtocolError`].
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>> {
        let Some(header) = FixedHeader::parse(buf, self.version)? else { return Ok(None) };
        let size = header.packet_len();
        if size > self.max_packet_size {
            return Err(ProtocolError::PacketTooLarge { size, max: self.max_packet_size });
        }
        if buf.len() < size {
            buf.reserve((size - buf.len()).min(RESERVE_CHUNK));
            return Ok(None);
        }
        let mut body = buf.split_to(size).freeze();
        body.advance(header.header_len);
        let packet = Packet::decode_body(&header, body, self.version)?;
        if let Packet::Connect(connect) = &packet {
            self.version = connect.protocol_version;
        }
        Ok(Some(packet))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_announced_packet_reserves_memory_only_as_it_arrives() {
        let mut decoder = Decoder::new(ProtocolVersion::V5);
        let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F][..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.capacity() <= 5 + RESERVE_CHUNK, "reserved {} bytes", buf.capacity());
    }
}
