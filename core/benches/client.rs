//! Client throughput and latency, mqttkit next to rumqttc, in one run.
//!
//! Both clients publish to the same do-nothing sink listener (it answers CONNACK and
//! PUBACK and discards everything, on its own thread), so each client is timed alone; then
//! both do the same against an embedded mqttkit broker (on its own thread).
//! Run: `cargo bench -p mqttkit --bench client` (`-- --quick` for a short run; `-- --spawned`
//! runs the measuring code in a task spawned on the runtime, as most applications do,
//! instead of on the thread that calls `block_on`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use mqttkit::client::{Client, ClientOptions, ReconnectPolicy};
use mqttkit::dispatch::Event;
use mqttkit::protocol::{ConnAck, FixedHeader, Packet, PacketType, ProtocolVersion, PubAck, QoS, ReasonCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const PAYLOAD: [u8; 64] = [b'x'; 64];
const WINDOW: u16 = 64;

/// A listener that accepts MQTT 3.1.1 clients, answers CONNACK and PUBACK, and counts
/// the PUBLISH packets it discards.
struct Sink {
    port: u16,
    received: Arc<AtomicU64>,
    progress: Arc<Notify>,
}

impl Sink {
    fn start() -> Sink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(Notify::new());
        let (count, notify) = (received.clone(), progress.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((socket, _)) = listener.accept().await {
                    socket.set_nodelay(true).unwrap();
                    tokio::spawn(serve_sink(socket, count.clone(), notify.clone()));
                }
            });
        });
        Sink { port, received, progress }
    }

    async fn wait_for(&self, total: u64) {
        loop {
            let notified = self.progress.notified();
            if self.received.load(Ordering::Acquire) >= total {
                return;
            }
            notified.await;
        }
    }
}

async fn serve_sink(mut socket: tokio::net::TcpStream, received: Arc<AtomicU64>, progress: Arc<Notify>) {
    let mut input = BytesMut::with_capacity(256 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    loop {
        match socket.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut publishes = 0;
        while let Ok(Some(header)) = FixedHeader::parse(&input, ProtocolVersion::V311) {
            if input.len() < header.packet_len() {
                break;
            }
            let frame = input.split_to(header.packet_len());
            let body = &frame[header.header_len..];
            match header.packet_type {
                PacketType::Connect => {
                    let ack = Packet::ConnAck(ConnAck::new(ReasonCode::Success, false));
                    ack.encode(ProtocolVersion::V311, &mut output).unwrap();
                }
                PacketType::Publish => {
                    publishes += 1;
                    if (header.flags >> 1) & 0x03 == 1 {
                        let topic_len = u16::from_be_bytes([body[0], body[1]]) as usize;
                        let id = u16::from_be_bytes([body[2 + topic_len], body[3 + topic_len]]);
                        Packet::PubAck(PubAck::new(id)).encode(ProtocolVersion::V311, &mut output).unwrap();
                    }
                }
                PacketType::PingReq => output.extend_from_slice(&[0xD0, 0x00]),
                PacketType::Disconnect => return,
                _ => {}
            }
        }
        if !output.is_empty() && socket.write_all_buf(&mut output).await.is_err() {
            return;
        }
        if publishes > 0 {
            received.fetch_add(publishes, Ordering::AcqRel);
            progress.notify_waiters();
        }
    }
}

fn mqttkit_options(port: u16, id: &str) -> ClientOptions {
    ClientOptions::builder(format!("mqtt://127.0.0.1:{port}"))
        .client_id(id)
        .protocol_version(ProtocolVersion::V311)
        .max_inflight(WINDOW)
        .command_queue_size(4096)
        .reconnect(ReconnectPolicy::disabled())
        .build()
        .unwrap()
}

fn rumqttc_client(port: u16, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(60));
    options.set_inflight(WINDOW);
    options.set_max_packet_size(1 << 20, 1 << 20);
    rumqttc::AsyncClient::new(options, 4096)
}

/// Where the clients publish to.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// The sink: done when it has counted every message.
    Sink(&'a Sink),
    /// A broker on this port: done when a QoS 1 marker sent last is acknowledged (the broker
    /// handles a connection's packets in order).
    Broker(u16),
}

impl Target<'_> {
    fn port(self) -> u16 {
        match self {
            Target::Sink(sink) => sink.port,
            Target::Broker(port) => port,
        }
    }

    fn received(self) -> u64 {
        match self {
            Target::Sink(sink) => sink.received.load(Ordering::Acquire),
            Target::Broker(_) => 0,
        }
    }

    async fn wait_for(self, total: u64) {
        if let Target::Sink(sink) = self {
            sink.wait_for(total).await;
        }
    }
}

