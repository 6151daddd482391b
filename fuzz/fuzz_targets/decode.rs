//! Fuzzes the streaming decoder of both protocol versions.
//!
//! Input layout: the first byte picks a split point, the rest is the byte stream a peer
//! sends. For MQTT 3.1.1 and 5.0 alike the stream is decoded twice, once all at once and
//! once in two reads cut at the split point, and the target checks that:
//!
//! - nothing panics, whatever the bytes;
//! - a partial frame changes nothing: both feeds yield the same packets and the same error;
//! - every decoded packet re-encodes (the codec must accept to send what it accepts to
//!   receive), `encoded_len` predicts the encoding's length, and decoding the encoding
//!   gives the same packet back.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqttkit::protocol::{Decoder, Packet, ProtocolError, ProtocolVersion};

/// What a decoder made of a byte stream: the packets, each with the version it was decoded
/// with, and the error that stopped it, if any.
#[derive(Debug, PartialEq)]
struct Outcome {
    packets: Vec<(ProtocolVersion, Packet)>,
    error: Option<ProtocolError>,
}

/// Feeds `reads` one after another to a fresh decoder for `version`, taking out every
/// complete packet after each read, until the stream ends or an error (after which the
/// stream is out of step and a connection would be closed).
fn decode_stream(version: ProtocolVersion, reads: &[&[u8]]) -> Outcome {
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            let version = decoder.version();
            match decoder.decode(&mut buf) {
                Ok(Some(packet)) => packets.push((version, packet)),
                Ok(None) => break,
                Err(error) => return Outcome { packets, error: Some(error) },
            }
        }
    }
    Outcome { packets, error: None }
}

/// Encodes `packet` for `version`, decodes the bytes again and asserts nothing changed.
fn check_round_trip(version: ProtocolVersion, packet: &Packet) {
    let mut wire = BytesMut::new();
    if let Err(error) = packet.encode(version, &mut wire) {
        panic!("decoded packet does not re-encode for {version}: {error}\n{packet:#?}");
    }
    let predicted = packet.encoded_len(version).expect("encoded_len fails where encode succeeded");
    assert_eq!(predicted, wire.len(), "encoded_len disagrees with encode for {packet:#?}");
    let wire = wire.freeze();
    match Packet::decode(wire.clone(), version) {
        Ok(again) => assert_eq!(&again, packet, "round trip changed the packet; re-encoded as {wire:02x?}"),
        Err(error) => {
            panic!("re-encoded packet does not decode for {version}: {error}\n{wire:02x?}\n{packet:#?}")
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else { return };
    let split = usize::from(selector) % (stream.len() + 1);
    let (head, tail) = stream.split_at(split);
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let whole = decode_stream(version, &[stream]);
        let in_two_reads = decode_stream(version, &[head, tail]);
        assert_eq!(whole, in_two_reads, "splitting the stream at {split} changed the outcome for {version}");
        for (version, packet) in &whole.packets {
            check_round_trip(*version, packet);
        }
    }
});
