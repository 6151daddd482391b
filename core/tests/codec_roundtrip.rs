//! Property tests of the codec: every packet of both versions survives encode → decode,
//! whole or streamed in pieces, `encoded_len` tells the truth, and no input makes the
//! decoder panic or hand out a packet over the size limit.

mod common;

use bytes::{Bytes, BytesMut};
use common::{encode, loosen, loosening, packet, version, versioned_packet, versioned_packets};
use mqttkit::protocol::{Decoder, Packet, PacketType, ProtocolError, ProtocolVersion};
use proptest::collection::vec;
use proptest::prelude::*;

/// Decodes everything `decoder` can take out of `buf`, stopping at the first error.
fn drain(decoder: &mut Decoder, buf: &mut BytesMut) -> Result<Vec<Packet>, ProtocolError> {
    let mut packets = Vec::new();
    while let Some(packet) = decoder.decode(buf)? {
        packets.push(packet);
    }
    Ok(packets)
}

/// A packet that decoded must encode again, to bytes that decode to the same packet.
fn assert_reencodes(packet: &Packet, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    let encoded = packet.encode(version, &mut buf);
    prop_assert!(encoded.is_ok(), "decoded {packet:?} but cannot encode it: {encoded:?}");
    prop_assert_eq!(&Packet::decode(buf.freeze(), version)?, packet);
    Ok(())
}

/// Feeds `bytes` to a fresh decoder in one piece and checks every packet it yields.
fn decode_arbitrary(version: ProtocolVersion, bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::from(bytes);
    loop {
        let before = decoder.version();
        match decoder.decode(&mut buf) {
            Ok(Some(packet)) => assert_reencodes(&packet, before)?,
            Ok(None) | Err(_) => break,
        }
    }
    if let Ok(packet) = Packet::decode(Bytes::copy_from_slice(bytes), version) {
        assert_reencodes(&packet, version)?;
    }
    Ok(())
}

/// A fixed header with the first byte `first` and a Remaining Length of `len`.
fn fixed_header(first: u8, len: usize) -> Vec<u8> {
    let mut header = vec![first];
    let mut len = len;
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        header.push(byte);
        if len == 0 {
            return header;
        }
    }
}

