//! The router: a subscription trie keyed by topic levels, with `+` and `#` as ordinary
//! children, plain subscribers and shared groups at each node.
//!
//! Matching walks at most three children per level (the exact level, `+`, `#`) and returns
//! one [`Target`] per receiving session; overlapping subscriptions of one session are merged
//! into one delivery with the highest QoS and all subscription identifiers (MQTT 5.0
//! §3.3.4). Each shared group picks one member per message, round robin, preferring members
//! that are online.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::session::{Session, SharedOrigin, SubscriptionEntry};
use crate::protocol::QoS;

/// One session's subscription at a node.
#[derive(Debug, Clone)]
struct Subscriber {
    session: Arc<Session>,
    entry: SubscriptionEntry,
}

#[derive(Debug)]
struct SharedGroup {
    members: Vec<Subscriber>,
    next: AtomicUsize,
    origin: SharedOrigin,
}

impl SharedGroup {
    /// The next member, round robin, preferring members that are online.
    fn pick(&self) -> Option<&Subscriber> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let pick =
            (0..n).map(|i| (start + i) % n).find(|&i| self.members[i].session.is_online()).unwrap_or(start);
        Some(&self.members[pick])
    }
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    subscribers: Vec<Subscriber>,
    groups: HashMap<Box<str>, SharedGroup>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subscribers.is_empty() && self.groups.is_empty()
    }
}

/// A session that receives a message, with the merged options of its matching
/// subscriptions.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) session: Arc<Session>,
    pub(crate) qos: QoS,
    pub(crate) retain_as_published: bool,
    pub(crate) subscription_ids: Vec<u32>,
    /// Set when the target was picked from a shared group.
    pub(crate) shared: Option<SharedOrigin>,
}

/// [`Target`] borrowed from the router while it is locked.
#[derive(Debug)]
pub(crate) struct Receiver<'a> {
    pub(crate) session: &'a Arc<Session>,
    pub(crate) qos: QoS,
    pub(crate) retain_as_published: bool,
    pub(crate) subscription_ids: Vec<u32>,
    pub(crate) shared: Option<&'a SharedOrigin>,
}

impl<'a> Receiver<'a> {
    fn of(subscriber: &'a Subscriber, shared: Option<&'a SharedOrigin>) -> Self {
        Receiver {
            session: &subscriber.session,
            qos: subscriber.entry.options.qos,
            retain_as_published: subscriber.entry.options.retain_as_published,
            subscription_ids: subscriber.entry.id.into_iter().collect(),
            shared,
        }
    }

    pub(crate) fn into_target(self) -> Target {
        Target {
            session: self.session.clone(),
            qos: self.qos,
            retain_as_published: self.retain_as_published,
            subscription_ids: self.subscription_ids,
            shared: self.shared.cloned(),
        }
    }
}

/// The subscription trie.
#[derive(Debug, Default)]
pub(crate) struct Router {
    root: Node,
}

impl Router {
    /// Adds or replaces `session`'s subscription to `filter` (already split from its share
    /// group). Returns whether it replaced an existing one.
    pub(crate) fn subscribe(
        &mut self,
        filter: &str,
        group: Option<&str>,
        session: &Arc<Session>,
        entry: SubscriptionEntry,
    ) -> bool {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        let list = match group {
            Some(group) => {
                &mut node
                    .groups
                    .entry(group.into())
                    .or_insert_with(|| SharedGroup {
                        members: Vec::new(),
                        next: AtomicUsize::new(0),
                        origin: SharedOrigin { group: group.into(), filter: filter.into() },
                    })
                    .members
            }
            None => &mut node.subscribers,
        };
        match list.iter_mut().find(|s| Arc::ptr_eq(&s.session, session)) {
            Some(existing) => {
                existing.entry = entry;
                true
            }
            None => {
                list.push(Subscriber { session: session.clone(), entry });
                false
            }
        }
    }

