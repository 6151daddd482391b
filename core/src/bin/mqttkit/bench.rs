//! `mqttkit bench`: the same load against the mqttkit broker, Mosquitto and rumqttd, in one
//! run on 127.0.0.1, printed side by side with ratios.
//!
//! The load generators are raw Tokio sockets speaking through the mqttkit codec (no client
//! state machine in the way), on one current-thread runtime, so that the load generator
//! takes at most one core and every broker sees exactly the same bytes. Every broker
//! process started here is killed when its guard drops.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqttkit::broker::{Broker, BrokerHandle};
use mqttkit::protocol::{
    Connect, Decoder, Packet, ProtocolVersion, PubAck, Publish, QoS, Subscribe, Subscription,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, Semaphore};

const PAYLOAD_LEN: usize = 64;
const WINDOW: usize = 64;

/// Arguments of `mqttkit bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Brokers to measure, in column order.
    #[arg(long, value_delimiter = ',', default_value = "mqttkit,mosquitto,rumqttd")]
    brokers: Vec<String>,
    /// How the mqttkit broker runs: `process` (this executable's `broker` subcommand, like
    /// the others) or `embedded` (in this process, on its own 2-thread runtime). The idle
    /// connection row always uses a process.
    #[arg(long, default_value = "process")]
    ours: String,
    /// Seconds measured per throughput scenario (after a 0.5 s warm-up).
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Idle connections opened for the memory and accept-rate rows (capped by the fd limit).
    #[arg(long, default_value_t = 10_000)]
    idle_connections: usize,
    /// QoS 1 messages published towards a stalled subscriber in the overload row.
    #[arg(long, default_value_t = 20_000)]
    overload_messages: usize,
    /// How many messages per subscriber the publishers may be ahead of the deliveries in
    /// the throughput rows (kept below the brokers' queue limits so that the rows measure
    /// forwarding, not dropping).
    #[arg(long, default_value_t = 5000)]
    ahead: u64,
    /// Mosquitto executable.
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
    /// rumqttd executable (`cargo install --root target/rumqttd rumqttd`).
    #[arg(long, default_value = "target/rumqttd/bin/rumqttd")]
    rumqttd: PathBuf,
    /// Scenarios to run (default: all): q0, q1, fanin, fanout, latency, overload, idle
    /// (idle RSS and accepts/s).
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(SCENARIOS))]
    only: Vec<String>,
}

/// Scenario names accepted by `--only`.
const SCENARIOS: [&str; 7] = ["q0", "q1", "fanin", "fanout", "latency", "overload", "idle"];

impl BenchArgs {
    /// Whether the scenario `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == name)
    }
}

// ---------------------------------------------------------------------------------------
// Brokers under test

/// A broker process, killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

enum Running {
    Process(Process),
    Embedded(Option<BrokerHandle>, Option<std::thread::JoinHandle<()>>, Arc<Notify>),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Running::Embedded(handle, thread, stop) = self {
            drop(handle.take());
            stop.notify_one();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

struct Target {
    name: String,
    v311: SocketAddr,
    v5: SocketAddr,
    running: Running,
}

impl Target {
    fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::Process(p) => Some(p.0.id()),
            Running::Embedded(..) => None,
        }
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn wait_listening(addr: SocketAddr, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status} before listening on {addr}"));
        }
        if Instant::now() > deadline {
            return Err(format!("not listening on {addr} after 15 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn spawn(name: &str, mut command: Command, v311: SocketAddr, v5: SocketAddr) -> Result<Target, String> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{name}: cannot start {command:?}: {e}"))?;
    let mut process = Process(child);
    wait_listening(v311, &mut process.0).await.map_err(|e| format!("{name}: {e}"))?;
    if v5 != v311 {
        wait_listening(v5, &mut process.0).await.map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(Target { name: name.into(), v311, v5, running: Running::Process(process) })
}

async fn start_mqttkit_process() -> Result<Target, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let addr = local(free_port()?);
    let mut command = Command::new(exe);
    command.args(["broker", "--log", "error", "--bind", &addr.to_string()]);
    spawn("mqttkit", command, addr, addr).await
}

fn start_mqttkit_embedded() -> Result<Target, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(Notify::new());
    let stop_rx = stop.clone();
    let thread = std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let started = Broker::builder().bind(local(0)).start().await.map_err(|e| e.to_string());
            let _ = tx.send(started);
            stop_rx.notified().await;
        });
    });
    let handle = rx.recv().map_err(|_| "embedded broker thread died".to_string())??;
    let addr = handle.local_addr();
    Ok(Target {
        name: "mqttkit".into(),
        v311: addr,
        v5: addr,
        running: Running::Embedded(Some(handle), Some(thread), stop),
    })
}

