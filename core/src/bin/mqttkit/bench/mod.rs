//! `mqttkit bench`: the same load against the mqttkit broker, Mosquitto and rumqttd, in one
//! run on 127.0.0.1, printed side by side with ratios.
//!
//! Every measurement gets a fresh broker process (killed before the next one starts).
//! Each scenario runs in several rounds; within a round every broker is measured once, back
//! to back, and the order rotates from round to round, so that a ratio compares
//! measurements taken under the same machine load. The table shows the median of the rounds
//! and each round's ratio; the CPU that the broker and the load generator used is printed
//! with every measurement, to show which side was the bottleneck.
//!
//! The load generator is raw Tokio sockets speaking through the mqttkit codec (the
//! throughput rows scan frames without decoding them), on one current-thread runtime unless
//! `--generator-threads` says otherwise, so that every broker sees exactly the same bytes.

mod brokers;
mod conn;
mod idle;
mod latency;
mod overload;
mod report;
mod throughput;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use mqttkit::protocol::QoS;

use brokers::{Executables, Target};
use report::{Results, Sample};
use throughput::{Shape, WINDOW};

/// Arguments of `mqttkit bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Brokers to measure, in column order.
    #[arg(long, value_delimiter = ',', default_value = "mqttkit,mosquitto,rumqttd")]
    brokers: Vec<String>,
    /// Rounds per scenario (the QoS 1 overload check runs once); the table shows medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds measured per throughput and latency measurement (after a 0.5 s warm-up).
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
    /// Threads of the load generator (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    generator_threads: usize,
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

/// Scenario names accepted by `--only`, in the order they run.
const SCENARIOS: [&str; 7] = ["q0", "q1", "fanin", "fanout", "latency", "idle", "overload"];

impl BenchArgs {
    /// Whether the scenario `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == name)
    }
}

/// The table rows a scenario fills.
fn rows_of(scenario: &str) -> &'static [&'static str] {
    match scenario {
        "q0" => &["q0"],
        "q1" => &["q1"],
        "fanin" => &["fanin"],
        "fanout" => &["fanout"],
        "latency" => &["p50", "p99"],
        "idle" => &["rss", "accepts"],
        _ => &[],
    }
}

/// The brokers in round `round`'s order: rotated by one per round.
fn order(brokers: &[String], round: usize) -> Vec<String> {
    let mut order = brokers.to_vec();
    if !order.is_empty() {
        order.rotate_left(round % brokers.len());
    }
    order
}

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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Runs one scenario against a fresh broker; the samples of its rows.
async fn measure(
    scenario: &str,
    target: &Target,
    args: &BenchArgs,
    idle_count: usize,
    overload_lines: &mut Vec<String>,
    name: &str,
) -> Vec<(&'static str, Result<Sample, String>)> {
    let d = Duration::from_secs_f64(args.duration);
    let shape = |publishers, subscribers, qos| Shape { publishers, subscribers, qos };
    let shape = match scenario {
        "q0" => Some(shape(1, 1, QoS::AtMostOnce)),
        "q1" => Some(shape(1, 1, QoS::AtLeastOnce)),
        "fanin" => Some(shape(50, 1, QoS::AtMostOnce)),
        "fanout" => Some(shape(1, 50, QoS::AtMostOnce)),
        _ => None,
    };
    if let Some(shape) = shape {
        let row = rows_of(scenario)[0];
        let sample = throughput::run(target.v311, &shape, d, args.ahead, scenario, target.pid()).await;
        return vec![(row, sample)];
    }
    match scenario {
        "latency" => match latency::run(target.v311, d).await {
            Ok((p50, p99)) => vec![
                ("p50", Ok(Sample::plain(p50.as_secs_f64() * 1e6))),
                ("p99", Ok(Sample::plain(p99.as_secs_f64() * 1e6))),
            ],
            Err(e) => vec![("p50", Err(e.clone())), ("p99", Err(e))],
        },
        "idle" => match idle::run(target.v311, target.pid(), idle_count).await {
            Ok(i) => {
                if i.connections < idle_count {
                    eprintln!("  {name}: only {} idle connections opened", i.connections);
                }
                vec![("rss", Ok(Sample::plain(i.bytes_per_connection))), ("accepts", Ok(i.accepts))]
            }
            Err(e) => vec![("rss", Err(e.clone())), ("accepts", Err(e))],
        },
        "overload" => {
            overload_lines.push(match overload::run(target.v5, args.overload_messages).await {
                Ok(o) => o.describe(name),
                Err(e) => format!("{name:>10}: error: {e}"),
            });
            Vec::new()
        }
        _ => Vec::new(),
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
    if args.runs("idle") && idle_count < args.idle_connections {
        eprintln!("fd limit {fd_limit}: {idle_count} idle connections instead of {}", args.idle_connections);
    }
    let dir = std::env::temp_dir().join(format!("mqttkit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let runtime = match args.generator_threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
    .map_err(conn::io_err)?;
    let exes =
        Executables { mosquitto: args.mosquitto.clone(), rumqttd: args.rumqttd.clone(), dir: dir.clone() };
    let mut results = Results::default();
    let mut overload_lines = Vec::new();
    let started = Instant::now();
    let load_before = load_average();
    for scenario in SCENARIOS.iter().filter(|s| args.runs(s)) {
        let rounds = if *scenario == "overload" { 1 } else { args.rounds.max(1) };
        for round in 0..rounds {
            let order = order(&args.brokers, round);
            results.record_order(rows_of(scenario), &order);
            for name in &order {
                eprintln!("{scenario}, round {}/{rounds}: {name}", round + 1);
                let samples = runtime.block_on(async {
                    let target = brokers::start(name, &exes, idle_count).await?;
                    Ok::<_, String>(
                        measure(scenario, &target, &args, idle_count, &mut overload_lines, name).await,
                    )
                });
                match samples {
                    Ok(samples) => {
                        for (row, sample) in samples {
                            if let Err(e) = &sample {
                                eprintln!("  {name}: {row}: {e}");
                            }
                            results.record(row, name, round, sample.ok());
                        }
                    }
                    Err(e) => {
                        eprintln!("  {e}");
                        for row in rows_of(scenario) {
                            results.record(row, name, round, None);
                        }
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "mqttkit bench: 127.0.0.1, 64 B payloads, MQTT 3.1.1 (overload: MQTT 5), inflight window {WINDOW}, \
         {:.1} s per measurement, {} rounds (broker order rotated per round, a fresh broker process per \
         measurement), {idle_count} idle connections, generator threads {}; load average {load_before} at \
         the start, {} at the end; {:.0} s in all",
        args.duration,
        args.rounds,
        args.generator_threads.max(1),
        load_average(),
        started.elapsed().as_secs_f64()
    );
    results.print(&args.brokers);
    if !overload_lines.is_empty() {
        println!();
        println!(
            "QoS 1 overload ({} messages to a subscriber that reads nothing until the publisher is done):",
            args.overload_messages
        );
        for line in overload_lines {
            println!("{line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_broker_takes_every_place_in_turn() {
        let brokers: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(order(&brokers, 0), ["a", "b", "c"]);
        assert_eq!(order(&brokers, 1), ["b", "c", "a"]);
        assert_eq!(order(&brokers, 2), ["c", "a", "b"]);
        assert_eq!(order(&brokers, 3), ["a", "b", "c"]);
    }
}
