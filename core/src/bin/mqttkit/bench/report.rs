//! Samples, CPU accounting and the printed table: per row the median of every broker's
//! rounds and, per other broker, the median ratio and the ratio of each round (measured
//! back to back under the same machine load).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::brokers::cpu_time;

/// One measurement of one row for one broker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) value: f64,
    /// CPU the broker used meanwhile, in cores (1.0: one core busy all the time).
    pub(crate) broker_cpu: Option<f64>,
    /// CPU this load generator used meanwhile, in cores.
    pub(crate) generator_cpu: Option<f64>,
}

impl Sample {
    pub(crate) fn plain(value: f64) -> Self {
        Sample { value, broker_cpu: None, generator_cpu: None }
    }
}

/// CPU times at the start of a measured interval.
pub(crate) struct Cpu {
    pid: u32,
    at: Instant,
    broker: Option<Duration>,
    generator: Option<Duration>,
}

impl Cpu {
    pub(crate) fn start(pid: u32) -> Cpu {
        Cpu { pid, at: Instant::now(), broker: cpu_time(pid), generator: cpu_time(std::process::id()) }
    }

    /// `value` with the CPU used since [`Cpu::start`].
    pub(crate) fn sample(&self, value: f64) -> Sample {
        let wall = self.at.elapsed().as_secs_f64();
        let used = |before: Option<Duration>, pid: u32| {
            Some((cpu_time(pid)?.saturating_sub(before?)).as_secs_f64() / wall)
        };
        Sample {
            value,
            broker_cpu: used(self.broker, self.pid),
            generator_cpu: used(self.generator, std::process::id()),
        }
    }
}

/// Rows: (key, label, higher is better, format).
pub(crate) const ROWS: &[(&str, &str, bool)] = &[
    ("q0", "1:1 QoS 0 (msg/s)", true),
    ("q1", "1:1 QoS 1 (msg/s)", true),
    ("fanin", "fan-in 50→1 QoS 0 (msg/s)", true),
    ("fanout", "fan-out 1→50 QoS 0 (deliveries/s)", true),
    ("p50", "latency p50 @1k msg/s (µs)", false),
    ("p99", "latency p99 @1k msg/s (µs)", false),
    ("rss", "RSS per idle connection (B)", false),
    ("accepts", "accepts/s (CONNECT→CONNACK)", true),
];

/// Every sample, by row, broker and round (`None`: the measurement failed).
#[derive(Default)]
pub(crate) struct Results {
    samples: BTreeMap<(&'static str, String), Vec<Option<Sample>>>,
    /// Per row, each round's broker order.
    orders: BTreeMap<&'static str, Vec<Vec<String>>>,
}

impl Results {
    pub(crate) fn record(&mut self, row: &'static str, broker: &str, round: usize, sample: Option<Sample>) {
        let rounds = self.samples.entry((row, broker.to_string())).or_default();
        rounds.resize(rounds.len().max(round + 1), None);
        rounds[round] = sample;
    }

    pub(crate) fn record_order(&mut self, rows: &[&'static str], order: &[String]) {
        for row in rows {
            self.orders.entry(row).or_default().push(order.to_vec());
        }
    }

    fn rounds(&self, row: &'static str, broker: &str) -> &[Option<Sample>] {
        self.samples.get(&(row, broker.to_string())).map_or(&[], Vec::as_slice)
    }

    fn median(&self, row: &'static str, broker: &str) -> Option<f64> {
        median(self.rounds(row, broker).iter().flatten().map(|s| s.value).collect())
    }

    /// Prints the table and, below it, every round's values and CPU use.
    pub(crate) fn print(&self, brokers: &[String]) {
        let ours = brokers.iter().find(|b| *b == "mqttkit");
        let others: Vec<&String> = brokers.iter().filter(|b| *b != "mqttkit").collect();
        let mut header = format!("| {:<36} |", "scenario (median of rounds)");
        for b in brokers {
            header += &format!(" {b:>10} |");
        }
        let titles: Vec<String> = others.iter().map(|o| format!("mqttkit/{o}: median (rounds)")).collect();
        for title in &titles {
            header += &format!(" {title:<30} |");
        }
        println!("{header}");
        println!(
            "|{}|",
            header[1..header.len() - 1]
                .split('|')
                .map(|s| "-".repeat(s.chars().count()))
                .collect::<Vec<_>>()
                .join("|")
        );
        for (key, label, higher) in ROWS {
            if brokers.iter().all(|b| self.rounds(key, b).is_empty()) {
                continue; // not run (`--only`)
            }
            let mut line = format!("| {label:<36} |");
            for b in brokers {
                line += &format!(" {:>10} |", self.median(key, b).map_or("-".into(), |v| format!("{v:.0}")));
            }
            for (o, title) in others.iter().zip(&titles) {
                let ratio = ours.map_or("-".into(), |ours| self.ratios(key, ours, o, *higher));
                line += &format!(" {ratio:<width$} |", width = title.chars().count().max(30));
            }
            println!("{line}");
        }
        println!();
        println!("Rounds (value [broker CPU cores, generator CPU cores]), in the order measured:");
        for (key, label, _) in ROWS {
            let Some(orders) = self.orders.get(key) else { continue };
            for (round, order) in orders.iter().enumerate() {
                let cells: Vec<String> = order
                    .iter()
                    .map(|b| {
                        let cell = match self.rounds(key, b).get(round).copied().flatten() {
                            Some(s) => format!("{:.0}{}", s.value, cpu(&s)),
                            None => "error".into(),
                        };
                        format!("{b} {cell}")
                    })
                    .collect();
                println!("  {label}, round {}: {}", round + 1, cells.join("; "));
            }
        }
    }

    /// "1.23× (1.10 1.23 1.40)": the ratio of the medians, then each round's ratio.
    fn ratios(&self, row: &'static str, ours: &str, other: &str, higher: bool) -> String {
        let (a, b) = (self.rounds(row, ours), self.rounds(row, other));
        let per_round: Vec<String> = a
            .iter()
            .zip(b)
            .map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) if b.value > 0.0 => format!("{:.2}", a.value / b.value),
                _ => "-".into(),
            })
            .collect();
        match (self.median(row, ours), self.median(row, other)) {
            (Some(a), Some(b)) if b > 0.0 => {
                let r = a / b;
                let better = if higher { r >= 1.0 } else { r <= 1.0 };
                format!("{r:.2}×{} ({})", if better { "" } else { " worse" }, per_round.join(" "))
            }
            _ => "-".into(),
        }
    }
}

fn cpu(s: &Sample) -> String {
    match (s.broker_cpu, s.generator_cpu) {
        (Some(b), Some(g)) => format!(" [{b:.2}, {g:.2}]"),
        _ => String::new(),
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn ratios_pair_samples_of_the_same_round() {
        let mut r = Results::default();
        for (round, (a, b)) in [(2.0, 1.0), (3.0, 6.0), (4.0, 2.0)].into_iter().enumerate() {
            r.record("q0", "mqttkit", round, Some(Sample::plain(a)));
            r.record("q0", "rumqttd", round, Some(Sample::plain(b)));
        }
        assert_eq!(r.ratios("q0", "mqttkit", "rumqttd", true), "1.50× (2.00 0.50 2.00)");
        assert_eq!(r.ratios("q0", "mqttkit", "rumqttd", false), "1.50× worse (2.00 0.50 2.00)");
    }
}
