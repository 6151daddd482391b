//! One encoded PUBLISH per message and protocol version, shared by every subscriber whose
//! delivery carries nothing specific to it (no Subscription Identifier, no topic alias, no
//! decremented Message Expiry Interval, the message's own QoS): such a delivery is one
//! copy of the shared bytes with the DUP and RETAIN flags and the packet identifier set,
//! instead of a fresh PUBLISH encoded for each of them.

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};

use super::session::Message;
use crate::protocol::{ProtocolVersion, Publish, PublishProperties, QoS};

/// The packet identifier written into a shared frame; every copy replaces it.
const PLACEHOLDER_ID: u16 = 1;

/// The shared frames of one message, encoded at first use (`None`: the message cannot be
/// encoded, and the per-subscriber path reports why).
#[derive(Debug, Default)]
pub(crate) struct Frames([OnceLock<Option<Bytes>>; 2]);

impl Frames {
    /// The frame of `message` for `version`: its QoS, topic, properties and payload, DUP
    /// and RETAIN clear, a placeholder packet identifier if QoS > 0.
    pub(crate) fn get(&self, message: &Message, version: ProtocolVersion) -> Option<&Bytes> {
        let slot = match version {
            ProtocolVersion::V311 => &self.0[0],
            ProtocolVersion::V5 => &self.0[1],
        };
        slot.get_or_init(|| encode(message, version)).as_ref()
    }
}

fn encode(message: &Message, version: ProtocolVersion) -> Option<Bytes> {
    let publish = Publish {
        dup: false,
        qos: message.qos,
        retain: false,
        topic: message.topic.clone(),
        packet_id: if message.qos == QoS::AtMostOnce { 0 } else { PLACEHOLDER_ID },
        properties: match version {
            ProtocolVersion::V5 => message.properties.clone(),
            ProtocolVersion::V311 => PublishProperties::default(),
        },
        payload: message.payload.clone(),
    };
    let mut buf = BytesMut::with_capacity(publish.wire_len(version));
    // The content was validated when the message was decoded.
    publish.encode_unchecked(version, &mut buf).ok()?;
    Some(buf.freeze())
}

/// Appends a copy of `frame` (from [`Frames::get`], for a message whose topic is
/// `topic_len` bytes) with this delivery's DUP and RETAIN flags and packet identifier.
pub(crate) fn put(
    buf: &mut BytesMut,
    frame: &[u8],
    dup: bool,
    retain: bool,
    packet_id: u16,
    topic_len: usize,
) {
    let start = buf.len();
    buf.extend_from_slice(frame);
    buf[start] |= (u8::from(dup) << 3) | u8::from(retain);
    let qos = (frame[0] >> 1) & 0x03;
    if qos != 0 {
        // Fixed header (type byte, Remaining Length), topic length and topic, then the id.
        let length_bytes = frame[1..].iter().position(|b| b & 0x80 == 0).map_or(4, |i| i + 1);
        let at = start + 1 + length_bytes + 2 + topic_len;
        buf[at..at + 2].copy_from_slice(&packet_id.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Packet;

    fn message(qos: QoS, topic: &str, payload_len: usize) -> Message {
        let mut publish = Publish::new(topic.to_string(), Bytes::from(vec![7u8; payload_len]), qos);
        publish.properties.user_properties = vec![("k".into(), "v".into())];
        publish.properties.content_type = Some("text/plain".into());
        Message::from_publish(publish, topic.into(), None, None)
    }

    /// A copy of the shared frame is byte for byte the PUBLISH encoded for the delivery.
    #[test]
    fn a_copy_equals_the_delivery_encoded_on_its_own() {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                // 200 bytes of payload: a two-byte Remaining Length.
                for (topic, payload_len) in [("a/b", 10), ("sensors/room-1/temperature", 200)] {
                    let message = message(qos, topic, payload_len);
                    let frames = Frames::default();
                    let frame = frames.get(&message, version).expect("encodable").clone();
                    for (dup, retain, packet_id) in
                        [(false, false, 7), (true, true, 0xABCD), (false, true, 1)]
                    {
                        let dup = dup && qos != QoS::AtMostOnce;
                        let mut copy = BytesMut::new();
                        put(&mut copy, &frame, dup, retain, packet_id, topic.len());
                        let mut expected = Publish::new(topic.to_string(), message.payload.clone(), qos);
                        expected.dup = dup;
                        expected.retain = retain;
                        expected.packet_id = if qos == QoS::AtMostOnce { 0 } else { packet_id };
                        if version == ProtocolVersion::V5 {
                            expected.properties = message.properties.clone();
                        }
                        let mut direct = BytesMut::new();
                        Packet::Publish(expected).encode(version, &mut direct).unwrap();
                        assert_eq!(copy, direct, "{version:?} {qos:?} {topic} dup={dup} retain={retain}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_frame_is_encoded_once_per_version() {
        let message = message(QoS::AtLeastOnce, "t", 3);
        let frames = Frames::default();
        let a = frames.get(&message, ProtocolVersion::V5).unwrap().as_ptr();
        let b = frames.get(&message, ProtocolVersion::V5).unwrap().as_ptr();
        assert_eq!(a, b);
        let v311 = frames.get(&message, ProtocolVersion::V311).unwrap();
        assert_ne!(v311.as_ptr(), a);
        // MQTT 3.1.1: no properties.
        assert_eq!(v311.len(), 1 + 1 + 2 + 1 + 2 + 3);
    }
}
