//! Codec benchmarks (issue #2): mqttkit against mqttbytes 0.6, the codec rumqttc grew out of.
//!
//! Every row builds the same packet in both libraries and checks, before measuring, that
//! both encode it to the same bytes and decode those bytes back to the packet they started
//! from. Each row is a criterion group, so the two libraries print next to each other.
//!
//! - encode: clear one reused output buffer, encode the packet into it. mqttkit is measured
//!   twice: `encode` validates the content (topic syntax, U+0000, UTF-8 payloads), and
//!   `encode_unchecked`, the form its client and broker use for content validated on entry,
//!   does not — like mqttbytes, which never validates on encode.
//! - decode: refill one reused input buffer with the row's bytes, then take one packet out
//!   of it with the library's streaming reader (`Decoder::decode` / `vN::read`). The refill
//!   (a copy of at most ~1.2 KiB) is measured for both libraries alike.
//!
//! Run with `cargo bench -p mqttkit --bench codec`.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqttbytes::{v4, v5};
use mqttkit::protocol::{
    Connect, ConnectProperties, Decoder, Packet, ProtocolVersion, Publish, PublishProperties, QoS, Subscribe,
    Subscription, Will, WillProperties,
};

/// The size limit both readers are given: above every packet here, so it never triggers.
const MAX_PACKET_SIZE: u32 = 1 << 20;

const TOPIC: &str = "sensors/building-7/floor-3/room-12/temperature";
const PACKET_ID: u16 = 4_711;
const MESSAGE_EXPIRY: u32 = 3_600;
const CONTENT_TYPE: &str = "application/json";
const RESPONSE_TOPIC: &str = "replies/gateway-17/requests";
const CORRELATION_DATA: &[u8] = b"req-000000000042";
const USER_PROPERTIES: [(&str, &str); 2] =
    [("trace-id", "4bf92f3577b34da6a3ce929d0e0e4736"), ("source", "gateway-17")];

const CLIENT_ID: &str = "mqttkit-bench-client-0001";
const KEEP_ALIVE: u16 = 60;
const USERNAME: &str = "bench-user";
const PASSWORD: &str = "s3cr3t-passw0rd";
const WILL_TOPIC: &str = "clients/mqttkit-bench-client-0001/status";
const WILL_PAYLOAD: &[u8] = b"offline";
const SESSION_EXPIRY: u32 = 3_600;
const RECEIVE_MAXIMUM: u16 = 100;
const TOPIC_ALIAS_MAXIMUM: u16 = 16;
const WILL_DELAY: u32 = 5;
const WILL_CONTENT_TYPE: &str = "text/plain";

const SUBSCRIBE_FILTERS: [(&str, QoS); 10] = [
    ("sensors/+/temperature", QoS::AtLeastOnce),
    ("sensors/+/humidity", QoS::AtLeastOnce),
    ("sensors/building-7/#", QoS::AtMostOnce),
    ("alerts/#", QoS::ExactlyOnce),
    ("commands/gateway-17/+", QoS::AtLeastOnce),
    ("config/gateway-17", QoS::AtLeastOnce),
    ("firmware/gateway-17/updates", QoS::ExactlyOnce),
    ("$share/workers/jobs/+/pending", QoS::AtLeastOnce),
    ("status/+/online", QoS::AtMostOnce),
    ("metrics/building-7/+/power", QoS::AtMostOnce),
];

/// The mqttbytes side of a row: exactly the packet kinds the rows use.
enum Theirs {
    PublishV5(v5::Publish),
    ConnectV5(v5::Connect),
    ConnectV4(v4::Connect),
    SubscribeV5(v5::Subscribe),
}

impl Theirs {
    fn encode(&self, buf: &mut BytesMut) -> Result<usize, mqttbytes::Error> {
        match self {
            Theirs::PublishV5(p) => p.write(buf),
            Theirs::ConnectV5(p) => p.write(buf),
            Theirs::ConnectV4(p) => p.write(buf),
            Theirs::SubscribeV5(p) => p.write(buf),
        }
    }

    /// Reads one packet with the reader of this row's protocol version, returning it in the
    /// row's shape so it can be compared with the original.
    fn decode(&self, buf: &mut BytesMut) -> Result<Theirs, mqttbytes::Error> {
        Ok(match self {
            Theirs::ConnectV4(_) => match v4::read(buf, MAX_PACKET_SIZE as usize)? {
                v4::Packet::Connect(p) => Theirs::ConnectV4(p),
                other => panic!("mqttbytes decoded {other:?}, expected CONNECT"),
            },
            _ => match v5::read(buf, MAX_PACKET_SIZE as usize)? {
                v5::Packet::Publish(p) => Theirs::PublishV5(p),
                v5::Packet::Connect(p) => Theirs::ConnectV5(p),
                v5::Packet::Subscribe(p) => Theirs::SubscribeV5(p),
                other => panic!("mqttbytes decoded {other:?}, expected PUBLISH, CONNECT or SUBSCRIBE"),
            },
        })
    }

