//! Test fixtures for the client tests: a Mosquitto broker on a free port, a TCP proxy that
//! can cut or stall connections, a listener that never answers, and event helpers.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mqttkit::dispatch::{Event, EventStream};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long any awaited event may take before a test fails.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Mosquitto broker on 127.0.0.1, killed on drop.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    _dir: tempdir::TempDir,
}

pub mod tempdir {
    /// A directory removed on drop.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new(tag: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "mqttkit-{tag}-{}-{}",
                std::process::id(),
                super::unique()
            ));
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mosquitto_binary() -> String {
    for candidate in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.to_owned();
        }
    }
    panic!("mosquitto is not installed: run scripts/install-test-deps.sh (or `make test`, which does)");
}

impl Mosquitto {
    /// Starts Mosquitto on a free port and waits until it accepts connections.
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts Mosquitto on `port` (to restart a broker where clients expect it).
    pub async fn start_on(port: u16) -> Self {
        Self::start_with(port, "", &[]).await
    }

    /// Starts Mosquitto with a TLS listener using `certs`; with `require_client_cert`, it
    /// accepts only clients presenting a certificate signed by the test CA.
    pub async fn start_tls(certs: &TestCertificates, require_client_cert: bool) -> Self {
        let dir_options = format!(
            "cafile ca.pem\ncertfile server.pem\nkeyfile server.key\nrequire_certificate {require_client_cert}"
        );
        let files = [
            ("ca.pem", certs.ca_pem.as_str()),
            ("server.pem", certs.server_pem.as_str()),
            ("server.key", certs.server_key.as_str()),
        ];
        Self::start_with(free_port(), &dir_options, &files).await
    }

    /// Starts Mosquitto with extra listener options; `*file` options name files written
    /// into the broker's temporary directory.
    async fn start_with(port: u16, listener_options: &str, files: &[(&str, &str)]) -> Self {
        let dir = tempdir::TempDir::new("mosquitto");
        for (name, content) in files {
            std::fs::write(dir.0.join(name), content).unwrap();
        }
        let listener_options: String = listener_options
            .lines()
            .map(|line| match line.split_once(' ') {
                Some((key, file)) if key.ends_with("file") => {
                    format!("{key} {}\n", dir.0.join(file).display())
                }
                _ => format!("{line}\n"),
            })
            .collect();
        let config = dir.0.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\n{listener_options}allow_anonymous true\npersistence false\nmax_keepalive 65535\n"
            ),
        )
        .unwrap();
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let broker = Mosquitto { child, port, _dir: dir };
        wait_for_port(port).await;
        broker
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills the broker (SIGKILL) and waits for it to exit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded) until something accepts TCP connections on `port`.
pub async fn wait_for_port(port: u16) {
    for _ in 0..500 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("nothing listens on port {port} after 5 s");
}

