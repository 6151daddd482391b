//! [`RawPacketBuilder`]: start from a valid packet (or any bytes) and break it on purpose.

use std::ops::Range;

use bytes::BytesMut;

use crate::protocol::{Packet, ProtocolError, ProtocolVersion};

/// The bytes of one packet, with mutators that make it as wrong as a test needs.
///
/// Every mutator returns `&mut Self`, so edits chain; [`build`](Self::build) or
/// [`as_bytes`](Self::as_bytes) read the result.
///
/// # Out-of-range indices
///
/// No mutator panics, whatever its arguments. Positions are **clamped** to the buffer:
///
/// - [`set_byte`](Self::set_byte) at or past the end changes nothing;
/// - [`insert_bytes`](Self::insert_bytes) past the end appends;
/// - [`remove_bytes`](Self::remove_bytes) removes only the bytes that exist in the range;
/// - [`truncate`](Self::truncate) to a length at or past the end changes nothing;
/// - the fixed-header mutators do nothing on an empty buffer.
///
/// # Example
///
/// ```
/// use mqttkit::protocol::{Packet, ProtocolVersion};
/// use mqttkit::testing::RawPacketBuilder;
///
/// let mut builder = RawPacketBuilder::from_packet(&Packet::PingReq, ProtocolVersion::V5)?;
/// assert_eq!(builder.as_bytes(), [0xC0, 0x00]);
///
/// // PINGREQ with a reserved flag bit set and a non-minimal Remaining Length.
/// builder.set_fixed_header_flags(0x01).set_remaining_length(0, false);
/// assert_eq!(builder.build(), [0xC1, 0x80, 0x80, 0x80, 0x00]);
/// # Ok::<(), mqttkit::protocol::ProtocolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawPacketBuilder {
    bytes: Vec<u8>,
}

impl RawPacketBuilder {
    /// The encoding of a valid `packet` on a `version` connection (CONNECT uses its own
    /// protocol version).
    ///
    /// # Errors
    /// Whatever [`Packet::encode`] refuses: mqttkit does not encode a packet its own decoder
    /// would reject. Build such packets from a valid one with the mutators, or with
    /// [`from_bytes`](Self::from_bytes).
    pub fn from_packet(packet: &Packet, version: ProtocolVersion) -> Result<Self, ProtocolError> {
        let mut buf = BytesMut::new();
        packet.encode(version, &mut buf)?;
        Ok(RawPacketBuilder { bytes: buf.to_vec() })
    }

