//! The stored form of a will waiting for its Will Delay Interval (MQTT 5.0 §3.1.3.2.2), so
//! that a restarted broker still publishes it: the format byte, when it is due (Unix
//! milliseconds), then the will as an MQTT 5 PUBLISH.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::storage::{instant_to_unix_ms, unix_ms_to_instant};
use crate::protocol::{Packet, ProtocolVersion, Publish, PublishProperties, QoS, Will, WillProperties};

/// Format version of will records.
const FORMAT: u8 = 1;

/// Encodes a pending will due at `due`.
pub(crate) fn encode(will: &Will, due: Instant) -> Vec<u8> {
    let p = &will.properties;
    let publish = Publish {
        dup: false,
        qos: will.qos,
        retain: will.retain,
        topic: will.topic.clone(),
        // A PUBLISH above QoS 0 needs one; not read back.
        packet_id: u16::from(will.qos != QoS::AtMostOnce),
        properties: PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            content_type: p.content_type.clone(),
            response_topic: p.response_topic.clone(),
            correlation_data: p.correlation_data.clone(),
            user_properties: p.user_properties.clone(),
            ..PublishProperties::default()
        },
        payload: will.payload.clone(),
    };
    let mut out = BytesMut::from(&[FORMAT][..]);
    out.extend_from_slice(&instant_to_unix_ms(due).to_be_bytes());
    // The will was validated when its CONNECT was decoded; an encoding failure (a will
    // over 256 MB) leaves a record that `decode` rejects.
    if publish.encode_unchecked(ProtocolVersion::V5, &mut out).is_err() {
        out.truncate(1);
    }
    out.to_vec()
}

/// Decodes a will record: the will (without its delay, which has been applied) and when it
/// is due. `None` if the record is not readable.
pub(crate) fn decode(bytes: &[u8]) -> Option<(Will, Instant)> {
    let (&format, rest) = bytes.split_first()?;
    if format != FORMAT || rest.len() < 8 {
        return None;
    }
    let (due, frame) = rest.split_at(8);
    let due = u64::from_be_bytes(due.try_into().ok()?);
    let Ok(Packet::Publish(publish)) = Packet::decode(Bytes::copy_from_slice(frame), ProtocolVersion::V5)
    else {
        return None;
    };
    let p = publish.properties;
    let will = Will {
        topic: publish.topic,
        payload: publish.payload,
        qos: publish.qos,
        retain: publish.retain,
        properties: WillProperties {
            will_delay_interval: None,
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            content_type: p.content_type,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data,
            user_properties: p.user_properties,
        },
    };
    Some((will, unix_ms_to_instant(due)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_will_round_trips_with_its_due_time() {
        let mut will = Will::new("last/words", Bytes::from_static(b"bye"));
        will.qos = QoS::ExactlyOnce;
        will.retain = true;
        will.properties.will_delay_interval = Some(30);
        will.properties.message_expiry_interval = Some(60);
        will.properties.content_type = Some("text/plain".into());
        will.properties.correlation_data = Some(Bytes::from_static(b"c"));
        will.properties.user_properties = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        let due = Instant::now() + Duration::from_secs(30);
        let (back, back_due) = decode(&encode(&will, due)).expect("readable");
        will.properties.will_delay_interval = None;
        assert_eq!(back, will);
        let drift = back_due.max(due) - back_due.min(due);
        assert!(drift < Duration::from_millis(50), "{drift:?}");
    }

    #[test]
    fn unreadable_records_are_refused() {
        assert!(decode(&[]).is_none());
        assert!(decode(&[FORMAT, 0, 0]).is_none());
        assert!(decode(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0]).is_none());
        assert!(decode(&[FORMAT, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 5, 0]).is_none());
    }
}