    /// Removes `session`'s subscription to `filter`; returns whether there was one.
    pub(crate) fn unsubscribe(&mut self, filter: &str, group: Option<&str>, session: &Arc<Session>) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        remove(&mut self.root, &levels, group, session)
    }

    /// Every session that receives a message published to `topic` by `publisher`.
    pub(crate) fn route(&self, topic: &str, publisher: Option<&str>) -> Vec<Target> {
        let mut targets = Vec::new();
        self.route_each(topic, publisher, |receiver| targets.push(receiver.into_target()));
        targets
    }

    /// Calls `f` once per session that receives a message published to `topic` by
    /// `publisher`, without taking a reference to the session (the caller clones the
    /// `Arc` only if it keeps it).
    pub(crate) fn route_each<'a>(
        &'a self,
        topic: &str,
        publisher: Option<&str>,
        mut f: impl FnMut(Receiver<'a>),
    ) {
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = topic.starts_with('$');
        let mut walk =
            Walk { levels: &levels, dollar, publisher, plain: Vec::new(), shared: Vec::new(), nodes: 0 };
        walk.collect(&self.root, 0);
        let Walk { mut plain, shared, nodes, .. } = walk;
        // Merge overlapping subscriptions of one session: only possible when subscribers
        // came from more than one node (a node holds one subscription per session).
        if nodes > 1 {
            plain.sort_by_key(|subscriber| Arc::as_ptr(&subscriber.session) as usize);
        }
        let mut pending: Option<Receiver<'a>> = None;
        for subscriber in plain {
            match pending.as_mut() {
                Some(last) if Arc::ptr_eq(last.session, &subscriber.session) => {
                    let options = &subscriber.entry.options;
                    last.qos = last.qos.max(options.qos);
                    last.retain_as_published |= options.retain_as_published;
                    last.subscription_ids.extend(subscriber.entry.id);
                }
                _ => {
                    if let Some(done) = pending.replace(Receiver::of(subscriber, None)) {
                        f(done);
                    }
                }
            }
        }
        if let Some(done) = pending {
            f(done);
        }
        for (member, origin) in shared {
            f(Receiver::of(member, Some(origin)));
        }
    }

    /// A member of the shared group `group` on `filter` (for redelivery), if any is left.
    pub(crate) fn pick_shared(&self, origin: &SharedOrigin) -> Option<Target> {
        let mut node = &self.root;
        for level in origin.filter.split('/') {
            node = node.children.get(level)?;
        }
        let group = node.groups.get(&*origin.group)?;
        group.pick().map(|member| Target {
            session: member.session.clone(),
            qos: member.entry.options.qos,
            retain_as_published: member.entry.options.retain_as_published,
            subscription_ids: member.entry.id.into_iter().collect(),
            shared: Some(group.origin.clone()),
        })
    }
}

/// One routing walk: the topic's levels and the subscribers it collects from the trie
/// (`'a`).
struct Walk<'a, 't> {
    levels: &'t [&'t str],
    /// The topic starts with `$` (wildcards at the root do not match it).
    dollar: bool,
    publisher: Option<&'t str>,
    plain: Vec<&'a Subscriber>,
    shared: Vec<(&'a Subscriber, &'a SharedOrigin)>,
    /// Nodes that had plain subscribers.
    nodes: usize,
}

impl<'a> Walk<'a, '_> {
    /// Visits the nodes matching the levels from `depth` below `node`.
    fn collect(&mut self, node: &'a Node, depth: usize) {
        let wildcard_ok = !(depth == 0 && self.dollar);
        if depth == self.levels.len() {
            self.take(node);
            // `a/#` also matches `a`.
            if let Some(hash) = node.children.get("#") {
                self.take(hash);
            }
            return;
        }
        if wildcard_ok {
            if let Some(hash) = node.children.get("#") {
                self.take(hash);
            }
            if let Some(plus) = node.children.get("+") {
                self.collect(plus, depth + 1);
            }
        }
        let level = self.levels[depth];
        if level != "+"
            && level != "#"
            && let Some(child) = node.children.get(level)
        {
            self.collect(child, depth + 1);
        }
    }

    fn take(&mut self, node: &'a Node) {
        if !node.subscribers.is_empty() {
            self.nodes += 1;
            self.plain.reserve(node.subscribers.len());
        }
        for subscriber in &node.subscribers {
            let own = self.publisher.is_some_and(|p| *subscriber.session.client_id == *p);
            if subscriber.entry.options.no_local && own {
                continue;
            }
            self.plain.push(subscriber);
        }
        for group in node.groups.values() {
            if let Some(member) = group.pick() {
                self.shared.push((member, &group.origin));
            }
        }
    }
}

