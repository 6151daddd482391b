//! Encode a few MQTT 5 packets into one buffer, then decode them back as a connection
//! would: byte by byte, with a packet-size limit.
//!
//! Run: `cargo run -p mqttkit --example codec`

use bytes::BytesMut;
use mqttkit::protocol::{
    Connect, Decoder, Packet, ProtocolError, ProtocolVersion, Publish, QoS, Subscribe, Subscription,
};

fn main() -> Result<(), ProtocolError> {
    let mut publish = Publish::new("sensors/kitchen/temp", "21.5", QoS::AtLeastOnce).with_packet_id(1);
    publish.properties.content_type = Some("text/plain".into());
    publish.properties.user_properties.push(("unit".into(), "celsius".into()));
    let packets = [
        Packet::Connect(Box::new(Connect::new("example-client"))),
        Packet::Subscribe(Subscribe::new(2, vec![Subscription::new("sensors/+/temp", QoS::ExactlyOnce)])),
        Packet::Publish(publish),
        Packet::PingReq,
    ];

    let mut wire = BytesMut::new();
    for packet in &packets {
        packet.encode(ProtocolVersion::V5, &mut wire)?;
    }
    println!("encoded {} packets into {} bytes", packets.len(), wire.len());

    // Feed the bytes one at a time, as a slow network would.
    let mut decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(1024);
    let mut received = BytesMut::new();
    let mut decoded = Vec::new();
    for byte in wire.iter() {
        received.extend_from_slice(&[*byte]);
        while let Some(packet) = decoder.decode(&mut received)? {
            println!("decoded {}", packet.packet_type());
            decoded.push(packet);
        }
    }
    assert_eq!(decoded, packets);

    // A malformed packet: PUBLISH with QoS 3 (MQTT-3.3.1-4).
    let mut bad = BytesMut::from(&[0x36, 0x03, 0x00, 0x01, b'a'][..]);
    let error = decoder.decode(&mut bad).expect_err("QoS 3 is malformed");
    println!("rejected: {error} -> answer with reason code {}", error.reason_code());
    Ok(())
}