async fn start_mosquitto(exe: &Path, dir: &Path) -> Result<Target, String> {
    let port = free_port()?;
    let config = dir.join("mosquitto.conf");
    // Defaults otherwise (max_queued_messages 1000, max_inflight_messages 20); TCP_NODELAY
    // like the other two brokers.
    let text = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nmax_connections -1\n\
         persistence false\nlog_dest none\n"
    );
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut command = Command::new(exe);
    command.arg("-c").arg(&config);
    spawn("mosquitto", command, local(port), local(port)).await
}

async fn start_rumqttd(exe: &Path, dir: &Path, max_connections: usize) -> Result<Target, String> {
    let (p4, p5) = (free_port()?, free_port()?);
    let config = dir.join("rumqttd.toml");
    let text = format!(
        r#"id = 0

[router]
id = 0
max_connections = {max}
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:{p4}"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true

[v5.1]
name = "v5-1"
listen = "127.0.0.1:{p5}"
next_connection_delay_ms = 0
    [v5.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
"#,
        max = max_connections + 100
    );
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut command = Command::new(exe);
    command.arg("-c").arg(&config);
    spawn("rumqttd", command, local(p4), local(p5)).await
}

// ---------------------------------------------------------------------------------------
// A raw MQTT connection over the codec

struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    input: BytesMut,
    output: BytesMut,
    decoder: Decoder,
    version: ProtocolVersion,
}

fn io_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Conn {
    async fn connect(addr: SocketAddr, id: &str, version: ProtocolVersion) -> Result<Conn, String> {
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

    fn push(&mut self, packet: &Packet) {
        packet.encode(self.version, &mut self.output).expect("encodable packet");
    }

    async fn flush(&mut self) -> Result<(), String> {
        if !self.output.is_empty() {
            self.wr.write_all_buf(&mut self.output).await.map_err(io_err)?;
        }
        Ok(())
    }

    /// Reads once (waiting for data) and hands every complete packet to `f`.
    async fn recv_batch(&mut self, mut f: impl FnMut(Packet)) -> Result<(), String> {
        if self.input.capacity() - self.input.len() < 1024 {
            self.input.reserve(64 * 1024);
        }
        if self.rd.read_buf(&mut self.input).await.map_err(io_err)? == 0 {
            return Err("connection closed by the broker".into());
        }
        while let Some(packet) = self.decoder.decode(&mut self.input).map_err(io_err)? {
            f(packet);
        }
        Ok(())
    }

    async fn recv(&mut self) -> Result<Packet, String> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.input).map_err(io_err)? {
                return Ok(packet);
            }
            if self.rd.read_buf(&mut self.input).await.map_err(io_err)? == 0 {
                return Err("connection closed by the broker".into());
            }
        }
    }

    async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<(), String> {
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

fn payload(seq: u64, stamp: u64) -> Bytes {
    let mut p = vec![b'x'; PAYLOAD_LEN];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    p[8..16].copy_from_slice(&stamp.to_be_bytes());
    Bytes::from(p)
}

fn seq_of(payload: &[u8]) -> u64 {
    payload.get(..8).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()))
}

