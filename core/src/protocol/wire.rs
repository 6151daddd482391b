//! Data representation (MQTT 5.0 §1.5): integers, Variable Byte Integers, UTF-8 strings,
//! binary data. Reading works on one packet's [`Bytes`], so strings and payloads come out as
//! zero-copy views; writing goes through [`Sink`], which both counts and writes so that a
//! packet's length is computed by the same code that encodes it.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::error::{ProtocolError, Result};

/// The largest value a Variable Byte Integer can hold (four bytes).
pub const MAX_VAR_INT: u32 = 268_435_455;

/// The largest string or binary field: a two-byte length prefix.
const MAX_FIELD_LEN: usize = u16::MAX as usize;

/// Decodes a Variable Byte Integer from the start of `bytes`.
///
/// Returns `Ok(None)` when `bytes` ends before the integer does, and `Ok(Some((value,
/// length)))` otherwise.
///
/// # Errors
/// [`ProtocolError::VarIntTooLong`] for a fifth byte, [`ProtocolError::VarIntNotMinimal`]
/// for an encoding longer than needed (`MQTT-1.5.5-1`).
pub fn decode_var_int(bytes: &[u8]) -> Result<Option<(u32, usize)>> {
    let mut value: u32 = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        if index == 4 {
            return Err(ProtocolError::VarIntTooLong);
        }
        value |= u32::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            if index > 0 && byte == 0 {
                return Err(ProtocolError::VarIntNotMinimal);
            }
            return Ok(Some((value, index + 1)));
        }
    }
    if bytes.len() >= 4 {
        return Err(ProtocolError::VarIntTooLong);
    }
    Ok(None)
}

/// How many bytes the Variable Byte Integer encoding of `value` takes.
pub fn var_int_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Reads MQTT fields from one packet's bytes. Every read names the field it reads, so a
/// packet that ends early says which field was cut off.
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, n: usize, what: &'static str) -> Result<()> {
        if self.buf.len() < n { Err(ProtocolError::UnexpectedEnd(what)) } else { Ok(()) }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        self.need(1, what)?;
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        self.need(2, what)?;
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        self.need(4, what)?;
        Ok(self.buf.get_u32())
    }

    pub(crate) fn var_int(&mut self, what: &'static str) -> Result<u32> {
        match decode_var_int(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value)
            }
            None => Err(ProtocolError::UnexpectedEnd(what)),
        }
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<Bytes> {
        self.need(n, what)?;
        Ok(self.buf.split_to(n))
    }

    /// Everything not read yet (a PUBLISH payload).
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Binary Data: two-byte length, then the bytes.
    pub(crate) fn binary(&mut self, what: &'static str) -> Result<Bytes> {
        let len = self.u16(what)? as usize;
        self.take(len, what)
    }

    /// UTF-8 Encoded String: well-formed UTF-8 without U+0000 (`MQTT-1.5.4-1`,
    /// `MQTT-1.5.4-2`).
    pub(crate) fn string(&mut self, what: &'static str) -> Result<ByteString> {
        let raw = self.binary(what)?;
        if memchr::memchr(0, &raw).is_some() {
            return Err(ProtocolError::NullCharacter(what));
        }
        ByteString::try_from(raw).map_err(|_| ProtocolError::InvalidUtf8(what))
    }

    /// UTF-8 String Pair (a User Property).
    pub(crate) fn string_pair(&mut self, what: &'static str) -> Result<(ByteString, ByteString)> {
        Ok((self.string(what)?, self.string(what)?))
    }
}

/// Where encoded bytes go: a [`Writer`] that appends them to a buffer, or a [`Counter`]
/// that only adds up their length.
///
/// Encoding walks a packet twice: once into a [`Counter`] for the Remaining Length, once
/// into a [`Writer`]. Checks that scan data (UTF-8, U+0000, topic syntax) run only where
/// [`Sink::CHECKS`] is true: in the writing pass of a checked encode.
pub(crate) trait Sink: Sized {
    /// Whether this pass validates what it writes.
    const CHECKS: bool;
    /// Whether this pass writes bytes (rather than counting them).
    const WRITES: bool;
    fn put_u8(&mut self, value: u8);
    fn put_u16(&mut self, value: u16);
    fn put_u32(&mut self, value: u32);
    fn put_slice(&mut self, bytes: &[u8]);
    /// Writes what `body` writes, preceded by its length as a Variable Byte Integer.
    fn put_length_prefixed(&mut self, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()>;
}

/// A [`Sink`] appending to a buffer; with `CHECKS`, it validates what it writes.
pub(crate) struct Writer<'a, const CHECKS: bool>(pub(crate) &'a mut BytesMut);

