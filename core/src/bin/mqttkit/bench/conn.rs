//! A raw MQTT connection over the mqttkit codec (no client state machine in the way), and a
//! frame scanner for the hot paths: the throughput rows count and acknowledge PUBLISH
//! packets without decoding them, so that the load generator spends as little CPU per
//! delivery as possible, the same for every broker.

use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use mqttkit::protocol::{Connect, Decoder, Packet, ProtocolVersion, Publish, QoS, Subscribe, Subscription};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub(crate) const PAYLOAD_LEN: usize = 64;

pub(crate) struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    input: BytesMut,
    pub(crate) output: BytesMut,
    decoder: Decoder,
    version: ProtocolVersion,
}

pub(crate) fn io_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Conn {
    pub(crate) async fn connect(
        addr: SocketAddr,
        id: &str,
        version: ProtocolVersion,
    ) -> Result<Conn, String> {
        let socket = TcpStream::connect(addr).await.map_err(io_err)?;
        socket.set_nodelay(true).map_err(io_err)?;
        let (rd, wr) = socket.into_split();
        let mut conn = Conn {
            rd,
            wr,
            input: BytesMut::with_capacity(4096),
            output: BytesMut::with_capacity(4096),
            decoder: Decoder::new(version),
            version,
        };
        let mut connect = Connect::new(id.to_string());
        connect.protocol_version = version;
        connect.keep_alive = 600;
        conn.push(&Packet::Connect(Box::new(connect)));
        conn.flush().await?;
        match conn.recv().await? {
            Packet::ConnAck(ack) if !ack.reason_code.is_error() => Ok(conn),
            other => Err(format!("CONNECT refused: {other:?}")),
        }
    }

    pub(crate) fn push(&mut self, packet: &Packet) {
        packet.encode(self.version, &mut self.output).expect("encodable packet");
    }

    pub(crate) async fn flush(&mut self) -> Result<(), String> {
        if !self.output.is_empty() {
            self.wr.write_all_buf(&mut self.output).await.map_err(io_err)?;
        }
        Ok(())
    }

    /// Reads once (waiting for data) into the input buffer.
    async fn read_some(&mut self) -> Result<(), String> {
        if self.input.capacity() - self.input.len() < 1024 {
            self.input.reserve(64 * 1024);
        }
        if self.rd.read_buf(&mut self.input).await.map_err(io_err)? == 0 {
            return Err("connection closed by the broker".into());
        }
        Ok(())
    }

    /// Reads once (waiting for data) and hands every complete packet to `f`, decoded.
    pub(crate) async fn recv_batch(&mut self, mut f: impl FnMut(Packet)) -> Result<(), String> {
        self.read_some().await?;
        while let Some(packet) = self.decoder.decode(&mut self.input).map_err(io_err)? {
            f(packet);
        }
        Ok(())
    }

    /// Reads once (waiting for data) and hands every complete packet to `f` undecoded, as
    /// its first byte and its body (MQTT 3.1.1 only: nothing here checks the packets).
    pub(crate) async fn scan_batch(&mut self, mut f: impl FnMut(u8, &[u8])) -> Result<(), String> {
        self.read_some().await?;
        while let Some((header, len)) = frame_at(&self.input) {
            let first = self.input[0];
            f(first, &self.input[header..header + len]);
            self.input.advance(header + len);
        }
        Ok(())
    }

    pub(crate) async fn recv(&mut self) -> Result<Packet, String> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.input).map_err(io_err)? {
                return Ok(packet);
            }
            if self.rd.read_buf(&mut self.input).await.map_err(io_err)? == 0 {
                return Err("connection closed by the broker".into());
            }
        }
    }

    pub(crate) async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<(), String> {
        self.push(&Packet::Subscribe(Subscribe::new(1, vec![Subscription::new(filter.to_string(), qos)])));
        self.flush().await?;
        loop {
            if let Packet::SubAck(ack) = self.recv().await? {
                return match ack.reason_codes.first() {
                    Some(code) if !code.is_error() => Ok(()),
                    other => Err(format!("SUBSCRIBE refused: {other:?}")),
                };
            }
        }
    }
}