fn remove(node: &mut Node, levels: &[&str], group: Option<&str>, session: &Arc<Session>) -> bool {
    let Some((first, rest)) = levels.split_first() else {
        let removed = match group {
            Some(name) => {
                let Some(g) = node.groups.get_mut(name) else { return false };
                let before = g.members.len();
                g.members.retain(|s| !Arc::ptr_eq(&s.session, session));
                let removed = g.members.len() != before;
                if g.members.is_empty() {
                    node.groups.remove(name);
                }
                removed
            }
            None => {
                let before = node.subscribers.len();
                node.subscribers.retain(|s| !Arc::ptr_eq(&s.session, session));
                node.subscribers.len() != before
            }
        };
        return removed;
    };
    let Some(child) = node.children.get_mut(*first) else { return false };
    let removed = remove(child, rest, group, session);
    if child.is_empty() {
        node.children.remove(*first);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ProtocolVersion, SubscriptionOptions};

    fn session(id: &str) -> Arc<Session> {
        Arc::new(Session::new(id.into(), ProtocolVersion::V5))
    }

    fn entry(qos: QoS, id: Option<u32>) -> SubscriptionEntry {
        SubscriptionEntry { options: SubscriptionOptions::new(qos), id }
    }

    fn ids(targets: &[Target]) -> Vec<&str> {
        let mut v: Vec<&str> = targets.iter().map(|t| &*t.session.client_id).collect();
        v.sort();
        v
    }

    #[test]
    fn wildcards_match_as_section_4_7_says() {
        let mut router = Router::default();
        let (a, b, c, d) = (session("a"), session("b"), session("c"), session("d"));
        router.subscribe("sport/tennis/+", None, &a, entry(QoS::AtMostOnce, None));
        router.subscribe("sport/#", None, &b, entry(QoS::AtMostOnce, None));
        router.subscribe("#", None, &c, entry(QoS::AtMostOnce, None));
        router.subscribe("sport/tennis/player1", None, &d, entry(QoS::AtMostOnce, None));
        assert_eq!(ids(&router.route("sport/tennis/player1", None)), ["a", "b", "c", "d"]);
        assert_eq!(ids(&router.route("sport", None)), ["b", "c"]);
        assert_eq!(ids(&router.route("sport/tennis/player1/x", None)), ["b", "c"]);
        assert_eq!(ids(&router.route("other", None)), ["c"]);
    }

    #[test]
    fn mqtt_4_7_2_1_root_wildcards_do_not_match_dollar_topics() {
        let mut router = Router::default();
        let (a, b, c) = (session("a"), session("b"), session("c"));
        router.subscribe("#", None, &a, entry(QoS::AtMostOnce, None));
        router.subscribe("+/x", None, &b, entry(QoS::AtMostOnce, None));
        router.subscribe("$SYS/#", None, &c, entry(QoS::AtMostOnce, None));
        assert_eq!(ids(&router.route("$SYS/x", None)), ["c"]);
    }

    #[test]
    fn overlapping_subscriptions_merge_into_one_delivery() {
        let mut router = Router::default();
        let a = session("a");
        router.subscribe("x/+", None, &a, entry(QoS::AtLeastOnce, Some(1)));
        router.subscribe("x/#", None, &a, entry(QoS::ExactlyOnce, Some(2)));
        let targets = router.route("x/y", None);
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].qos, QoS::ExactlyOnce);
        let mut ids = targets[0].subscription_ids.clone();
        ids.sort();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn no_local_skips_the_publisher() {
        let mut router = Router::default();
        let a = session("a");
        let mut e = entry(QoS::AtMostOnce, None);
        e.options.no_local = true;
        router.subscribe("t", None, &a, e);
        assert!(router.route("t", Some("a")).is_empty());
        assert_eq!(router.route("t", Some("b")).len(), 1);
    }

    #[test]
    fn shared_groups_round_robin_and_unsubscribe_prunes() {
        let mut router = Router::default();
        let (a, b) = (session("a"), session("b"));
        a.set_online(true);
        b.set_online(true);
        router.subscribe("t/+", Some("g"), &a, entry(QoS::AtMostOnce, None));
        router.subscribe("t/+", Some("g"), &b, entry(QoS::AtMostOnce, None));
        let picks: Vec<String> =
            (0..4).map(|_| router.route("t/1", None)[0].session.client_id.to_string()).collect();
        assert_eq!(picks, ["a", "b", "a", "b"]);
        b.set_online(false);
        assert!((0..3).all(|_| &*router.route("t/1", None)[0].session.client_id == "a"));
        assert!(router.unsubscribe("t/+", Some("g"), &a));
        assert!(router.unsubscribe("t/+", Some("g"), &b));
        assert!(!router.unsubscribe("t/+", Some("g"), &b));
        assert!(router.root.is_empty());
    }
}
