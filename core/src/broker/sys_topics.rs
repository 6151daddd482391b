//! `$SYS` topics: the broker's counters as retained messages under `$SYS/broker/...`, with
//! Mosquitto's topic names (dashboards written for Mosquitto read them unchanged), published
//! through the router every `interval_secs`, each only when its value changed.
//!
//! Differences from Mosquitto: `messages/received` and `messages/sent` count PUBLISH
//! packets (Mosquitto counts every packet; `publish/messages/*` carry the same values);
//! `messages/expired` (messages whose Message Expiry Interval passed in a queue) and
//! `throttled` (pauses imposed by the rate limits) are ours;
//! `retained messages/count` leaves out the `$SYS` messages themselves; bridge states are
//! `$SYS/broker/connection/{bridge name}/state` (`1` connected, `0` not); the ACL's refusals
//! are ours too: `publish/messages/denied` (PUBLISH packets and wills a client may not
//! write) and `subscriptions/denied` (SUBSCRIBE filters it may not read).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use serde::Deserialize;
use tokio::time::MissedTickBehavior;

use super::bridge::BridgeStatus;
use super::session::Message;
use super::{BrokerStats, Shared};
use crate::protocol::{PublishProperties, QoS};

/// The `[sys]` table: how often the `$SYS` topics are published.
///
/// ```toml
/// [sys]
/// interval_secs = 10   # 0: no $SYS topics
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SysConfig {
    /// Seconds between two updates (default 10, as Mosquitto's `sys_interval`); 0 disables
    /// the `$SYS` topics.
    pub interval_secs: u64,
}

impl Default for SysConfig {
    fn default() -> Self {
        SysConfig { interval_secs: 10 }
    }
}

impl SysConfig {
    /// The update interval, `None` when disabled.
    pub fn interval(&self) -> Option<Duration> {
        (self.interval_secs > 0).then(|| Duration::from_secs(self.interval_secs))
    }
}

/// Whether `topic` is one of the broker's own `$SYS` topics (clients may not publish there;
/// their retained messages are neither counted nor stored: they are published again at
/// every start).
pub(crate) fn is_sys_topic(topic: &str) -> bool {
    topic == "$SYS" || topic.starts_with("$SYS/")
}

/// Publishes the `$SYS` topics every `interval` until the broker stops.
pub(crate) async fn run(shared: Arc<Shared>, bridges: Vec<Arc<BridgeStatus>>, interval: Duration) {
    let started = Instant::now();
    let mut published: HashMap<String, String> = HashMap::new();
    let mut loads = Loads::default();
    let mut values = Vec::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.stop.wait() => break,
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        let stats = shared.counters.snapshot();
        let sessions = shared.sessions().len() as u64;
        values.clear();
        broker_values(&stats, sessions, now - started, &mut values);
        loads.update(&stats, now, &mut values);
        for bridge in &bridges {
            let state = if bridge.is_connected() { "1" } else { "0" };
            values.push((format!("$SYS/broker/connection/{}/state", bridge.name()), state.to_owned()));
        }
        for (topic, value) in values.drain(..) {
            if published.get(&topic) != Some(&value) {
                publish(&shared, &topic, &value);
                published.insert(topic, value);
            }
        }
    }
}

/// Routes one retained `$SYS` message (not counted as received: the broker sent it).
fn publish(shared: &Shared, topic: &str, value: &str) {
    let message = Message {
        topic: ByteString::from(topic),
        payload: Bytes::copy_from_slice(value.as_bytes()),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: PublishProperties::default(),
        publisher: None,
        expires_at: None,
        frames: Default::default(),
    };
    shared.route_from_broker(Arc::new(message));
}

/// The counters, under Mosquitto's names.
fn broker_values(stats: &BrokerStats, sessions: u64, uptime: Duration, out: &mut Vec<(String, String)>) {
    let mut put = |topic: &str, value: String| out.push((format!("$SYS/broker/{topic}"), value));
    put("version", format!("mqttkit version {}", env!("CARGO_PKG_VERSION")));
    put("uptime", format!("{} seconds", uptime.as_secs()));
    put("clients/connected", stats.connections.to_string());
    put("clients/disconnected", sessions.saturating_sub(stats.connections).to_string());
    put("clients/total", sessions.max(stats.connections).to_string());
    put("clients/maximum", stats.connections_max.to_string());
    put("messages/received", stats.messages_in.to_string());
    put("messages/sent", stats.messages_out.to_string());
    put("messages/stored", stats.queued.to_string());
    put("messages/expired", stats.expired.to_string());
    put("throttled", stats.throttled.to_string());
    put("publish/messages/received", stats.messages_in.to_string());
    put("publish/messages/sent", stats.messages_out.to_string());
    put("publish/messages/dropped", stats.dropped.to_string());
    put("publish/messages/denied", stats.publish_denied.to_string());
    put("bytes/received", stats.bytes_in.to_string());
    put("bytes/sent", stats.bytes_out.to_string());
    put("subscriptions/count", stats.subscriptions.to_string());
    put("subscriptions/denied", stats.subscribe_denied.to_string());
    put("retained messages/count", stats.retained.to_string());
    put("store/messages/count", stats.queued.to_string());
}

