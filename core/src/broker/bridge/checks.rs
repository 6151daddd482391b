//! Checks of the bridge configuration: each bad value is reported with where it is (for
//! the file's line) and a reason naming the bridge and the key.

use std::collections::HashSet;

use super::config::{BridgeConfig, BridgeProtocol, BridgeTopic};
use crate::client::{BrokerUrl, Scheme};
use crate::protocol::topic;

/// One step of the way to a value in the configuration: a key or an array index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Key(&'static str),
    Index(usize),
}

/// A bad bridge setting: where it is (`bridge`, index, key, ...) and why it is bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) path: Vec<Step>,
    pub(crate) reason: String,
}

impl Invalid {
    /// Byte offset of the value in `text`, or of the closest enclosing table that is there.
    pub(crate) fn offset_in(&self, text: &str) -> Option<usize> {
        let document = toml::de::DeTable::parse(text).ok()?;
        let mut steps = self.path.iter();
        let Some(Step::Key(first)) = steps.next() else { return None };
        let mut value = document.get_ref().get(*first)?;
        let mut offset = value.span().start;
        for step in steps {
            let next = match step {
                Step::Key(key) => value.get_ref().get(*key),
                Step::Index(index) => value.get_ref().get(*index),
            };
            let Some(next) = next else { break };
            offset = next.span().start;
            value = next;
        }
        Some(offset)
    }
}

/// Checks every bridge; the first bad setting found.
pub(crate) fn validate(bridges: &[BridgeConfig]) -> Result<(), Invalid> {
    let mut names = HashSet::new();
    for (index, bridge) in bridges.iter().enumerate() {
        let at = |key: &'static str, reason: String| Invalid {
            path: vec![Step::Key("bridge"), Step::Index(index), Step::Key(key)],
            reason: format!("bridge {:?}: {reason}", bridge.name),
        };
        check_bridge(bridge, &at)?;
        if !names.insert(bridge.name.as_str()) {
            return Err(at("name", "another bridge has this name".into()));
        }
        if bridge.topics.is_empty() {
            return Err(at("topic", "needs at least one [[bridge.topic]] rule".into()));
        }
        for (number, rule) in bridge.topics.iter().enumerate() {
            check_rule(rule).map_err(|(key, reason)| Invalid {
                path: vec![
                    Step::Key("bridge"),
                    Step::Index(index),
                    Step::Key("topic"),
                    Step::Index(number),
                    Step::Key(key),
                ],
                reason: format!("bridge {:?}, topic rule {}: {reason}", bridge.name, number + 1),
            })?;
        }
    }
    Ok(())
}

fn check_bridge(bridge: &BridgeConfig, at: &impl Fn(&'static str, String) -> Invalid) -> Result<(), Invalid> {
    let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if bridge.name.is_empty() || !bridge.name.chars().all(name_ok) {
        return Err(at("name", "a name is letters, digits, '-', '_' and '.' (at least one)".into()));
    }
    let url = BrokerUrl::parse(&bridge.address).map_err(|error| at("address", error.to_string()))?;
    if bridge.client_id.as_deref() == Some("") {
        return Err(at("client_id", "must not be empty (leave it out for the default)".into()));
    }
    if bridge.tls.is_some() && !matches!(url.scheme, Scheme::Mqtts | Scheme::Wss) {
        return Err(at("tls", format!("TLS settings need an mqtts:// or wss:// address, not {url}")));
    }
    if let Some(tls) = &bridge.tls
        && tls.cert_file.is_some() != tls.key_file.is_some()
    {
        return Err(at("tls", "cert_file and key_file go together".into()));
    }
    if bridge.protocol_version == BridgeProtocol::V311
        && bridge.password.is_some()
        && bridge.username.is_none()
    {
        return Err(at("password", "MQTT 3.1.1 does not allow a password without a username".into()));
    }
    if bridge.reconnect_delay_ms == 0 {
        return Err(at("reconnect_delay_ms", "must be at least 1".into()));
    }
    if bridge.reconnect_delay_ms > bridge.reconnect_max_delay_ms {
        return Err(at(
            "reconnect_delay_ms",
            format!("is above reconnect_max_delay_ms ({})", bridge.reconnect_max_delay_ms),
        ));
    }
    if bridge.max_inflight == 0 {
        return Err(at("max_inflight", "must be at least 1".into()));
    }
    Ok(())
}

/// Checks one topic rule; the key of the bad value and why.
fn check_rule(rule: &BridgeTopic) -> Result<(), (&'static str, String)> {
    if rule.qos > 2 {
        return Err(("qos", format!("qos = {} is not 0, 1 or 2", rule.qos)));
    }
    for (key, prefix) in [("local_prefix", &rule.local_prefix), ("remote_prefix", &rule.remote_prefix)] {
        if prefix.contains(['+', '#', '\0']) {
            return Err((key, format!("prefix {prefix:?} may not contain '+', '#' or NUL")));
        }
    }
    if rule.pattern.starts_with(topic::SHARED_PREFIX) || rule.local_prefix.starts_with(topic::SHARED_PREFIX) {
        return Err(("pattern", "shared subscriptions ($share/...) cannot be bridged".into()));
    }
    let sides =
        [(rule.direction.outgoing(), rule.local_filter()), (rule.direction.incoming(), rule.remote_filter())];
    for (used, filter) in sides {
        if used && let Err(error) = topic::validate_topic_filter(&filter) {
            return Err(("pattern", format!("{filter:?} is not a valid topic filter: {error}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BridgeDirection;

    #[test]
    fn rules_are_checked() {
        let bad = [
            (BridgeTopic::new("a/#/b", BridgeDirection::Out), "pattern"),
            (BridgeTopic::new("a", BridgeDirection::In).prefixes("", "r/+/"), "remote_prefix"),
            (BridgeTopic { qos: 3, ..BridgeTopic::new("a", BridgeDirection::Out) }, "qos"),
            (BridgeTopic::new("$share/g/a", BridgeDirection::Both), "pattern"),
            (BridgeTopic::new("", BridgeDirection::Out), "pattern"),
        ];
        for (rule, key) in bad {
            assert_eq!(check_rule(&rule).unwrap_err().0, key, "{rule:?}");
        }
        assert!(check_rule(&BridgeTopic::new("", BridgeDirection::Both).prefixes("l/t", "r/t")).is_ok());
        // An "in" rule does not use the local side as a filter.
        assert!(check_rule(&BridgeTopic::new("#", BridgeDirection::In).prefixes("l/", "")).is_ok());
    }
}
