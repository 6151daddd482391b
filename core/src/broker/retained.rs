//! The retained messages, in a trie keyed by topic levels: a subscription visits only the
//! branches its filter can match (a literal level is one lookup, `+` walks one level of
//! children, `#` the subtree below it), never the whole store.

use std::collections::HashMap;
use std::sync::Arc;

use super::session::Message;

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    message: Option<Arc<Message>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.message.is_none()
    }

    /// Every message at this node and below.
    fn collect_all(&self, out: &mut Vec<Arc<Message>>) {
        out.extend(self.message.iter().cloned());
        for child in self.children.values() {
            child.collect_all(out);
        }
    }
}

/// The retained messages by topic name.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    root: Node,
}

impl Retained {
    /// The retained message of exactly this topic.
    pub(crate) fn get(&self, topic: &str) -> Option<&Arc<Message>> {
        let mut node = &self.root;
        for level in topic.split('/') {
            node = node.children.get(level)?;
        }
        node.message.as_ref()
    }

    /// Stores `message` as the retained message of `topic`; returns the one it replaced.
    pub(crate) fn insert(&mut self, topic: &str, message: Arc<Message>) -> Option<Arc<Message>> {
        let mut node = &mut self.root;
        for level in topic.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        node.message.replace(message)
    }

    /// Removes the retained message of `topic` (and the branches left empty); returns it.
    pub(crate) fn remove(&mut self, topic: &str) -> Option<Arc<Message>> {
        let levels: Vec<&str> = topic.split('/').collect();
        remove(&mut self.root, &levels)
    }

    /// Appends the retained messages whose topic matches `filter` (a valid, non-shared
    /// topic filter) to `out`. Wildcards in the first level do not match topics that start
    /// with `$` (MQTT-4.7.2-1).
    pub(crate) fn matching(&self, filter: &str, out: &mut Vec<Arc<Message>>) {
        let levels: Vec<&str> = filter.split('/').collect();
        matching(&self.root, &levels, true, out);
    }
}

fn remove(node: &mut Node, levels: &[&str]) -> Option<Arc<Message>> {
    let Some((first, rest)) = levels.split_first() else {
        return node.message.take();
    };
    let child = node.children.get_mut(*first)?;
    let removed = remove(child, rest);
    if child.is_empty() {
        node.children.remove(*first);
    }
    removed
}

fn matching(node: &Node, levels: &[&str], root: bool, out: &mut Vec<Arc<Message>>) {
    let Some((first, rest)) = levels.split_first() else {
        out.extend(node.message.iter().cloned());
        return;
    };
    // At the root a wildcard skips the `$` topics.
    let visible = |name: &str| !(root && name.starts_with('$'));
    match *first {
        "#" => {
            // `a/#` matches `a` too (the parent level); the root has no message.
            out.extend(node.message.iter().cloned());
            for (name, child) in &node.children {
                if visible(name) {
                    child.collect_all(out);
                }
            }
        }
        "+" => {
            for (name, child) in &node.children {
                if visible(name) {
                    matching(child, rest, false, out);
                }
            }
        }
        literal => {
            if let Some(child) = node.children.get(literal) {
                matching(child, rest, false, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Publish, QoS, topic_matches};

    fn message(topic: &str) -> Arc<Message> {
        let publish = Publish::new(topic.to_string(), bytes::Bytes::from_static(b"x"), QoS::AtMostOnce);
        Arc::new(Message::from_publish(publish, topic.into(), None, None))
    }

    fn topics(store: &Retained, filter: &str) -> Vec<String> {
        let mut out = Vec::new();
        store.matching(filter, &mut out);
        let mut v: Vec<String> = out.iter().map(|m| m.topic.to_string()).collect();
        v.sort();
        v
    }

    const TOPICS: &[&str] = &[
        "a",
        "a/b",
        "a/b/c",
        "a/x/c",
        "a/b/c/d",
        "/a",
        "/",
        "a//c",
        "$SYS/x",
        "$SYS",
        "$share",
        "b/$x",
        "sport",
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player2",
    ];

    fn store() -> Retained {
        let mut store = Retained::default();
        for t in TOPICS {
            assert!(store.insert(t, message(t)).is_none());
        }
        store
    }

    #[test]
    fn matches_exactly_what_the_filter_rules_match() {
        let store = store();
        let filters = [
            "#",
            "+",
            "+/+",
            "a/#",
            "a/+",
            "a/+/c",
            "+/b/#",
            "/#",
            "/+",
            "+/",
            "a//c",
            "a/+/+/d",
            "$SYS/#",
            "$SYS/+",
            "+/$x",
            "$SYS",
            "sport/tennis/+",
            "sport/#",
            "nothing/#",
            "a/b/c/d/#",
        ];
        for filter in filters {
            let mut expected: Vec<String> =
                TOPICS.iter().filter(|t| topic_matches(filter, t)).map(|t| t.to_string()).collect();
            expected.sort();
            assert_eq!(topics(&store, filter), expected, "filter {filter}");
        }
    }

    #[test]
    fn mqtt_4_7_2_1_root_wildcards_do_not_match_dollar_topics() {
        let store = store();
        assert!(!topics(&store, "#").iter().any(|t| t.starts_with('$')));
        assert!(!topics(&store, "+/x").iter().any(|t| t.starts_with('$')));
        assert_eq!(topics(&store, "$SYS/#"), ["$SYS", "$SYS/x"]);
        assert_eq!(topics(&store, "+/$x"), ["b/$x"]);
    }

    #[test]
    fn replace_remove_and_prune() {
        let mut store = store();
        assert!(store.insert("a/b", message("a/b")).is_some());
        assert!(store.remove("a/b/c/d").is_some());
        assert!(store.remove("a/b/c/d").is_none());
        assert!(store.remove("a/b/c/d/e").is_none());
        assert!(store.get("a/b/c").is_some());
        assert!(store.get("a/b/c/d").is_none());
        for t in TOPICS.iter().filter(|t| **t != "a/b/c/d") {
            assert!(store.remove(t).is_some(), "{t}");
        }
        assert!(store.root.is_empty());
    }

    #[test]
    fn a_wildcard_filter_does_not_visit_unrelated_branches() {
        // 100,000 retained topics; `a/+/c` looks at the children of `a` only.
        let mut store = Retained::default();
        for i in 0..100_000 {
            let t = format!("x{}/y/c", i % 1000);
            store.insert(&format!("{t}{i}"), message("t"));
        }
        for i in 0..5 {
            store.insert(&format!("a/{i}/c"), message(&format!("a/{i}/c")));
        }
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        for _ in 0..1000 {
            out.clear();
            store.matching("a/+/c", &mut out);
        }
        assert_eq!(out.len(), 5);
        // A linear scan of 100,000 topics 1000 times takes seconds; the trie microseconds.
        assert!(start.elapsed() < std::time::Duration::from_secs(1), "{:?}", start.elapsed());
    }
}