    /// Starts from arbitrary bytes.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        RawPacketBuilder { bytes: bytes.into() }
    }

    /// Sets the byte at `index`; an `index` at or past the end changes nothing.
    pub fn set_byte(&mut self, index: usize, value: u8) -> &mut Self {
        if let Some(byte) = self.bytes.get_mut(index) {
            *byte = value;
        }
        self
    }

    /// Sets the four flag bits of the fixed header (the low nibble of byte 0) to the low
    /// nibble of `flags`, keeping the packet type.
    pub fn set_fixed_header_flags(&mut self, flags: u8) -> &mut Self {
        if let Some(first) = self.bytes.first_mut() {
            *first = (*first & 0xF0) | (flags & 0x0F);
        }
        self
    }

    /// Sets the packet type (the high nibble of byte 0) to the low nibble of `packet_type`,
    /// keeping the flags. 0 and 15 are accepted, so reserved or version-specific types can be
    /// produced.
    pub fn set_packet_type(&mut self, packet_type: u8) -> &mut Self {
        if let Some(first) = self.bytes.first_mut() {
            *first = (packet_type << 4) | (*first & 0x0F);
        }
        self
    }

    /// Replaces the Remaining Length with `FF FF FF FF 7F`: five bytes, where a Variable Byte
    /// Integer has at most four (MQTT 5.0 §1.5.5). A receiver must treat the packet as
    /// malformed.
    pub fn corrupt_remaining_length(&mut self) -> &mut Self {
        self.replace_remaining_length(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
    }

    /// Rewrites the Remaining Length field with `value`, leaving the rest of the packet as it
    /// is (so the field may then disagree with the packet's real length).
    ///
    /// With `minimal` the value takes the fewest bytes, as the spec requires
    /// (`MQTT-1.5.5-1`); without it, it is padded with continuation bytes to four bytes
    /// (`0` becomes `80 80 80 00`), which is non-minimal for every value below 2,097,152.
    /// A value above 268,435,455 cannot be written in four bytes and gets a fifth.
    pub fn set_remaining_length(&mut self, value: u32, minimal: bool) -> &mut Self {
        let encoded = encode_var_int(value, if minimal { 1 } else { 4 });
        self.replace_remaining_length(&encoded)
    }

    /// Rewrites the Remaining Length, minimally encoded, to the number of bytes that follow
    /// the field: repairs the fixed header after bytes were inserted or removed in the body.
    pub fn update_remaining_length(&mut self) -> &mut Self {
        let remaining = self.bytes.len().saturating_sub(self.remaining_length_range().end);
        let value = u32::try_from(remaining).unwrap_or(u32::MAX);
        self.set_remaining_length(value, true)
    }

    /// Inserts `bytes` before position `index`; an `index` past the end appends.
    pub fn insert_bytes(&mut self, index: usize, bytes: &[u8]) -> &mut Self {
        let index = index.min(self.bytes.len());
        self.bytes.splice(index..index, bytes.iter().copied());
        self
    }

    /// Removes up to `count` bytes starting at `index`; only bytes that exist are removed.
    pub fn remove_bytes(&mut self, index: usize, count: usize) -> &mut Self {
        let start = index.min(self.bytes.len());
        let end = index.saturating_add(count).min(self.bytes.len());
        self.bytes.drain(start..end);
        self
    }

    /// Shortens the packet to `len` bytes; a `len` at or past the end changes nothing.
    pub fn truncate(&mut self, len: usize) -> &mut Self {
        self.bytes.truncate(len);
        self
    }

    /// Appends `bytes` at the end.
    pub fn append_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// Length of the fixed header as it currently stands: byte 0 plus the Remaining Length
    /// field (which may be malformed). Bytes from this index on are the packet's body. 0 for
    /// an empty buffer.
    pub fn header_len(&self) -> usize {
        self.remaining_length_range().end
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes as they are now.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A copy of the bytes, ready to send; the builder can be edited further.
    pub fn build(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The bytes, consuming the builder.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Where the Remaining Length field is: from byte 1 up to and including the first byte
    /// without a continuation bit, or to the end of the buffer if there is none (so a field
    /// that is already too long is replaced whole). Empty at 0 for an empty buffer.
    fn remaining_length_range(&self) -> Range<usize> {
        if self.bytes.is_empty() {
            return 0..0;
        }
        let end = match self.bytes[1..].iter().position(|byte| byte & 0x80 == 0) {
            Some(last) => 1 + last + 1,
            None => self.bytes.len(),
        };
        1..end
    }

    fn replace_remaining_length(&mut self, encoded: &[u8]) -> &mut Self {
        if !self.bytes.is_empty() {
            let range = self.remaining_length_range();
            self.bytes.splice(range, encoded.iter().copied());
        }
        self
    }
}

impl From<RawPacketBuilder> for Vec<u8> {
    fn from(builder: RawPacketBuilder) -> Self {
        builder.bytes
    }
}

impl AsRef<[u8]> for RawPacketBuilder {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Encodes `value` as a Variable Byte Integer of at least `min_len` bytes: the minimal
/// encoding, padded with `0x80` continuation bytes and a final `0x00` group. Values above
/// [`MAX_VAR_INT`](crate::protocol::MAX_VAR_INT) take five bytes.
pub(super) fn encode_var_int(mut value: u32, min_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    loop {
        out.push((value & 0x7F) as u8);
        value >>= 7;
        if value == 0 && out.len() >= min_len {
            break;
        }
    }
    let last = out.len() - 1;
    for byte in &mut out[..last] {
        *byte |= 0x80;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_var_int;

    #[test]
    fn var_int_encodings() {
        assert_eq!(encode_var_int(0, 1), [0x00]);
        assert_eq!(encode_var_int(127, 1), [0x7F]);
        assert_eq!(encode_var_int(128, 1), [0x80, 0x01]);
        assert_eq!(encode_var_int(268_435_455, 1), [0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(encode_var_int(268_435_456, 1), [0x80, 0x80, 0x80, 0x80, 0x01]);
        assert_eq!(encode_var_int(0, 4), [0x80, 0x80, 0x80, 0x00]);
        assert_eq!(encode_var_int(5, 4), [0x85, 0x80, 0x80, 0x00]);
        assert_eq!(encode_var_int(2_097_152, 4), [0x80, 0x80, 0x80, 0x01]);
    }
}