fn stamp_of(payload: &[u8]) -> u64 {
    payload.get(8..16).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()))
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// Deliveries per second with `pubs` publishers and `subs` subscribers on one topic. Each
/// publisher keeps at most `WINDOW` QoS 1 messages unacknowledged; all publishers together
/// stay at most `ahead` messages per subscriber ahead of the deliveries (below every broker's
/// queue limit), so that the row measures sustained forwarding, not dropping.
async fn throughput(
    addr: SocketAddr,
    pubs: usize,
    subs: usize,
    qos: QoS,
    duration: Duration,
    ahead: u64,
    tag: &str,
) -> Result<f64, String> {
    let v = ProtocolVersion::V311;
    let topic = format!("bench/{tag}");
    let received = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..subs {
        let mut conn = Conn::connect(addr, &format!("{tag}-sub-{i}"), v).await?;
        conn.subscribe(&topic, qos).await?;
        let (received, progress) = (received.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let mut n = 0;
                let mut acks = Vec::new();
                if conn
                    .recv_batch(|p| {
                        if let Packet::Publish(p) = p {
                            n += 1;
                            if p.qos == QoS::AtLeastOnce {
                                acks.push(p.packet_id);
                            }
                        }
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                for id in acks {
                    conn.push(&Packet::PubAck(PubAck::new(id)));
                }
                if conn.flush().await.is_err() {
                    return;
                }
                received.fetch_add(n, Ordering::Relaxed);
                progress.notify_waiters();
            }
        }));
    }
    let ahead = ahead * subs as u64;
    let data = payload(0, 0);
    for i in 0..pubs {
        let mut conn = Conn::connect(addr, &format!("{tag}-pub-{i}"), v).await?;
        let (received, sent, progress, stop, topic, data) =
            (received.clone(), sent.clone(), progress.clone(), stop.clone(), topic.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            let mut inflight = 0usize;
            let mut next_id: u16 = 0;
            while !stop.load(Ordering::Relaxed) {
                // End-to-end window: wait for the subscribers to catch up.
                loop {
                    let notified = progress.notified();
                    if sent.load(Ordering::Relaxed) * subs as u64 <= received.load(Ordering::Relaxed) + ahead
                    {
                        break;
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    // No delivery for 50 ms: the broker dropped what is missing (QoS 0);
                    // carry on rather than stall.
                    if tokio::time::timeout(Duration::from_millis(50), notified).await.is_err() {
                        break;
                    }
                }
                let batch = if qos == QoS::AtMostOnce { WINDOW } else { WINDOW - inflight };
                for _ in 0..batch {
                    let mut publish = Publish::new(topic.clone(), data.clone(), qos);
                    if qos != QoS::AtMostOnce {
                        next_id = next_id % 65_000 + 1;
                        publish = publish.with_packet_id(next_id);
                        inflight += 1;
                    }
                    conn.push(&Packet::Publish(publish));
                }
                sent.fetch_add(batch as u64, Ordering::Relaxed);
                if conn.flush().await.is_err() {
                    return;
                }
                if qos != QoS::AtMostOnce {
                    while inflight >= WINDOW {
                        let mut acked = 0;
                        if conn
                            .recv_batch(|p| {
                                if matches!(p, Packet::PubAck(_)) {
                                    acked += 1;
                                }
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                        inflight -= acked.min(inflight);
                    }
                } else {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (r0, t0) = (received.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(duration).await;
    let (r1, t1) = (received.load(Ordering::Relaxed), Instant::now());
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    // Let the broker drain what is still queued before the next row.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok((r1 - r0) as f64 / (t1 - t0).as_secs_f64())
}

struct Overload {
    published: u64,
    acked_ok: u64,
    refused: BTreeMap<u8, u64>,
    unacked: u64,
    delivered: u64,
    duplicates: u64,
}

/// QoS 1 towards a subscriber that does not read: the publisher sends `messages` (window
/// 64, at most 10 s), then the subscriber reads and acknowledges everything until nothing
/// arrives for 2 s. Every message is accounted for.
async fn overload(addr: SocketAddr, messages: usize) -> Result<Overload, String> {
    let v = ProtocolVersion::V5;
    let topic = "bench/overload";
    let mut sub = Conn::connect(addr, "overload-sub", v).await?;
    sub.subscribe(topic, QoS::AtLeastOnce).await?;
    let mut publisher = Conn::connect(addr, "overload-pub", v).await?;
    let mut result = Overload {
        published: 0,
        acked_ok: 0,
        refused: BTreeMap::new(),
        unacked: 0,
        delivered: 0,
        duplicates: 0,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut inflight = 0usize;
    let mut seq = 0u64;
    'publish: while (seq as usize) < messages || inflight > 0 {
        while inflight < WINDOW && (seq as usize) < messages {
            seq += 1;
            let id = (seq % 65_000 + 1) as u16;
            publisher.push(&Packet::Publish(
                Publish::new(topic, payload(seq, 0), QoS::AtLeastOnce).with_packet_id(id),
            ));
            inflight += 1;
        }
        publisher.flush().await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut acks = Vec::new();
        match tokio::time::timeout(
            remaining,
            publisher.recv_batch(|p| {
                if let Packet::PubAck(ack) = p {
                    acks.push(ack.reason_code);
                }
            }),
        )
        .await
        {
            Ok(r) => r?,
            Err(_) => break 'publish,
        }
        for code in acks {
            inflight = inflight.saturating_sub(1);
            if code.is_error() {
                *result.refused.entry(code.code()).or_default() += 1;
            } else {
                result.acked_ok += 1;
            }
        }
    }
    result.published = seq;
    result.unacked = inflight as u64;
    let mut seen = HashSet::new();
    let drain_end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < drain_end {
        let mut acks = Vec::new();
        let mut got = Vec::new();
        match tokio::time::timeout(
            Duration::from_secs(2),
            sub.recv_batch(|p| {
                if let Packet::Publish(p) = p {
                    got.push(seq_of(&p.payload));
                    if p.qos == QoS::AtLeastOnce {
                        acks.push(p.packet_id);
                    }
                }
            }),
        )
        .await
        {
            Ok(r) => r?,
            Err(_) => break,
        }
        for s in got {
            if !seen.insert(s) {
                result.duplicates += 1;
            }
        }
        for id in acks {
            sub.push(&Packet::PubAck(PubAck::new(id)));
        }
        sub.flush().await?;
    }
    result.delivered = seen.len() as u64;
    Ok(result)
}

/// p50 and p99 publish-to-delivery latency of QoS 0 messages at 1,000 msg/s for `duration`.
async fn latency(addr: SocketAddr, duration: Duration) -> Result<(Duration, Duration), String> {
    let v = ProtocolVersion::V311;
    let topic = "bench/latency";
    let base = Instant::now();
    let mut sub = Conn::connect(addr, "latency-sub", v).await?;
    sub.subscribe(topic, QoS::AtMostOnce).await?;
    let mut publisher = Conn::connect(addr, "latency-pub", v).await?;
    let total = (duration.as_secs_f64() * 1000.0) as u64 + 300;
    let reader = tokio::spawn(async move {
        let mut samples = Vec::with_capacity(total as usize);
        while (samples.len() as u64) < total {
            let mut stamps = Vec::new();
            let read = tokio::time::timeout(
                Duration::from_secs(2),
                sub.recv_batch(|p| {
                    if let Packet::Publish(p) = p {
                        stamps.push((seq_of(&p.payload), stamp_of(&p.payload)));
                    }
                }),
            )
            .await;
            let now = base.elapsed().as_nanos() as u64;
            if !matches!(read, Ok(Ok(()))) {
                break;
            }
            for (seq, stamp) in stamps {
                if seq >= 300 {
                    samples.push(now.saturating_sub(stamp));
                }
            }
        }
        samples
    });
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    for seq in 0..total {
        ticker.tick().await;
        let stamp = base.elapsed().as_nanos() as u64;
        publisher.push(&Packet::Publish(Publish::new(topic, payload(seq, stamp), QoS::AtMostOnce)));
        publisher.flush().await?;
    }
    let mut samples = reader.await.map_err(io_err)?;
    if samples.is_empty() {
        return Err("no message delivered".into());
    }
    samples.sort_unstable();
    let pick = |q: f64| Duration::from_nanos(samples[((samples.len() - 1) as f64 * q) as usize]);
    Ok((pick(0.50), pick(0.99)))
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Idle {
    connections: usize,
    accepts_per_sec: f64,
    bytes_per_connection: f64,
}

/// Opens `count` idle MQTT 3.1.1 connections (100 CONNECTs in flight at a time), timing
/// CONNECT→CONNACK for all of them, then reads the broker's RSS growth.
async fn idle(addr: SocketAddr, pid: u32, count: usize) -> Result<Idle, String> {
    let before = rss_kb(pid).ok_or("cannot read the broker's RSS")?;
    let gate = Arc::new(Semaphore::new(100));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.ok()?;
            Conn::connect(addr, &format!("idle-{i}"), ProtocolVersion::V311).await.ok()
        }));
    }
    let mut conns = Vec::with_capacity(count);
    let mut failed = 0;
    for task in tasks {
        match task.await {
            Ok(Some(conn)) => conns.push(conn),
            _ => failed += 1,
        }
    }
    let elapsed = start.elapsed();
    if conns.is_empty() {
        return Err(format!("all {failed} connections failed"));
    }
    if failed > 0 {
        eprintln!("  {failed} of {count} idle connections failed");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kb(pid).ok_or("cannot read the broker's RSS")?;
    let n = conns.len();
    drop(conns);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Idle {
        connections: n,
        accepts_per_sec: n as f64 / elapsed.as_secs_f64(),
        bytes_per_connection: after.saturating_sub(before) as f64 * 1024.0 / n as f64,
    })
}

// ---------------------------------------------------------------------------------------
// The run

#[derive(Default)]
struct Column {
    name: String,
    rows: BTreeMap<&'static str, String>,
    values: BTreeMap<&'static str, f64>,
}

impl Column {
    fn set(&mut self, row: &'static str, value: Result<f64, String>, format: impl Fn(f64) -> String) {
        match value {
            Ok(v) => {
                self.values.insert(row, v);
                self.rows.insert(row, format(v));
            }
            Err(e) => {
                eprintln!("  {}: {row}: {e}", self.name);
                self.rows.insert(row, "error".into());
            }
        }
    }
}

/// Rows: (key, label, higher is better).
const ROWS: &[(&str, &str, bool)] = &[
    ("q0", "1:1 QoS 0 (msg/s)", true),
    ("q1", "1:1 QoS 1 (msg/s)", true),
    ("fanin", "fan-in 50→1 QoS 0 (msg/s)", true),
    ("fanout", "fan-out 1→50 QoS 0 (deliveries/s)", true),
    ("p50", "latency p50 @1k msg/s (µs)", false),
    ("p99", "latency p99 @1k msg/s (µs)", false),
    ("rss", "RSS per idle connection (B)", false),
    ("accepts", "accepts/s (CONNECT→CONNACK)", true),
];

fn raise_fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let hard: u64 = line.split_whitespace().nth(4)?.parse().ok()?;
    let pid = std::process::id().to_string();
    let ok = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
        return Some(soft);
    }
    Some(hard)
}

async fn measure(
    target: &Target,
    args: &BenchArgs,
    idle_count: usize,
    col: &mut Column,
    overload_lines: &mut Vec<String>,
) {
    let d = Duration::from_secs_f64(args.duration);
    let name = target.name.clone();
    let addr = target.v311;
    let fmt_rate = |v: f64| format!("{v:.0}");
    let rows = [
        ("q0", "1:1 QoS 0", 1, 1, QoS::AtMostOnce),
        ("q1", "1:1 QoS 1", 1, 1, QoS::AtLeastOnce),
        ("fanin", "fan-in", 50, 1, QoS::AtMostOnce),
        ("fanout", "fan-out", 1, 50, QoS::AtMostOnce),
    ];
    for (key, label, publishers, subscribers, qos) in rows {
        if args.runs(key) {
            eprintln!("{name}: {label}");
            col.set(key, throughput(addr, publishers, subscribers, qos, d, args.ahead, key).await, fmt_rate);
        }
    }
    if args.runs("latency") {
        eprintln!("{name}: latency");
        match latency(addr, d).await {
            Ok((p50, p99)) => {
                col.set("p50", Ok(p50.as_secs_f64() * 1e6), |v| format!("{v:.0}"));
                col.set("p99", Ok(p99.as_secs_f64() * 1e6), |v| format!("{v:.0}"));
            }
            Err(e) => col.set("p50", Err(e), fmt_rate),
        }
    }
    if args.runs("overload") {
        eprintln!("{name}: QoS 1 overload");
        match overload(target.v5, args.overload_messages).await {
            Ok(o) => {
                let refused: u64 = o.refused.values().sum();
                let codes: Vec<String> = o.refused.iter().map(|(c, n)| format!("{n}×0x{c:02X}")).collect();
                let silent = o.acked_ok.saturating_sub(o.delivered);
                overload_lines.push(format!(
                    "{name:>10}: published {}, PUBACK success {}, refused with a reason code {} [{}], \
                     unacknowledged at the deadline {}, delivered {} (+{} duplicates), \
                     acknowledged but never delivered (silent drop) {}",
                    o.published,
                    o.acked_ok,
                    refused,
                    codes.join(" "),
                    o.unacked,
                    o.delivered,
                    o.duplicates,
                    silent
                ));
            }
            Err(e) => overload_lines.push(format!("{name:>10}: error: {e}")),
        }
    }
    if let (Some(pid), true) = (target.pid(), idle_count > 0) {
        eprintln!("{name}: {idle_count} idle connections");
        match idle(addr, pid, idle_count).await {
            Ok(i) => {
                if i.connections < idle_count {
                    eprintln!("  {name}: only {} idle connections opened", i.connections);
                }
                col.set("rss", Ok(i.bytes_per_connection), |v| format!("{v:.0}"));
                col.set("accepts", Ok(i.accepts_per_sec), fmt_rate);
            }
            Err(e) => col.set("rss", Err(e), fmt_rate),
        }
    }
}

pub(crate) fn run(args: BenchArgs) -> Result<(), String> {
    let fd_limit = raise_fd_limit().unwrap_or(1024);
    // The load generator holds one fd per connection, the broker another; keep a margin.
    let idle_count = if args.runs("idle") {
        args.idle_connections.min((fd_limit as usize).saturating_sub(200))
    } else {
        0
    };
    if idle_count < args.idle_connections {
        eprintln!("fd limit {fd_limit}: {idle_count} idle connections instead of {}", args.idle_connections);
    }
    let dir = std::env::temp_dir().join(format!("mqttkit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The load generator: one thread.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io_err)?;
    let mut columns = Vec::new();
    let mut overload_lines = Vec::new();
    let started = Instant::now();
    for name in &args.brokers {
        let target = runtime.block_on(async {
            match name.as_str() {
                "mqttkit" if args.ours == "embedded" => start_mqttkit_embedded(),
                "mqttkit" => start_mqttkit_process().await,
                "mosquitto" => start_mosquitto(&args.mosquitto, &dir).await,
                "rumqttd" => {
                    if !args.rumqttd.exists() {
                        return Err(format!(
                            "rumqttd: {} not found (cargo install --root target/rumqttd rumqttd)",
                            args.rumqttd.display()
                        ));
                    }
                    start_rumqttd(&args.rumqttd, &dir, idle_count).await
                }
                other => Err(format!("unknown broker {other:?}")),
            }
        });
        let mut col = Column { name: name.clone(), ..Column::default() };
        match target {
            Ok(target) => {
                runtime.block_on(measure(&target, &args, idle_count, &mut col, &mut overload_lines));
                // Stop it before the next broker starts.
                drop(target);
                if name == "mqttkit" && args.ours == "embedded" && idle_count > 0 {
                    // The idle-connection rows need a process.
                    if let Ok(target) = runtime.block_on(start_mqttkit_process()) {
                        let pid = target.pid().unwrap_or(0);
                        match runtime.block_on(idle(target.v311, pid, idle_count)) {
                            Ok(i) => {
                                col.set("rss", Ok(i.bytes_per_connection), |v| format!("{v:.0}"));
                                col.set("accepts", Ok(i.accepts_per_sec), |v| format!("{v:.0}"));
                            }
                            Err(e) => col.set("rss", Err(e), |v| format!("{v:.0}")),
                        }
                    }
                }
            }
            Err(e) => eprintln!("{e}; skipped"),
        }
        columns.push(col);
    }
    let _ = std::fs::remove_dir_all(&dir);
    print_table(&columns, &overload_lines, &args, idle_count, started.elapsed());
    Ok(())
}

fn print_table(columns: &[Column], overload: &[String], args: &BenchArgs, idle_count: usize, took: Duration) {
    let ours = columns.iter().find(|c| c.name == "mqttkit");
    let others: Vec<&Column> = columns.iter().filter(|c| c.name != "mqttkit").collect();
    println!();
    println!(
        "mqttkit bench: 127.0.0.1, 64 B payloads, MQTT 3.1.1 (overload: MQTT 5), inflight window {WINDOW}, \
         {:.1} s per throughput row, {idle_count} idle connections, mqttkit as {}; {:.0} s in all",
        args.duration,
        args.ours,
        took.as_secs_f64()
    );
    let mut header = format!("| {:<36} |", "scenario");
    for c in columns {
        header += &format!(" {:>10} |", c.name);
    }
    for o in &others {
        header += &format!(" {:>16} |", format!("mqttkit/{}", o.name));
    }
    println!("{header}");
    println!(
        "|{}|",
        header[1..header.len() - 1].split('|').map(|s| "-".repeat(s.len())).collect::<Vec<_>>().join("|")
    );
    for (key, label, higher) in ROWS {
        if columns.iter().all(|c| !c.rows.contains_key(key)) {
            continue; // not run (`--only`)
        }
        let mut line = format!("| {label:<36} |");
        for c in columns {
            line += &format!(" {:>10} |", c.rows.get(key).map_or("-", String::as_str));
        }
        for o in &others {
            let ratio = match (ours.and_then(|c| c.values.get(key)), o.values.get(key)) {
                (Some(a), Some(b)) if *b > 0.0 => {
                    let r = a / b;
                    let better = if *higher { r >= 1.0 } else { r <= 1.0 };
                    format!("{r:.2}×{}", if better { "" } else { " (worse)" })
                }
                _ => "-".into(),
            };
            line += &format!(" {ratio:>16} |");
        }
        println!("{line}");
    }
    if overload.is_empty() {
        return;
    }
    println!();
    println!(
        "QoS 1 overload ({} messages to a subscriber that reads nothing until the publisher is done):",
        args.overload_messages
    );
    for line in overload {
        println!("{line}");
    }
}
