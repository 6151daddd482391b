//! RSS per idle connection and connections accepted per second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqttkit::protocol::ProtocolVersion;
use tokio::sync::Semaphore;

use super::brokers::rss_kb;
use super::conn::Conn;
use super::report::{Cpu, Sample};

pub(crate) struct Idle {
    pub(crate) connections: usize,
    /// Accepts per second, with the CPU used while connecting.
    pub(crate) accepts: Sample,
    pub(crate) bytes_per_connection: f64,
}

/// Opens `count` idle MQTT 3.1.1 connections (100 CONNECTs in flight at a time), timing
/// CONNECT→CONNACK for all of them, then reads the broker's RSS growth.
pub(crate) async fn run(addr: SocketAddr, pid: u32, count: usize) -> Result<Idle, String> {
    let before = rss_kb(pid).ok_or("cannot read the broker's RSS")?;
    let gate = Arc::new(Semaphore::new(100));
    let cpu = Cpu::start(pid);
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
    let accepts = cpu.sample(conns.len() as f64 / elapsed.as_secs_f64());
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
    Ok(Idle {
        connections: n,
        accepts,
        bytes_per_connection: after.saturating_sub(before) as f64 * 1024.0 / n as f64,
    })
}
