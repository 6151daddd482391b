//! The stored form of a will, so that a restarted broker still publishes it. Two kinds of
//! record, each a format byte, a header, then the will as an MQTT 5 PUBLISH:
//! - a will waiting for its Will Delay Interval (MQTT 5.0 §3.1.3.2.2) after its connection
//!   closed: when it is due (Unix milliseconds);
//! - the will of a connection that is open: its delay and the client's user name. Should
//!   the broker stop without closing the connection (a crash), the connection counts as
//!   closed at the restart (MQTT-3.1.2-8).

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::storage::{instant_to_unix_ms, unix_ms_to_instant};
use crate::protocol::{Packet, ProtocolVersion, Publish, PublishProperties, QoS, Will, WillProperties};

/// Format of a will waiting for its delay.
const PENDING: u8 = 1;
/// Format of an open connection's will.
const CONNECTED: u8 = 2;

/// When a stored will is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Due {
    /// At this time (its connection closed, the delay runs).
    At(Instant),
    /// `delay` seconds after the restart: its connection was still open when the broker
    /// stopped; `username` is the user it authenticated as.
    AfterRestart { delay: u32, username: Option<Arc<str>> },
}

/// Encodes a will whose connection has closed, due at `due`.
pub(crate) fn encode(will: &Will, due: Instant) -> Vec<u8> {
    let mut out = BytesMut::from(&[PENDING][..]);
    out.extend_from_slice(&instant_to_unix_ms(due).to_be_bytes());
    finish(will, out)
}

/// Encodes the will of an open connection: `delay` is its Will Delay Interval (0 for
/// MQTT 3.1.1), `username` the user the client authenticated as.
pub(crate) fn encode_connected(will: &Will, delay: u32, username: Option<&str>) -> Vec<u8> {
    let mut out = BytesMut::from(&[CONNECTED][..]);
    out.extend_from_slice(&delay.to_be_bytes());
    match username.map(str::as_bytes).filter(|name| u16::try_from(name.len()).is_ok()) {
        Some(name) => {
            out.extend_from_slice(&[1]);
            out.extend_from_slice(&(name.len() as u16).to_be_bytes());
            out.extend_from_slice(name);
        }
        None => out.extend_from_slice(&[0]),
    }
    finish(will, out)
}

/// Appends the will as a PUBLISH to the record header in `out`.
fn finish(will: &Will, mut out: BytesMut) -> Vec<u8> {
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
    // The will was validated when its CONNECT was decoded; an encoding failure (a will
    // over 256 MB) leaves a record that `decode` rejects.
    if publish.encode_unchecked(ProtocolVersion::V5, &mut out).is_err() {
        out.truncate(1);
    }
    out.to_vec()
}

/// Decodes a will record: the will (without its delay, which `Due` carries) and when it
/// is due. `None` if the record is not readable.
pub(crate) fn decode(bytes: &[u8]) -> Option<(Will, Due)> {
    let (&format, rest) = bytes.split_first()?;
    let (due, frame) = match format {
        PENDING => {
            let (due, frame) = rest.split_at_checked(8)?;
            (Due::At(unix_ms_to_instant(u64::from_be_bytes(due.try_into().ok()?))), frame)
        }
        CONNECTED => {
            let (delay, rest) = rest.split_at_checked(4)?;
            let delay = u32::from_be_bytes(delay.try_into().ok()?);
            let (&has_name, rest) = rest.split_first()?;
            let (username, frame) = if has_name == 1 {
                let (len, rest) = rest.split_at_checked(2)?;
                let (name, frame) =
                    rest.split_at_checked(usize::from(u16::from_be_bytes(len.try_into().ok()?)))?;
                (Some(Arc::from(std::str::from_utf8(name).ok()?)), frame)
            } else {
                (None, rest)
            };
            (Due::AfterRestart { delay, username }, frame)
        }
        _ => return None,
    };
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
    Some((will, due))
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
        let (back, Due::At(back_due)) = decode(&encode(&will, due)).expect("readable") else {
            panic!("a pending will");
        };
        let (connected, after_restart) = decode(&encode_connected(&will, 30, Some("ann"))).expect("readable");
        assert_eq!(after_restart, Due::AfterRestart { delay: 30, username: Some("ann".into()) });
        let (_, anonymous) = decode(&encode_connected(&will, 0, None)).expect("readable");
        assert_eq!(anonymous, Due::AfterRestart { delay: 0, username: None });
        will.properties.will_delay_interval = None;
        assert_eq!(back, will);
        assert_eq!(connected, will);
        let drift = back_due.max(due) - back_due.min(due);
        assert!(drift < Duration::from_millis(50), "{drift:?}");
    }

    #[test]
    fn unreadable_records_are_refused() {
        assert!(decode(&[]).is_none());
        assert!(decode(&[PENDING, 0, 0]).is_none());
        assert!(decode(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0]).is_none());
        assert!(decode(&[PENDING, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 5, 0]).is_none());
        assert!(decode(&[CONNECTED, 0, 0, 0, 0, 1, 0, 9, b'a']).is_none());
        assert!(decode(&[CONNECTED, 0, 0, 0, 0, 1, 0, 1, 0xFF, 0x30, 0]).is_none());
    }
}