    fn same_as(&self, other: &Theirs) -> bool {
        match (self, other) {
            (Theirs::PublishV5(a), Theirs::PublishV5(b)) => a == b,
            (Theirs::ConnectV5(a), Theirs::ConnectV5(b)) => a == b,
            (Theirs::ConnectV4(a), Theirs::ConnectV4(b)) => a == b,
            (Theirs::SubscribeV5(a), Theirs::SubscribeV5(b)) => a == b,
            _ => false,
        }
    }
}

/// One benchmark row: the same packet in both libraries, and its encoding.
struct Row {
    name: &'static str,
    version: ProtocolVersion,
    ours: Packet,
    theirs: Theirs,
    wire: Bytes,
}

impl Row {
    /// Encodes the packet with both libraries, checks that the bytes agree and that each
    /// library decodes them back to its original packet.
    fn new(name: &'static str, version: ProtocolVersion, ours: Packet, theirs: Theirs) -> Self {
        let mut ours_wire = BytesMut::new();
        ours.encode(version, &mut ours_wire).expect("mqttkit encodes the row");
        let mut theirs_wire = BytesMut::new();
        theirs.encode(&mut theirs_wire).expect("mqttbytes encodes the row");
        assert_eq!(ours_wire, theirs_wire, "{name}: the two libraries encode different bytes");

        let wire = ours_wire.freeze();
        let mut buf = BytesMut::from(&wire[..]);
        let decoded = Decoder::new(version).decode(&mut buf).expect("mqttkit decodes the row");
        assert_eq!(decoded.as_ref(), Some(&ours), "{name}: mqttkit decoded another packet");
        let mut buf = BytesMut::from(&wire[..]);
        let decoded = theirs.decode(&mut buf).expect("mqttbytes decodes the row");
        assert!(decoded.same_as(&theirs), "{name}: mqttbytes decoded another packet");

        Row { name, version, ours, theirs, wire }
    }
}

fn payload(len: usize) -> Bytes {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>().into()
}

fn publish_row(name: &'static str, payload_len: usize, with_properties: bool) -> Row {
    let payload = payload(payload_len);

    let mut ours = Publish::new(TOPIC, payload.clone(), QoS::AtLeastOnce).with_packet_id(PACKET_ID);
    let mut theirs = v5::Publish::from_bytes(TOPIC, mqttbytes::QoS::AtLeastOnce, payload);
    theirs.pkid = PACKET_ID;
    if with_properties {
        ours.properties = PublishProperties {
            message_expiry_interval: Some(MESSAGE_EXPIRY),
            response_topic: Some(ByteString::from_static(RESPONSE_TOPIC)),
            correlation_data: Some(Bytes::from_static(CORRELATION_DATA)),
            user_properties: USER_PROPERTIES.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
            content_type: Some(ByteString::from_static(CONTENT_TYPE)),
            ..PublishProperties::default()
        };
        theirs.properties = Some(v5::PublishProperties {
            payload_format_indicator: None,
            message_expiry_interval: Some(MESSAGE_EXPIRY),
            topic_alias: None,
            response_topic: Some(RESPONSE_TOPIC.into()),
            correlation_data: Some(Bytes::from_static(CORRELATION_DATA)),
            user_properties: USER_PROPERTIES.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
            subscription_identifiers: Vec::new(),
            content_type: Some(CONTENT_TYPE.into()),
        });
    }
    Row::new(name, ProtocolVersion::V5, Packet::Publish(ours), Theirs::PublishV5(theirs))
}

