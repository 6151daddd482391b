//! The brokers under test: each started as a fresh process for one measurement and killed
//! (its guard dropped) before the next one starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// Where the brokers' executables are and what the idle-connection row needs.
pub(crate) struct Executables {
    pub(crate) mosquitto: PathBuf,
    pub(crate) rumqttd: PathBuf,
    /// Scratch directory for configuration files.
    pub(crate) dir: PathBuf,
}

/// A running broker process, killed on drop.
pub(crate) struct Target {
    pub(crate) v311: SocketAddr,
    pub(crate) v5: SocketAddr,
    child: Child,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Target {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts broker `name` listening on fresh ports; `max_connections` sizes rumqttd's limit.
pub(crate) async fn start(name: &str, exes: &Executables, max_connections: usize) -> Result<Target, String> {
    match name {
        "mqttkit" => {
            let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
            let addr = local(free_port()?);
            let mut command = Command::new(exe);
            command.args(["broker", "--log", "error", "--bind", &addr.to_string()]);
            spawn(name, command, addr, addr).await
        }
        "mosquitto" => start_mosquitto(&exes.mosquitto, &exes.dir).await,
        "rumqttd" => {
            if !exes.rumqttd.exists() {
                return Err(format!(
                    "rumqttd: {} not found (cargo install --root target/rumqttd rumqttd)",
                    exes.rumqttd.display()
                ));
            }
            start_rumqttd(&exes.rumqttd, &exes.dir, max_connections).await
        }
        other => Err(format!("unknown broker {other:?}")),
    }
}

/// CPU time (user + system) a process has used so far, all threads.
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15,
    // in USER_HZ (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Resident set size of a process in KiB.
pub(crate) fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
    let mut target = Target { v311, v5, child };
    wait_listening(v311, &mut target.child).await.map_err(|e| format!("{name}: {e}"))?;
    if v5 != v311 {
        wait_listening(v5, &mut target.child).await.map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(target)
}

async fn start_mosquitto(exe: &Path, dir: &Path) -> Result<Target, String> {
    let port = free_port()?;
    let config = dir.join(format!("mosquitto-{port}.conf"));
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
    let config = dir.join(format!("rumqttd-{p4}.toml"));
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