/// A first byte with valid flags for each packet type `version` has.
fn valid_first_byte(version: ProtocolVersion) -> impl Strategy<Value = u8> {
    let last = match version {
        ProtocolVersion::V5 => 15u8,
        ProtocolVersion::V311 => 14,
    };
    (1..=last, 0u8..16).prop_map(|(kind, publish_flags)| {
        let packet_type = PacketType::from_u8(kind).expect("1..=15 are packet types");
        let flags = packet_type.required_flags().unwrap_or(publish_flags);
        (kind << 4) | flags
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_identity((version, packet) in versioned_packet()) {
        let bytes = encode(&packet, version);
        prop_assert_eq!(packet.encoded_len(version)?, bytes.len());
        if let Packet::Publish(publish) = &packet {
            let mut direct = BytesMut::new();
            publish.encode(version, &mut direct)?;
            prop_assert_eq!(&direct, &bytes, "Publish::encode differs from Packet::encode");
            prop_assert_eq!(publish.encoded_len(version)?, bytes.len());
        }
        prop_assert_eq!(Packet::decode(bytes.freeze(), version)?, packet);
    }

    #[test]
    fn encode_appends_to_what_is_in_the_buffer(
        (version, packet) in versioned_packet(),
        prefix in vec(any::<u8>(), 0..16),
    ) {
        let mut buf = BytesMut::from(&prefix[..]);
        packet.encode(version, &mut buf)?;
        prop_assert_eq!(&buf[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&buf[prefix.len()..], &encode(&packet, version)[..]);
    }

    /// Whatever the encoder accepts, the decoder accepts and reads back unchanged; whatever
    /// it refuses leaves the buffer as it was.
    #[test]
    fn encoder_never_writes_what_the_decoder_rejects(
        (version, mut packet) in versioned_packet(),
        loosening in loosening(),
        prefix in vec(any::<u8>(), 0..4),
    ) {
        loosen(&mut packet, version, loosening);
        if let Packet::Publish(publish) = &packet {
            prop_assert_eq!(publish.encoded_len(version), packet.encoded_len(version));
        }
        let mut buf = BytesMut::from(&prefix[..]);
        match packet.encode(version, &mut buf) {
            Ok(()) => {
                let bytes = buf.split_off(prefix.len()).freeze();
                prop_assert_eq!(Some(bytes.len()), packet.encoded_len(version).ok());
                prop_assert_eq!(Packet::decode(bytes, version)?, packet);
            }
            Err(error) => {
                prop_assert_eq!(&buf[..], &prefix[..], "{} appended bytes", error);
                prop_assert_eq!(packet.encoded_len(version), Err(error));
            }
        }
    }

    #[test]
    fn decoder_waits_for_the_rest_at_every_split_point((version, packet) in versioned_packet()) {
        let bytes = encode(&packet, version);
        let mut decoder = Decoder::new(version);
        for split in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..split]);
            prop_assert_eq!(decoder.decode(&mut buf)?, None, "split at {}", split);
            prop_assert_eq!(&buf[..], &bytes[..split], "an incomplete packet stays in the buffer");
            buf.extend_from_slice(&bytes[split..]);
            prop_assert_eq!(decoder.decode(&mut buf)?, Some(packet.clone()), "split at {}", split);
            prop_assert!(buf.is_empty());
        }
    }

    #[test]
    fn decoder_reassembles_concatenated_packets_from_arbitrary_chunks(
        (version, packets) in versioned_packets(),
        chunk_sizes in vec(1usize..48, 1..32),
    ) {
        let mut wire = BytesMut::new();
        for packet in &packets {
            packet.encode(version, &mut wire)?;
        }

        let mut whole = wire.clone();
        prop_assert_eq!(&drain(&mut Decoder::new(version), &mut whole)?, &packets);
        prop_assert!(whole.is_empty());

        let mut decoder = Decoder::new(version);
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut rest = &wire[..];
        for size in chunk_sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            buf.extend_from_slice(chunk);
            rest = tail;
            decoded.extend(drain(&mut decoder, &mut buf)?);
        }
        prop_assert_eq!(&decoded, &packets);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn decoder_enforces_max_packet_size(
        (version, packet) in versioned_packet(),
        max in 2usize..400,
    ) {
        let bytes = encode(&packet, version);
        let mut decoder = Decoder::new(version).with_max_packet_size(max);
        let mut buf = bytes.clone();
        if bytes.len() <= max {
            prop_assert_eq!(decoder.decode(&mut buf)?, Some(packet));
        } else {
            let expected = ProtocolError::PacketTooLarge { size: bytes.len(), max };
            prop_assert_eq!(decoder.decode(&mut buf), Err(expected.clone()));
            // The fixed header alone is enough to refuse it.
            let header_len = 1 + bytes[1..].iter().take_while(|b| **b & 0x80 != 0).count() + 1;
            let mut header = BytesMut::from(&bytes[..header_len]);
            prop_assert_eq!(decoder.decode(&mut header), Err(expected));
        }
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(
        version in version(),
        bytes in vec(any::<u8>(), 0..256),
    ) {
        decode_arbitrary(version, &bytes)?;
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bodies(
        version in version(),
        first in version().prop_flat_map(valid_first_byte),
        body in vec(any::<u8>(), 0..200),
    ) {
        let mut frame = fixed_header(first, body.len());
        frame.extend_from_slice(&body);
        decode_arbitrary(version, &frame)?;
    }

    #[test]
    fn decoder_never_panics_on_mutated_packets(
        (version, packet) in versioned_packet(),
        mutations in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        truncate in any::<prop::sample::Index>(),
    ) {
        let bytes = encode(&packet, version);
        let mut mutated = bytes.to_vec();
        for (index, value) in &mutations {
            mutated[index.index(bytes.len())] = *value;
        }
        decode_arbitrary(version, &mutated)?;
        // The same with the body cut short but the Remaining Length made to match.
        let header_len = 1 + bytes[1..].iter().take_while(|b| **b & 0x80 != 0).count() + 1;
        let body = &mutated[header_len..][..truncate.index(bytes.len() - header_len + 1)];
        let mut frame = fixed_header(mutated[0], body.len());
        frame.extend_from_slice(body);
        decode_arbitrary(version, &frame)?;
    }

    #[test]
    fn decoder_never_yields_a_packet_over_the_limit(
        version in version(),
        max in 0usize..64,
        packets in version().prop_flat_map(|v| vec(packet(v), 1..4)),
        noise in vec(any::<u8>(), 0..64),
    ) {
        let mut wire = BytesMut::new();
        for packet in &packets {
            // Packets of the other version may not encode; those are simply left out.
            let _ = packet.encode(version, &mut wire);
        }
        wire.extend_from_slice(&noise);
        let mut decoder = Decoder::new(version).with_max_packet_size(max);
        loop {
            let before = wire.len();
            match decoder.decode(&mut wire) {
                Ok(Some(_)) => {
                    let size = before - wire.len();
                    prop_assert!(size <= max, "a packet of {} bytes got through a limit of {}", size, max);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}