impl<const C: bool> Sink for Writer<'_, C> {
    const CHECKS: bool = C;
    const WRITES: bool = true;
    #[inline]
    fn put_u8(&mut self, value: u8) {
        BufMut::put_u8(self.0, value)
    }
    #[inline]
    fn put_u16(&mut self, value: u16) {
        BufMut::put_u16(self.0, value)
    }
    #[inline]
    fn put_u32(&mut self, value: u32) {
        BufMut::put_u32(self.0, value)
    }
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes)
    }

    /// Writes a one-byte length placeholder, the body, then the real length: in place when
    /// it fits one byte (the usual case), otherwise after moving the body up.
    fn put_length_prefixed(&mut self, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let at = self.0.len();
        BufMut::put_u8(self.0, 0);
        body(self)?;
        let len = self.0.len() - at - 1;
        if len > MAX_VAR_INT as usize {
            return Err(ProtocolError::ValueTooLarge { what: "length", len, max: MAX_VAR_INT as usize });
        }
        let prefix = var_int_len(len as u32);
        if prefix > 1 {
            self.0.extend_from_slice(&[0; 3][..prefix - 1]);
            self.0.copy_within(at + 1..at + 1 + len, at + prefix);
        }
        let mut value = len as u32;
        for byte in &mut self.0[at..at + prefix] {
            *byte = (value & 0x7F) as u8 | if value > 0x7F { 0x80 } else { 0 };
            value >>= 7;
        }
        Ok(())
    }
}

/// A [`Sink`] that counts; with `CHECKS`, it also validates, as the writing pass does.
#[derive(Default)]
pub(crate) struct Counter<const CHECKS: bool = false>(pub(crate) usize);

impl<const C: bool> Sink for Counter<C> {
    const CHECKS: bool = C;
    const WRITES: bool = false;
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.0 += 1
    }
    #[inline]
    fn put_u16(&mut self, _: u16) {
        self.0 += 2
    }
    #[inline]
    fn put_u32(&mut self, _: u32) {
        self.0 += 4
    }
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        self.0 += bytes.len()
    }

    fn put_length_prefixed(&mut self, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let at = self.0;
        body(self)?;
        let len = self.0 - at;
        self.0 += var_int_len(len.min(MAX_VAR_INT as usize) as u32);
        Ok(())
    }
}

pub(crate) fn put_var_int<S: Sink>(sink: &mut S, mut value: u32, what: &'static str) -> Result<()> {
    if value > MAX_VAR_INT {
        return Err(ProtocolError::ValueTooLarge { what, len: value as usize, max: MAX_VAR_INT as usize });
    }
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        sink.put_u8(byte);
        if value == 0 {
            return Ok(());
        }
    }
}

pub(crate) fn put_binary<S: Sink>(sink: &mut S, bytes: &[u8], what: &'static str) -> Result<()> {
    // A length that does not fit the prefix would corrupt the packet: refused whenever
    // bytes are written, checked or not.
    if (S::CHECKS || S::WRITES) && bytes.len() > MAX_FIELD_LEN {
        return Err(ProtocolError::ValueTooLarge { what, len: bytes.len(), max: MAX_FIELD_LEN });
    }
    sink.put_u16(bytes.len() as u16);
    sink.put_slice(bytes);
    Ok(())
}

/// Writes a UTF-8 Encoded String, refusing U+0000 (`MQTT-1.5.4-2`) so that mqttkit never
/// sends what a peer must reject.
pub(crate) fn put_string<S: Sink>(sink: &mut S, text: &str, what: &'static str) -> Result<()> {
    if S::CHECKS && memchr::memchr(0, text.as_bytes()).is_some() {
        return Err(ProtocolError::NullCharacter(what));
    }
    put_binary(sink, text.as_bytes(), what)
}

/// Writes a UTF-8 Encoded String the caller has already checked for U+0000 (a topic name
/// or filter, validated as a whole).
pub(crate) fn put_checked_string<S: Sink>(sink: &mut S, text: &str, what: &'static str) -> Result<()> {
    put_binary(sink, text.as_bytes(), what)
}