/// Reads one counter out of a snapshot.
type Counter = fn(&BrokerStats) -> u64;

/// The load topics: per-minute rates averaged over 1, 5 and 15 minutes.
const LOADS: [(&str, Counter); 8] = [
    ("messages/received", |s| s.messages_in),
    ("messages/sent", |s| s.messages_out),
    ("publish/received", |s| s.messages_in),
    ("publish/sent", |s| s.messages_out),
    ("publish/dropped", |s| s.dropped),
    ("bytes/received", |s| s.bytes_in),
    ("bytes/sent", |s| s.bytes_out),
    ("connections", |s| s.connections_total),
];

/// Averaging windows of the load topics, in seconds.
const WINDOWS: [(&str, f64); 3] = [("1min", 60.0), ("5min", 300.0), ("15min", 900.0)];

/// Exponentially decaying averages of per-minute rates, as Mosquitto computes them: at
/// each update, `average = rate + e^(-elapsed / window) * (average - rate)`.
#[derive(Debug, Default)]
struct Loads {
    last: Option<(Instant, [u64; LOADS.len()])>,
    averages: [[f64; WINDOWS.len()]; LOADS.len()],
}

impl Loads {
    fn update(&mut self, stats: &BrokerStats, now: Instant, out: &mut Vec<(String, String)>) {
        let counts = LOADS.map(|(_, count)| count(stats));
        if let Some((then, before)) = self.last {
            let elapsed = (now - then).as_secs_f64();
            if elapsed > 0.0 {
                for (i, averages) in self.averages.iter_mut().enumerate() {
                    let rate = counts[i].saturating_sub(before[i]) as f64 * 60.0 / elapsed;
                    for (average, (_, window)) in averages.iter_mut().zip(WINDOWS) {
                        *average = rate + (-elapsed / window).exp() * (*average - rate);
                    }
                }
            }
        }
        self.last = Some((now, counts));
        for ((name, _), averages) in LOADS.iter().zip(&self.averages) {
            for ((window, _), average) in WINDOWS.iter().zip(averages) {
                out.push((format!("$SYS/broker/load/{name}/{window}"), format!("{average:.2}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(values: &'a [(String, String)], topic: &str) -> &'a str {
        &values.iter().find(|(t, _)| t == topic).unwrap_or_else(|| panic!("no {topic}")).1
    }

    #[test]
    fn loads_follow_mosquittos_moving_averages() {
        let mut loads = Loads::default();
        let start = Instant::now();
        let mut out = Vec::new();
        loads.update(&BrokerStats::default(), start, &mut out);
        assert_eq!(value(&out, "$SYS/broker/load/messages/received/1min"), "0.00");
        // 600 messages in 60 s: 600 per minute; after one minute the 1-minute average is
        // 600 * (1 - 1/e).
        let stats = BrokerStats { messages_in: 600, ..Default::default() };
        out.clear();
        loads.update(&stats, start + Duration::from_secs(60), &mut out);
        let expected = 600.0 * (1.0 - (-1.0f64).exp());
        assert_eq!(value(&out, "$SYS/broker/load/messages/received/1min"), format!("{expected:.2}"));
        let five = 600.0 * (1.0 - (-0.2f64).exp());
        assert_eq!(value(&out, "$SYS/broker/load/messages/received/5min"), format!("{five:.2}"));
        assert_eq!(value(&out, "$SYS/broker/load/bytes/sent/15min"), "0.00");
        assert_eq!(out.len(), LOADS.len() * WINDOWS.len());
    }

    #[test]
    fn broker_values_use_mosquittos_names() {
        let stats = BrokerStats {
            connections: 2,
            retained: 3,
            queued: 4,
            publish_denied: 6,
            subscribe_denied: 7,
            ..Default::default()
        };
        let mut out = Vec::new();
        broker_values(&stats, 5, Duration::from_secs(42), &mut out);
        assert_eq!(value(&out, "$SYS/broker/uptime"), "42 seconds");
        assert_eq!(value(&out, "$SYS/broker/clients/connected"), "2");
        assert_eq!(value(&out, "$SYS/broker/clients/disconnected"), "3");
        assert_eq!(value(&out, "$SYS/broker/clients/total"), "5");
        assert_eq!(value(&out, "$SYS/broker/retained messages/count"), "3");
        assert_eq!(value(&out, "$SYS/broker/store/messages/count"), "4");
        assert_eq!(value(&out, "$SYS/broker/publish/messages/denied"), "6");
        assert_eq!(value(&out, "$SYS/broker/subscriptions/denied"), "7");
        assert!(value(&out, "$SYS/broker/version").starts_with("mqttkit version "));
    }

    #[test]
    fn only_broker_topics_are_sys_topics() {
        assert!(is_sys_topic("$SYS/broker/uptime"));
        assert!(is_sys_topic("$SYS"));
        assert!(!is_sys_topic("$SYSTEM/x"));
        assert!(!is_sys_topic("sys/x"));
    }
}