/// A TCP proxy in front of a broker. Connections through it can be cut (both sides closed
/// abruptly, as a network failure would) or stalled (bytes no longer forwarded).
pub struct Proxy {
    pub port: u16,
    cut: watch::Sender<u64>,
    stalled: Arc<AtomicBool>,
    swallowed: Arc<std::sync::atomic::AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, _) = watch::channel(0u64);
        let stalled = Arc::new(AtomicBool::new(false));
        let swallowed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cut_tx = cut.clone();
        let stall = stalled.clone();
        let dropped = swallowed.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mut cut_rx = cut_tx.subscribe();
                let stall = stall.clone();
                let dropped = dropped.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else { return };
                    let (mut ir, mut iw) = inbound.into_split();
                    let (mut or, mut ow) = outbound.into_split();
                    let up = pump(&mut ir, &mut ow, stall.clone(), dropped.clone());
                    let down = pump(&mut or, &mut iw, stall, dropped);
                    tokio::select! {
                        _ = async { tokio::join!(up, down) } => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Proxy { port, cut, stalled, swallowed, accept }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Closes every connection through the proxy without an MQTT DISCONNECT.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Bytes read and thrown away while stalled.
    pub fn swallowed(&self) -> usize {
        self.swallowed.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until the proxy has swallowed at least `bytes` bytes.
    pub async fn wait_swallowed(&self, bytes: usize) {
        for _ in 0..1000 {
            if self.swallowed() >= bytes {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the proxy saw no traffic while stalled");
    }

    /// Stops (or resumes) forwarding bytes in both directions.
    pub fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
    swallowed: Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stalled.load(Ordering::SeqCst) {
            swallowed.fetch_add(n, Ordering::SeqCst);
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A listener that accepts connections and never sends a byte (for timeout tests).
pub async fn silent_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

/// Waits for the first event matching `pick`, failing the test after [`EVENT_TIMEOUT`].
pub async fn expect_event<T>(
    events: &mut EventStream,
    what: &str,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(EVENT_TIMEOUT, async {
        while let Some(event) = events.next().await {
            if let Some(found) = pick(event) {
                return Some(found);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(found)) => found,
        Ok(None) => panic!("event stream ended while waiting for {what}"),
        Err(_) => panic!("no {what} within {EVENT_TIMEOUT:?}"),
    }
}

/// Waits for the next message.
pub async fn expect_message(events: &mut EventStream) -> mqttkit::client::Message {
    expect_event(events, "message", |event| match event {
        Event::Message(message) => Some(message),
        _ => None,
    })
    .await
}

/// A scripted MQTT server for client tests, built on the codec: the test decides every
/// packet it sends and checks every packet it receives.
pub struct FakeServer {
    listener: TcpListener,
    pub port: u16,
}

/// One connection accepted by a [`FakeServer`].
pub struct FakeConnection {
    stream: TcpStream,
    decoder: mqttkit::protocol::Decoder,
    buffer: bytes::BytesMut,
    pub version: mqttkit::protocol::ProtocolVersion,
}

impl FakeServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        FakeServer { listener, port }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Accepts a connection and reads its CONNECT.
    pub async fn accept(&self) -> (FakeConnection, mqttkit::protocol::Connect) {
        let (stream, _) =
            tokio::time::timeout(EVENT_TIMEOUT, self.listener.accept()).await.expect("a connection").unwrap();
        let mut connection = FakeConnection {
            stream,
            decoder: mqttkit::protocol::Decoder::new(mqttkit::protocol::ProtocolVersion::V5),
            buffer: bytes::BytesMut::new(),
            version: mqttkit::protocol::ProtocolVersion::V5,
        };
        match connection.recv().await {
            mqttkit::protocol::Packet::Connect(connect) => {
                connection.version = connect.protocol_version;
                (connection, *connect)
            }
            other => panic!("expected CONNECT, got {other:?}"),
        }
    }

    /// Accepts a connection and answers its CONNECT with `connack`.
    pub async fn accept_with(&self, connack: mqttkit::protocol::ConnAck) -> FakeConnection {
        let (mut connection, _) = self.accept().await;
        connection.send(mqttkit::protocol::Packet::ConnAck(connack)).await;
        connection
    }
}

impl FakeConnection {
    /// The next packet from the client (fails the test after [`EVENT_TIMEOUT`]).
    pub async fn recv(&mut self) -> mqttkit::protocol::Packet {
        self.try_recv().await.expect("the client closed the connection")
    }

    /// The next packet, or `None` when the client closed the connection.
    pub async fn try_recv(&mut self) -> Option<mqttkit::protocol::Packet> {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(packet) =
                self.decoder.decode(&mut self.buffer).expect("the client sent a valid packet")
            {
                return Some(packet);
            }
            let read = tokio::time::timeout(EVENT_TIMEOUT, self.stream.read_buf(&mut self.buffer))
                .await
                .expect("a packet from the client within the timeout");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    pub async fn send(&mut self, packet: mqttkit::protocol::Packet) {
        let mut out = bytes::BytesMut::new();
        packet.encode(self.version, &mut out).unwrap();
        self.send_raw(&out).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }
}

/// A test CA with a server certificate for localhost / 127.0.0.1 and a client certificate.
pub struct TestCertificates {
    pub ca_pem: String,
    pub server_pem: String,
    pub server_key: String,
    pub client_pem: String,
    pub client_key: String,
}

impl TestCertificates {
    pub fn generate() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "mqttkit test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params.distinguished_name.push(DnType::CommonName, "mqttkit test client");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
        TestCertificates {
            ca_pem: ca_cert.pem(),
            server_pem: server_cert.pem(),
            server_key: server_key.serialize_pem(),
            client_pem: client_cert.pem(),
            client_key: client_key.serialize_pem(),
        }
    }
}

/// A WebSocket front for a TCP broker: accepts `ws://` connections (subprotocol `mqtt`)
/// and forwards their bytes to `target`, so a TCP-only broker can be reached over WebSocket.
#[cfg(feature = "websocket")]
pub struct WebSocketBridge {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

#[cfg(feature = "websocket")]
impl WebSocketBridge {
    pub async fn start(target: SocketAddr) -> Self {
        use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // tungstenite fixes the callback's error type (an HTTP response).
                    #[allow(clippy::result_large_err)]
                    let agree = |request: &Request, mut response: Response| {
                        let asked = request.headers().get("Sec-WebSocket-Protocol").cloned();
                        if let Some(protocol) = asked {
                            response.headers_mut().insert("Sec-WebSocket-Protocol", protocol);
                        }
                        Ok(response)
                    };
                    let Ok(socket) = tokio_tungstenite::accept_hdr_async(socket, agree).await else { return };
                    let mut websocket = mqttkit::transport::websocket::WebSocketStream::new(socket);
                    let Ok(mut broker) = TcpStream::connect(target).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut websocket, &mut broker).await;
                });
            }
        });
        WebSocketBridge { port, task }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/mqtt", self.port)
    }
}

#[cfg(feature = "websocket")]
impl Drop for WebSocketBridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}