/// CONNECT with a QoS 1 retained will, user name and password; on MQTT 5 also CONNECT and
/// will properties.
fn connect_row(name: &'static str, version: ProtocolVersion) -> Row {
    let mut will = Will::new(WILL_TOPIC, Bytes::from_static(WILL_PAYLOAD));
    will.qos = QoS::AtLeastOnce;
    will.retain = true;
    let mut ours = Connect::new(CLIENT_ID);
    ours.protocol_version = version;
    ours.keep_alive = KEEP_ALIVE;
    ours.username = Some(USERNAME.into());
    ours.password = Some(Bytes::from_static(PASSWORD.as_bytes()));

    let theirs = match version {
        ProtocolVersion::V311 => {
            ours.will = Some(will);
            Theirs::ConnectV4(v4::Connect {
                protocol: mqttbytes::Protocol::V4,
                keep_alive: KEEP_ALIVE,
                client_id: CLIENT_ID.into(),
                clean_session: true,
                last_will: Some(v4::LastWill::new(
                    WILL_TOPIC,
                    WILL_PAYLOAD,
                    mqttbytes::QoS::AtLeastOnce,
                    true,
                )),
                login: Some(v4::Login::new(USERNAME, PASSWORD)),
            })
        }
        ProtocolVersion::V5 => {
            ours.properties = ConnectProperties {
                session_expiry_interval: Some(SESSION_EXPIRY),
                receive_maximum: Some(RECEIVE_MAXIMUM),
                maximum_packet_size: Some(MAX_PACKET_SIZE),
                topic_alias_maximum: Some(TOPIC_ALIAS_MAXIMUM),
                ..ConnectProperties::default()
            };
            will.properties = WillProperties {
                will_delay_interval: Some(WILL_DELAY),
                message_expiry_interval: Some(MESSAGE_EXPIRY),
                content_type: Some(ByteString::from_static(WILL_CONTENT_TYPE)),
                ..WillProperties::default()
            };
            ours.will = Some(will);
            let mut last_will =
                v5::LastWill::new(WILL_TOPIC, WILL_PAYLOAD, mqttbytes::QoS::AtLeastOnce, true);
            last_will.properties = Some(v5::WillProperties {
                delay_interval: Some(WILL_DELAY),
                payload_format_indicator: None,
                message_expiry_interval: Some(MESSAGE_EXPIRY),
                content_type: Some(WILL_CONTENT_TYPE.into()),
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
            });
            Theirs::ConnectV5(v5::Connect {
                protocol: mqttbytes::Protocol::V5,
                keep_alive: KEEP_ALIVE,
                client_id: CLIENT_ID.into(),
                clean_session: true,
                last_will: Some(last_will),
                login: Some(v5::Login::new(USERNAME, PASSWORD)),
                properties: Some(v5::ConnectProperties {
                    session_expiry_interval: Some(SESSION_EXPIRY),
                    receive_maximum: Some(RECEIVE_MAXIMUM),
                    max_packet_size: Some(MAX_PACKET_SIZE),
                    topic_alias_max: Some(TOPIC_ALIAS_MAXIMUM),
                    request_response_info: None,
                    request_problem_info: None,
                    user_properties: Vec::new(),
                    authentication_method: None,
                    authentication_data: None,
                }),
            })
        }
    };
    Row::new(name, version, Packet::Connect(Box::new(ours)), theirs)
}

/// MQTT 5 SUBSCRIBE with ten filters of mixed QoS, one of them shared.
fn subscribe_row(name: &'static str) -> Row {
    let ours = Subscribe::new(
        PACKET_ID,
        SUBSCRIBE_FILTERS.iter().map(|&(filter, qos)| Subscription::new(filter, qos)).collect(),
    );
    let theirs = v5::Subscribe::new_many(SUBSCRIBE_FILTERS.iter().map(|&(filter, qos)| {
        let qos = match qos {
            QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
            QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
            QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
        };
        v5::SubscribeFilter::new(filter.into(), qos)
    }));
    let theirs = v5::Subscribe { pkid: PACKET_ID, ..theirs };
    Row::new(name, ProtocolVersion::V5, Packet::Subscribe(ours), Theirs::SubscribeV5(theirs))
}

fn rows() -> Vec<Row> {
    vec![
        publish_row("publish_v5_64B", 64, false),
        publish_row("publish_v5_64B_props", 64, true),
        publish_row("publish_v5_1KiB", 1024, false),
        publish_row("publish_v5_1KiB_props", 1024, true),
        connect_row("connect_v5", ProtocolVersion::V5),
        connect_row("connect_v311", ProtocolVersion::V311),
        subscribe_row("subscribe_v5_10_filters"),
    ]
}

fn bench_encode(c: &mut Criterion, row: &Row) {
    let mut group = c.benchmark_group(format!("encode/{}", row.name));
    group.throughput(Throughput::Bytes(row.wire.len() as u64));
    let mut buf = BytesMut::with_capacity(row.wire.len());
    group.bench_function("mqttkit", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&row.ours).encode(row.version, &mut buf).unwrap();
            black_box(&buf);
        })
    });
    // The form mqttkit's client and broker use for content already validated on entry.
    group.bench_function("mqttkit_unchecked", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&row.ours).encode_unchecked(row.version, &mut buf).unwrap();
            black_box(&buf);
        })
    });
    group.bench_function("mqttbytes", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&row.theirs).encode(&mut buf).unwrap();
            black_box(&buf);
        })
    });
    group.finish();
}

fn bench_decode(c: &mut Criterion, row: &Row) {
    let mut group = c.benchmark_group(format!("decode/{}", row.name));
    group.throughput(Throughput::Bytes(row.wire.len() as u64));
    let mut buf = BytesMut::with_capacity(row.wire.len());
    let mut decoder = Decoder::new(row.version);
    group.bench_function("mqttkit", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&row.wire));
            decoder.decode(&mut buf).unwrap().unwrap()
        })
    });
    group.bench_function("mqttbytes", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&row.wire));
            row.theirs.decode(&mut buf).unwrap()
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    for row in rows() {
        bench_encode(c, &row);
        bench_decode(c, &row);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = codec
}
criterion_main!(benches);