/// Starts an mqttkit broker on its own thread and runtime; returns its port.
fn start_broker() -> u16 {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let broker = mqttkit::broker::Broker::builder()
                .bind("127.0.0.1:0".parse().unwrap())
                .start()
                .await
                .unwrap();
            port_tx.send(broker.local_addr().port()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    port_rx.recv().unwrap()
}

/// Messages per second for `count` publications at `qos` (QoS 1: until every PUBACK is
/// handled by the client).
async fn mqttkit_throughput(target: Target<'_>, count: u64, qos: QoS) -> f64 {
    let (client, mut events) = Client::with_events(mqttkit_options(target.port(), "bench-mqttkit")).unwrap();
    client.connect().await.unwrap();
    let acks = tokio::spawn(async move {
        let mut acknowledged = 0;
        while acknowledged < count {
            match events.next().await {
                Some(Event::Published(_)) => acknowledged += 1,
                Some(_) => {}
                None => break,
            }
        }
    });
    let topic = ByteString::from_static("bench/topic");
    let payload = Bytes::from_static(&PAYLOAD);
    let base = target.received();
    let started = Instant::now();
    for _ in 0..count {
        client.publish_nowait(topic.clone(), payload.clone(), qos).await.unwrap();
    }
    target.wait_for(base + count).await;
    if qos != QoS::AtMostOnce {
        acks.await.unwrap();
    } else if let Target::Broker(_) = target {
        client.publish(topic.clone(), payload.clone(), QoS::AtLeastOnce).await.unwrap();
    }
    let elapsed = started.elapsed();
    client.shutdown().await.unwrap();
    count as f64 / elapsed.as_secs_f64()
}

async fn rumqttc_throughput(target: Target<'_>, count: u64, qos: QoS) -> f64 {
    let (client, mut eventloop) = rumqttc_client(target.port(), "bench-rumqttc");
    // Against a broker, QoS 0 ends with one acknowledged QoS 1 marker.
    let expected_acks = if qos == QoS::AtMostOnce { 1 } else { count };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let poller = tokio::spawn(async move {
        let mut acknowledged = 0;
        let mut done = Some(done_tx);
        loop {
            match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                    acknowledged += 1;
                    if acknowledged == expected_acks
                        && let Some(done) = done.take()
                    {
                        let _ = done.send(());
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let rqos = match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        _ => rumqttc::QoS::AtLeastOnce,
    };
    let base = target.received();
    let started = Instant::now();
    for _ in 0..count {
        client.publish("bench/topic", rqos, false, PAYLOAD.to_vec()).await.unwrap();
    }
    target.wait_for(base + count).await;
    if qos != QoS::AtMostOnce {
        done_rx.await.unwrap();
    } else if let Target::Broker(_) = target {
        client.publish("bench/topic", rumqttc::QoS::AtLeastOnce, false, PAYLOAD.to_vec()).await.unwrap();
        done_rx.await.unwrap();
    }
    let elapsed = started.elapsed();
    let _ = client.disconnect().await;
    poller.abort();
    count as f64 / elapsed.as_secs_f64()
}

/// QoS 1 publish → PUBACK round trips, one at a time, by a connected mqttkit client.
struct MqttkitProbe {
    client: Client,
    _events: mqttkit::dispatch::EventStream,
}

impl MqttkitProbe {
    async fn connect(target: Target<'_>) -> Self {
        let (client, events) = Client::with_events(mqttkit_options(target.port(), "lat-mqttkit")).unwrap();
        client.connect().await.unwrap();
        MqttkitProbe { client, _events: events }
    }

    async fn measure(&self, samples: usize, times: &mut Vec<Duration>) {
        let topic = ByteString::from_static("bench/latency");
        let payload = Bytes::from_static(&PAYLOAD);
        for _ in 0..samples {
            let started = Instant::now();
            self.client.publish(topic.clone(), payload.clone(), QoS::AtLeastOnce).await.unwrap();
            times.push(started.elapsed());
        }
    }

    async fn close(self) {
        self.client.shutdown().await.unwrap();
    }
}

/// The same round trips by rumqttc: its event loop runs on a task that reports each PUBACK
/// to the publishing task. Both probes stop the clock where the publishing code learns of
/// the acknowledgement (for mqttkit, when `publish` returns), so the hand-over from the
/// event loop to the application counts for both.
struct RumqttcProbe {
    client: rumqttc::AsyncClient,
    acks: tokio::sync::mpsc::UnboundedReceiver<()>,
    poller: tokio::task::JoinHandle<()>,
}

impl RumqttcProbe {
    fn connect(target: Target<'_>) -> Self {
        let (client, mut eventloop) = rumqttc_client(target.port(), "lat-rumqttc");
        let (ack_tx, acks) = tokio::sync::mpsc::unbounded_channel();
        let poller = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                        let _ = ack_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        RumqttcProbe { client, acks, poller }
    }

    async fn measure(&mut self, samples: usize, times: &mut Vec<Duration>) {
        for _ in 0..samples {
            let started = Instant::now();
            self.client
                .publish("bench/latency", rumqttc::QoS::AtLeastOnce, false, PAYLOAD.to_vec())
                .await
                .unwrap();
            self.acks.recv().await.unwrap();
            times.push(started.elapsed());
        }
    }

    async fn close(self) {
        let _ = self.client.disconnect().await;
        self.poller.abort();
    }
}

/// Round trips by both clients, taken in alternating rounds so that both see the same
/// machine load; returns ((p50, p99) of mqttkit, (p50, p99) of rumqttc).
async fn latency(target: Target<'_>, samples: usize) -> ((Duration, Duration), (Duration, Duration)) {
    const ROUNDS: usize = 10;
    let ours = MqttkitProbe::connect(target).await;
    let mut theirs = RumqttcProbe::connect(target);
    let (mut our_times, mut their_times) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    // Warm-up round, not counted (rumqttc connects on its first poll).
    ours.measure(samples / ROUNDS, &mut Vec::new()).await;
    theirs.measure(samples / ROUNDS, &mut Vec::new()).await;
    for _ in 0..ROUNDS {
        ours.measure(samples / ROUNDS, &mut our_times).await;
        theirs.measure(samples / ROUNDS, &mut their_times).await;
    }
    ours.close().await;
    theirs.close().await;
    (percentiles(our_times), percentiles(their_times))
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (at(0.50), at(0.99))
}

fn row(name: &str, ours: f64, theirs: f64, unit: &str) {
    println!("| {name:<34} | {ours:>12.0} {unit} | {theirs:>12.0} {unit} | {:>5.2}x |", ours / theirs);
}

/// One table: throughput QoS 0 and 1, then QoS 1 round-trip p50/p99, both clients.
async fn table(title: &str, target: Target<'_>, qos0: u64, qos1: u64, samples: usize) {
    println!("\nclient benchmark: 64-byte payloads, MQTT 3.1.1, window {WINDOW}, to {title}");
    println!("| scenario                           | mqttkit             | rumqttc             | ratio  |");
    println!("|------------------------------------|---------------------|---------------------|--------|");
    let ours = mqttkit_throughput(target, qos0, QoS::AtMostOnce).await;
    let theirs = rumqttc_throughput(target, qos0, QoS::AtMostOnce).await;
    row(&format!("publish QoS 0 ({qos0} msgs)"), ours, theirs, "msg/s");
    let ours = mqttkit_throughput(target, qos1, QoS::AtLeastOnce).await;
    let theirs = rumqttc_throughput(target, qos1, QoS::AtLeastOnce).await;
    row(&format!("publish QoS 1 ({qos1} msgs)"), ours, theirs, "msg/s");
    let ((ours50, ours99), (theirs50, theirs99)) = latency(target, samples).await;
    // For latency, lower is better: the ratio is theirs / ours.
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    for (name, ours, theirs) in [("p50", ours50, theirs50), ("p99", ours99, theirs99)] {
        println!(
            "| QoS 1 round trip {name} (µs)          | {:>12.1} µs     | {:>12.1} µs     | {:>5.2}x |",
            micros(ours),
            micros(theirs),
            micros(theirs) / micros(ours)
        );
    }
    println!("(ratio > 1: mqttkit ahead)");
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick" || arg == "--test");
    let (qos0, qos1, samples) = if quick { (20_000, 5_000, 500) } else { (200_000, 50_000, 5_000) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sink: &'static Sink = Box::leak(Box::new(Sink::start()));
    let broker = start_broker();
    let spawned = std::env::args().any(|arg| arg == "--spawned");
    let run = async move {
        // Warm up both clients and the sink.
        mqttkit_throughput(Target::Sink(sink), qos0 / 10, QoS::AtMostOnce).await;
        rumqttc_throughput(Target::Sink(sink), qos0 / 10, QoS::AtMostOnce).await;
        table("a do-nothing sink", Target::Sink(sink), qos0, qos1, samples).await;
        table("an mqttkit broker", Target::Broker(broker), qos0, qos1, samples).await;
    };
    if spawned {
        runtime.block_on(runtime.spawn(run)).unwrap();
    } else {
        runtime.block_on(run);
    }
}