/// The fixed header length and body length of the complete packet at the start of `buf`.
fn frame_at(buf: &[u8]) -> Option<(usize, usize)> {
    let mut len = 0usize;
    for i in 1..5 {
        let byte = *buf.get(i)?;
        len |= usize::from(byte & 0x7F) << (7 * (i - 1));
        if byte & 0x80 == 0 {
            return (buf.len() >= 1 + i + len).then_some((1 + i, len));
        }
    }
    None
}

/// First byte of a PUBLISH's fixed header.
pub(crate) fn is_publish(first: u8) -> bool {
    first >> 4 == 3
}

/// First byte of a PUBACK.
pub(crate) fn is_puback(first: u8) -> bool {
    first >> 4 == 4
}

/// The packet identifier of an MQTT 3.1.1 PUBLISH with QoS > 0, from its body.
pub(crate) fn publish_packet_id(first: u8, body: &[u8]) -> Option<u16> {
    if (first >> 1) & 0x03 == 0 {
        return None;
    }
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let at = 2 + topic_len;
    Some(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]))
}

/// An MQTT 3.1.1 PUBACK.
pub(crate) fn puback(packet_id: u16) -> [u8; 4] {
    let [hi, lo] = packet_id.to_be_bytes();
    [0x40, 0x02, hi, lo]
}

/// One PUBLISH encoded for `version`, to be copied many times; see [`set_packet_id`].
pub(crate) fn publish_frame(topic: &str, payload: Bytes, qos: QoS, version: ProtocolVersion) -> BytesMut {
    let mut publish = Publish::new(topic.to_string(), payload, qos);
    if qos != QoS::AtMostOnce {
        publish = publish.with_packet_id(1);
    }
    let mut frame = BytesMut::new();
    Packet::Publish(publish).encode(version, &mut frame).expect("encodable PUBLISH");
    frame
}

/// Sets the packet identifier of a QoS > 0 PUBLISH frame from [`publish_frame`] (one-byte
/// Remaining Length: the bench's frames are small).
pub(crate) fn set_packet_id(frame: &mut [u8], topic_len: usize, packet_id: u16) {
    let at = 2 + 2 + topic_len;
    frame[at..at + 2].copy_from_slice(&packet_id.to_be_bytes());
}

pub(crate) fn payload(seq: u64, stamp: u64) -> Bytes {
    let mut p = vec![b'x'; PAYLOAD_LEN];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    p[8..16].copy_from_slice(&stamp.to_be_bytes());
    Bytes::from(p)
}

pub(crate) fn seq_of(payload: &[u8]) -> u64 {
    payload.get(..8).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()))
}

pub(crate) fn stamp_of(payload: &[u8]) -> u64 {
    payload.get(8..16).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner's view of an encoded PUBLISH agrees with the codec.
    #[test]
    fn scans_what_the_codec_encodes() {
        let mut frame = publish_frame("bench/q1", payload(3, 4), QoS::AtLeastOnce, ProtocolVersion::V311);
        set_packet_id(&mut frame, "bench/q1".len(), 0xBEEF);
        let mut two = frame.clone();
        two.extend_from_slice(&puback(7));
        let (header, len) = frame_at(&two).unwrap();
        assert_eq!(header + len, frame.len());
        assert!(is_publish(two[0]));
        assert_eq!(publish_packet_id(two[0], &two[header..header + len]), Some(0xBEEF));
        assert_eq!(frame_at(&two[..frame.len() - 1]), None);
        let rest = &two[header + len..];
        assert!(is_puback(rest[0]));
        let mut decoder = Decoder::new(ProtocolVersion::V311);
        let mut buf = BytesMut::from(&two[..]);
        match decoder.decode(&mut buf).unwrap() {
            Some(Packet::Publish(p)) => assert_eq!(p.packet_id, 0xBEEF),
            other => panic!("{other:?}"),
        }
        assert!(matches!(decoder.decode(&mut buf).unwrap(), Some(Packet::PubAck(a)) if a.packet_id == 7));
    }
}
