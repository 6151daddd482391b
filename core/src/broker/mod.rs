//! The MQTT broker: MQTT 5.0 and 3.1.1 on the same listeners, embeddable in any Tokio
//! program.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mqttkit::broker::BrokerError> {
//! use mqttkit::broker::Broker;
//!
//! let broker = Broker::builder().bind("127.0.0.1:0".parse().unwrap()).start().await?;
//! println!("listening on {:?}", broker.local_addrs());
//! println!("{:?}", broker.stats());
//! broker.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Architecture: one task per connection (read, decode, handle, then one batched write per
//! wake-up), a subscription trie ([`router`](self) module) matched under a short
//! synchronous lock, one shared payload per message, and per-session bounded queues that the
//! attached connection drains within the client's Receive Maximum. A sweeper task fires
//! delayed wills and session expiry; another publishes the `$SYS` topics; each bridge is a
//! client of its remote broker with an internal session here.

mod acl;
mod acl_file;
mod auth;
mod authorizer;
mod bridge;
mod config;
mod connection;
mod error;
mod frame;
mod lazy_read;
mod listener;
mod outbox;
mod password_file;
mod rate_limit;
mod reload;
mod retained;
mod router;
mod session;
mod stats;
mod stop;
mod storage;
mod stored_will;
mod sys_topics;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use bytestring::ByteString;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use acl::{Acl, AclAccess, AclDecision, AclDefault, AclReason, AclRule, AclScope};
pub use auth::{
    AuthDecision, AuthExchange, AuthFuture, AuthStep, Authenticator, ConfigAuthenticator, Credentials,
    SCRAM_SHA_256, ScramClient, ScramServer,
};
pub use authorizer::{Access, Authorizer, ClientIdentity};
pub use bridge::{BridgeConfig, BridgeDirection, BridgeProtocol, BridgeStats, BridgeTls, BridgeTopic};
pub use config::{
    AclConfig, AclRuleConfig, AuthConfig, BrokerConfig, Durability, Features, Limits, ListenerConfig,
    ListenerProtocol, ListenerTls, StorageConfig, UserConfig,
};
pub use error::BrokerError;
pub use password_file::{PasswordFile, check_username, hash_password, verify_password};
pub use stats::BrokerStats;
pub use sys_topics::SysConfig;

use listener::Listener;
pub(crate) use outbox::Outbox;
use reload::Reloadable;
use retained::Retained;
use router::Router;
use session::{Delivery, Enqueued, Inflight, Message, OutState, Owner, Session};
use stats::Counters;
use stop::Stop;
use storage::{Op, Storage};
use stored_will::Due;

use crate::protocol::{QoS, Will};

/// Entry point: `Broker::builder()`.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// A builder with the default configuration (listen on `127.0.0.1:1883`).
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder {
            config: BrokerConfig::default(),
            authenticator: None,
            authorizer: None,
            bind_override: None,
        }
    }
}

/// Configures and starts a broker.
pub struct BrokerBuilder {
    config: BrokerConfig,
    authenticator: Option<Arc<dyn Authenticator>>,
    authorizer: Option<Arc<dyn Authorizer>>,
    bind_override: Option<Vec<SocketAddr>>,
}

impl std::fmt::Debug for BrokerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl BrokerBuilder {
    /// Uses this whole configuration.
    pub fn config(mut self, config: BrokerConfig) -> Self {
        self.config = config;
        self
    }

    /// Listens on this address only (replacing the configured listeners). Port 0 picks a
    /// free port; see [`BrokerHandle::local_addrs`].
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind_override = Some(vec![addr]);
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Sets the optional features.
    pub fn features(mut self, features: Features) -> Self {
        self.config.features = features;
        self
    }

    /// Adds a bridge to another broker (to those of the configuration).
    pub fn bridge(mut self, bridge: BridgeConfig) -> Self {
        self.config.bridges.push(bridge);
        self
    }

    /// Replaces the configured users (in-config list and password file) with a custom
    /// authenticator.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Adds the users of this password file (see [`PasswordFile`]; read at start) to the
    /// configured ones.
    pub fn password_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.auth.password_file = Some(path.into());
        self
    }

    /// Sets the ACL (compiled at start into an [`Acl`]).
    pub fn acl(mut self, acl: AclConfig) -> Self {
        self.config.acl = acl;
        self
    }

    /// Replaces the configured ACL with a custom authorizer.
    pub fn authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(Arc::new(authorizer));
        self
    }

    /// Binds the listeners and starts serving.
    ///
    /// # Errors
    /// An invalid configuration, a password file or ACL file that cannot be read or has a
    /// bad line, a listener that cannot bind, or a durability policy that is not
    /// implemented yet.
    pub async fn start(self) -> Result<BrokerHandle, BrokerError> {
        let mut config = self.config;
        if let Some(addrs) = self.bind_override {
            config.listeners = addrs.into_iter().map(ListenerConfig::tcp).collect();
        }
        config.validate().map_err(|reason| BrokerError::Config {
            origin: "configuration".into(),
            line: 1,
            column: 1,
            reason,
        })?;
        let bridges =
            config.bridges.iter().map(bridge::Prepared::new).collect::<Result<Vec<_>, BrokerError>>()?;
        let (storage, restored) = match config.storage.durability {
            Durability::Memory => (Storage::memory(), storage::Restored::default()),
            _ => Storage::open(&config.storage)?,
        };
        let mut reloadable = Reloadable::default();
        let authenticator = match self.authenticator {
            Some(authenticator) => authenticator,
            None => reloadable.authenticator(ConfigAuthenticator::load(&config.auth)?),
        };
        let authorizer = match self.authorizer {
            Some(authorizer) => Some(authorizer),
            None => Acl::from_config(&config.acl)?.map(|acl| {
                tracing::info!(rules = acl.rules().len(), default = ?acl.default_decision(), "ACL loaded");
                reloadable.acl(acl)
            }),
        };
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        for listener in &config.listeners {
            let bound = Listener::bind(listener).await?;
            let addr = bound.local_addr()?;
            tracing::info!(%addr, protocol = ?listener.protocol, tls = listener.tls.is_some(), "listening");
            local_addrs.push(addr);
            listeners.push(bound);
        }
        let shared = Arc::new(Shared {
            config,
            authenticator,
            authorizer,
            reloadable,
            counters: Counters::default(),
            router: RwLock::new(Router::default()),
            sessions: Mutex::new(HashMap::new()),
            retained: RwLock::new(Retained::default()),
            timers: Mutex::new(BinaryHeap::new()),
            timers_changed: Notify::new(),
            stop: Stop::default(),
            next_connection_id: AtomicU64::new(1),
            active_connections: AtomicUsize::new(0),
            connections_done: Notify::new(),
            storage,
        });
        shared.restore(restored);
        let mut tasks = Vec::new();
        for listener in listeners {
            tasks.push(tokio::spawn(listener::accept_loop(shared.clone(), listener)));
        }
        tasks.push(tokio::spawn(sweeper(shared.clone())));
        let mut statuses = Vec::new();
        for prepared in bridges {
            let (status, task) = prepared.start(&shared)?;
            statuses.push(status);
            tasks.push(task);
        }
        if let Some(interval) = shared.config.sys.interval() {
            tasks.push(tokio::spawn(sys_topics::run(shared.clone(), statuses.clone(), interval)));
        }
        Ok(BrokerHandle { shared, local_addrs, tasks, bridges: statuses })
    }
}

/// A running broker. Dropping it stops the broker without waiting; call
/// [`BrokerHandle::shutdown`] to stop gracefully and join every task.
#[derive(Debug)]
pub struct BrokerHandle {
    shared: Arc<Shared>,
    local_addrs: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    bridges: Vec<Arc<bridge::BridgeStatus>>,
}

impl BrokerHandle {
    /// The addresses the listeners are bound to (with the actual ports when 0 was asked).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The first listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// The configuration in force.
    pub fn config(&self) -> &BrokerConfig {
        &self.shared.config
    }

    /// A snapshot of the live counters.
    pub fn stats(&self) -> BrokerStats {
        self.shared.counters.snapshot()
    }

    /// The state and counters of each bridge, in configuration order.
    pub fn bridges(&self) -> Vec<BridgeStats> {
        self.bridges.iter().map(|bridge| bridge.snapshot()).collect()
    }

    /// Reads the password file and the ACL file of the configuration in force again and
    /// puts them in force, as Mosquitto does on SIGHUP (`mqttkit broker` does this on
    /// SIGHUP too). Connected clients stay connected: from now on each PUBLISH, SUBSCRIBE
    /// and delivery is checked against the new rules, and each CONNECT against the new
    /// users. The in-config `[[auth.users]]` and `[[acl.rules]]` stay what they were.
    /// A custom [`Authenticator`] or [`Authorizer`] given to the builder is left alone, and
    /// a broker started without any ACL stays without one.
    ///
    /// # Errors
    /// A file cannot be read or has a bad line ([`BrokerError::Io`], or
    /// [`BrokerError::Config`] naming the file and line): then nothing changes, neither the
    /// users nor the rules.
    pub fn reload_auth(&self) -> Result<(), BrokerError> {
        self.shared.reloadable.reload(&self.shared.config.auth, &self.shared.config.acl)
    }

    /// Stops accepting connections, sends DISCONNECT 0x8B (Server shutting down) to MQTT 5
    /// clients, closes every connection, flushes storage and joins every task.
    ///
    /// The server closing a connection is one the will applies to (MQTT-3.1.2-8): a will
    /// without a Will Delay Interval is published as its connection closes, before storage
    /// is flushed (so it is queued for offline persistent sessions and, retained, kept). A
    /// delayed will stays pending in the stored session and falls due after a restart,
    /// unless the client comes back first.
    pub async fn shutdown(mut self) {
        self.shared.stop.trigger();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let done = self.shared.connections_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            let active = self.shared.active_connections.load(Ordering::Acquire);
            if active == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                tracing::warn!(active, "shutdown: connections still open after 10 s");
                break;
            }
        }
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || shared.storage.close()).await;
        tracing::info!("broker stopped");
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.shared.stop.trigger();
    }
}

/// Kinds of timers the sweeper fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Will,
    SessionExpiry,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    generation: u64,
    kind: TimerKind,
    client_id: Arc<str>,
}

/// What became of a delivery offered to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// Queued; whether the session's queue is congested (QoS 1/2 beyond half its limit).
    Queued { congested: bool },
    /// The session has ended meanwhile.
    Ignored,
    /// Its client may not read the topic.
    Denied,
    /// The session's queue is full.
    Refused,
}

/// Outcome of routing one message.
#[derive(Debug, Default)]
pub(crate) struct RouteOutcome {
    /// Sessions the message was queued for.
    pub(crate) delivered: usize,
    /// Sessions whose queue refused a QoS 1/2 message.
    pub(crate) refused: usize,
    /// Whether anything was submitted to storage.
    pub(crate) stored: bool,
    /// Online sessions whose queues are congested: the publisher waits for them to drain.
    pub(crate) congested: Vec<Arc<Session>>,
}

/// State shared by every task of one broker.
pub(crate) struct Shared {
    pub(crate) config: BrokerConfig,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    /// `None`: everything is allowed, at no cost.
    pub(crate) authorizer: Option<Arc<dyn Authorizer>>,
    /// The built-in authenticator and ACL among the two above, for [`BrokerHandle::reload_auth`].
    reloadable: Reloadable,
    pub(crate) counters: Counters,
    router: RwLock<Router>,
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    retained: RwLock<Retained>,
    timers: Mutex<BinaryHeap<Reverse<Timer>>>,
    timers_changed: Notify,
    /// Set when the broker shuts down.
    pub(crate) stop: Stop,
    next_connection_id: AtomicU64,
    active_connections: AtomicUsize,
    connections_done: Notify,
    pub(crate) storage: Storage,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("counters", &self.counters).finish_non_exhaustive()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Queue length from which a publisher is slowed down (half the queue limit).
    pub(crate) fn congestion_mark(&self) -> usize {
        (self.config.limits.max_queued_messages / 2).max(1)
    }

    pub(crate) fn router(&self) -> &RwLock<Router> {
        &self.router
    }

    /// Routes a message: updates the retained store if it is retained, then queues it for
    /// every matching session.
    pub(crate) fn route(&self, message: Arc<Message>) -> RouteOutcome {
        let stored_before = self.storage.issued();
        let mut outcome = self.route_inner(message, true);
        outcome.stored = self.storage.issued() != stored_before;
        outcome
    }

    /// Routes a message the broker publishes itself (`$SYS`): not counted as received.
    pub(crate) fn route_from_broker(&self, message: Arc<Message>) {
        self.route_inner(message, false);
    }

    fn route_inner(&self, message: Arc<Message>, received: bool) -> RouteOutcome {
        if received {
            Counters::add(&self.counters.messages_in, 1);
        }
        if message.retain && self.config.features.retain_available {
            self.retain(&message);
        }
        let targets = read(&self.router).route(&message.topic, message.publisher.as_deref());
        let mut outcome = RouteOutcome::default();
        let mut queued = 0;
        for target in targets {
            let delivery = Delivery {
                message: message.clone(),
                qos: message.qos.min(target.qos),
                retain: message.retain && target.retain_as_published,
                subscription_ids: target.subscription_ids,
                shared: target.shared,
                store_id: 0,
            };
            match self.enqueue(&target.session, delivery, &mut queued) {
                Offer::Queued { congested } => {
                    outcome.delivered += 1;
                    if congested && target.session.is_online() {
                        outcome.congested.push(target.session);
                    }
                }
                Offer::Ignored => outcome.delivered += 1,
                Offer::Denied => {}
                Offer::Refused if message.qos != QoS::AtMostOnce && target.qos != QoS::AtMostOnce => {
                    outcome.refused += 1;
                }
                Offer::Refused => {}
            }
        }
        Counters::add(&self.counters.queued, queued);
        outcome
    }

    /// Routes a QoS 0 message into `outbox` (updating the retained store at once); the
    /// deliveries are queued by [`Shared::flush_outbox`].
    pub(crate) fn route_qos0(&self, message: Arc<Message>, outbox: &mut Outbox) {
        debug_assert_eq!(message.qos, QoS::AtMostOnce);
        outbox.messages += 1;
        if message.retain && self.config.features.retain_available {
            self.retain(&message);
        }
        let router = read(&self.router);
        let mut nth = 0;
        router.route_each(&message.topic, message.publisher.as_deref(), |receiver| {
            let delivery = Delivery {
                message: message.clone(),
                qos: QoS::AtMostOnce,
                retain: message.retain && receiver.retain_as_published,
                subscription_ids: receiver.subscription_ids,
                shared: receiver.shared.cloned(),
                store_id: 0,
            };
            outbox.push(nth, receiver.session, delivery);
            nth += 1;
        });
    }

    /// Queues what [`Shared::route_qos0`] collected: one lock and one wake-up per session.
    pub(crate) fn flush_outbox(&self, outbox: &mut Outbox) {
        let (groups, messages) = outbox.take();
        let mut queued = 0;
        let mut expired = Vec::new();
        for group in groups {
            let session = &group.session;
            let mut any = false;
            let mut state = session.lock();
            for delivery in group.deliveries {
                if self.authorizer.is_some() && !self.may_receive(session, &state, &delivery.message.topic) {
                    continue;
                }
                let outcome = state.enqueue(
                    delivery,
                    &self.config.limits,
                    &self.counters,
                    &session.client_id,
                    &mut expired,
                );
                if outcome == Enqueued::Queued {
                    queued += 1;
                    any = true;
                }
            }
            drop(state);
            self.forget_stored(&session.client_id, &mut expired);
            if any {
                session.notify.notify_one();
            }
        }
        Counters::add(&self.counters.messages_in, messages);
        Counters::add(&self.counters.queued, queued);
    }

    /// Queues a delivery for a session (if its client may read the topic) and wakes its
    /// connection.
    pub(crate) fn deliver(&self, session: &Session, delivery: Delivery) {
        let mut queued = 0;
        self.enqueue(session, delivery, &mut queued);
        Counters::add(&self.counters.queued, queued);
    }

    /// Whether the session's client may receive a message on `topic` (the caller checked
    /// that there is an authorizer).
    fn may_receive(&self, session: &Session, state: &session::SessionState, topic: &str) -> bool {
        let (Some(authorizer), Owner::Client(username)) = (&self.authorizer, &state.owner) else {
            return true;
        };
        let client = ClientIdentity { client_id: &session.client_id, username: username.as_deref() };
        if authorizer.authorize(&client, Access::Read, topic) {
            return true;
        }
        tracing::debug!(
            client_id = &*session.client_id,
            username = username.as_deref(),
            topic,
            "not authorized to read: message not delivered to this subscriber"
        );
        false
    }

    /// Whether `client_id` (authenticated as `username`) may publish to `topic`; a denial is
    /// counted and logged (`what`: what was to be published).
    pub(crate) fn may_publish(
        &self,
        client_id: &str,
        username: Option<&str>,
        topic: &str,
        what: &str,
    ) -> bool {
        let Some(authorizer) = &self.authorizer else { return true };
        if authorizer.authorize(&ClientIdentity { client_id, username }, Access::Write, topic) {
            return true;
        }
        Counters::add(&self.counters.publish_denied, 1);
        tracing::warn!(client_id, username, topic, "{what} denied: not authorized to write");
        false
    }

    /// [`Shared::deliver`], adding the delivery to `queued` instead of `counters.queued`
    /// (which the caller updates once for many).
    fn enqueue(&self, session: &Session, mut delivery: Delivery, queued: &mut u64) -> Offer {
        let mut state = session.lock();
        if self.authorizer.is_some() && !self.may_receive(session, &state, &delivery.message.topic) {
            return Offer::Denied;
        }
        let store = self.storage.is_persistent()
            && delivery.qos != QoS::AtMostOnce
            && state.expiry_interval > 0
            && !state.discarded;
        let record = store.then(|| {
            delivery.store_id = self.storage.next_id();
            (delivery.store_id, storage::encode_delivery(&delivery, 0, 0))
        });
        let qos = delivery.qos;
        let mut expired = Vec::new();
        let outcome =
            state.enqueue(delivery, &self.config.limits, &self.counters, &session.client_id, &mut expired);
        self.forget_stored(&session.client_id, &mut expired);
        if let (Enqueued::Queued, Some((id, record))) = (outcome, record) {
            self.storage.submit(Op::PutMessage(session.client_id.clone(), id, record));
        }
        let congested = qos != QoS::AtMostOnce
            && state.queue.len() >= self.congestion_mark()
            && state.backpressure_off_until.is_none_or(|until| Instant::now() >= until);
        drop(state);
        match outcome {
            Enqueued::Queued => {
                *queued += 1;
                session.notify.notify_one();
                Offer::Queued { congested }
            }
            Enqueued::Ignored => Offer::Ignored,
            Enqueued::Dropped => Offer::Refused,
        }
    }

    /// Deletes the stored deliveries `ids` of `client_id`'s session (dropped from its queue).
    pub(crate) fn forget_stored(&self, client_id: &Arc<str>, ids: &mut Vec<u64>) {
        for id in ids.drain(..) {
            self.storage.submit(Op::DeleteMessage(client_id.clone(), id));
        }
    }

    fn retain(&self, message: &Arc<Message>) {
        // `$SYS` messages are neither counted, limited nor stored: the broker publishes
        // them again at every start.
        let sys = sys_topics::is_sys_topic(&message.topic);
        let mut retained = write(&self.retained);
        if message.payload.is_empty() {
            if retained.remove(&message.topic).is_some() && !sys {
                Counters::sub(&self.counters.retained, 1);
                self.storage.submit(Op::DeleteRetained(message.topic.clone()));
            }
            return;
        }
        let stored = Arc::new(Message {
            topic: message.topic.clone(),
            payload: message.payload.clone(),
            qos: message.qos,
            retain: true,
            properties: message.properties.clone(),
            publisher: message.publisher.clone(),
            expires_at: message.expires_at,
            frames: Default::default(),
        });
        if sys {
            retained.insert(&message.topic, stored);
            return;
        }
        if self.counters.retained.load(Ordering::Relaxed) >= self.config.limits.max_retained_messages as u64
            && retained.get(&message.topic).is_none()
        {
            Counters::add(&self.counters.dropped, 1);
            tracing::warn!(topic = %message.topic, "retained store full: message delivered but not retained");
            return;
        }
        if self.storage.is_persistent() {
            self.storage.submit(Op::PutRetained(message.topic.clone(), storage::encode_retained(&stored)));
        }
        if retained.insert(&message.topic, stored).is_none() {
            Counters::add(&self.counters.retained, 1);
        }
    }

    /// The retained messages matching `filter` (expired ones are removed).
    pub(crate) fn retained_matching(&self, filter: &str) -> Vec<Arc<Message>> {
        let now = Instant::now();
        let mut expired = Vec::new();
        let matching: Vec<Arc<Message>> = {
            let mut matching = Vec::new();
            read(&self.retained).matching(filter, &mut matching);
            matching
        }
        .into_iter()
        .filter(|m| {
            let live = !m.is_expired(now);
            if !live {
                expired.push(m.topic.clone());
            }
            live
        })
        .collect();
        if !expired.is_empty() {
            let mut retained = write(&self.retained);
            for topic in expired {
                if retained.get(&topic).is_some_and(|m| m.is_expired(now)) {
                    retained.remove(&topic);
                    Counters::sub(&self.counters.retained, 1);
                    self.storage.submit(Op::DeleteRetained(topic));
                }
            }
        }
        matching
    }

    /// Publishes a will on behalf of `client_id` (authenticated as `username`), if it may
    /// publish to the will's topic.
    pub(crate) fn publish_will(&self, client_id: &Arc<str>, username: Option<&str>, will: Will) {
        if !self.may_publish(client_id, username, &will.topic, "will") {
            return;
        }
        tracing::debug!(client_id = &**client_id, topic = %will.topic, "publishing will");
        let message = Message::from_will(will, client_id.clone(), self.config.limits.max_message_expiry);
        self.route(Arc::new(message));
    }

    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn sessions(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<Session>>> {
        lock(&self.sessions)
    }

    /// Ends a session: removes it from the session table (if it is still there), removes
    /// its subscriptions from the router and drops its queue.
    pub(crate) fn discard_session(&self, session: &Arc<Session>) {
        // Marked first, so that no delivery racing with the discard is stored after the
        // session's records are deleted.
        let (subscriptions, orphans): (Vec<ByteString>, Vec<Delivery>) = {
            let mut state = session.lock();
            state.discarded = true;
            let orphans = state.clear_queue(&self.counters);
            (std::mem::take(&mut state.subscriptions).into_keys().collect(), orphans)
        };
        {
            let mut sessions = self.sessions();
            if sessions.get(&session.client_id).is_some_and(|s| Arc::ptr_eq(s, session)) {
                sessions.remove(&session.client_id);
                self.storage.submit(Op::DeleteSession(session.client_id.clone()));
            }
        }
        if !subscriptions.is_empty() {
            let mut router = write(&self.router);
            for filter in &subscriptions {
                if let Ok(parsed) = crate::protocol::TopicFilter::parse(filter) {
                    router.unsubscribe(parsed.filter, parsed.share_group, session);
                }
            }
            Counters::sub(&self.counters.subscriptions, subscriptions.len() as u64);
        }
        // MQTT 5.0 §4.8.2: unacknowledged shared-subscription messages go to another member.
        for orphan in orphans {
            let Some(origin) = orphan.shared.clone() else { continue };
            let target = read(&self.router).pick_shared(&origin);
            match target {
                Some(target) => {
                    let delivery = Delivery {
                        qos: orphan.message.qos.min(target.qos),
                        retain: orphan.message.retain && target.retain_as_published,
                        subscription_ids: target.subscription_ids,
                        shared: target.shared,
                        store_id: 0,
                        message: orphan.message,
                    };
                    self.deliver(&target.session, delivery);
                }
                None => {
                    Counters::add(&self.counters.dropped, 1);
                    tracing::warn!(
                        topic = %orphan.message.topic,
                        group = &*origin.group,
                        "shared subscription message lost its last member: dropped"
                    );
                }
            }
        }
    }

    /// Stores a session's changed subscriptions. A session that ends with its connection
    /// (expiry 0) has no stored record to change (and deleting one would take the
    /// connection's stored will with it).
    pub(crate) fn persist_subscriptions(&self, session: &Session, state: &session::SessionState) {
        if state.expiry_interval > 0 {
            self.persist_session(session, state);
        }
    }

    /// Writes (or deletes, when it does not outlive its connection) a session's record.
    pub(crate) fn persist_session(&self, session: &Session, state: &session::SessionState) {
        if !self.storage.is_persistent() {
            return;
        }
        if state.expiry_interval == 0 || state.discarded {
            self.storage.submit(Op::DeleteSession(session.client_id.clone()));
            return;
        }
        let subscriptions: Vec<_> = state.subscriptions.iter().map(|(f, e)| (f.clone(), *e)).collect();
        let record = storage::encode_session(
            state.version,
            state.expiry_interval,
            state.connection.is_some(),
            &subscriptions,
            state.owner.username(),
        );
        self.storage.submit(Op::PutSession(session.client_id.clone(), record));
    }

    /// Rebuilds sessions, subscriptions, queues and retained messages read from storage.
    fn restore(&self, restored: storage::Restored) {
        for message in restored.retained {
            if !message.is_expired(Instant::now()) {
                let topic = message.topic.clone();
                write(&self.retained).insert(&topic, message);
                Counters::add(&self.counters.retained, 1);
            }
        }
        // The users of the sessions that expired while the broker was down, for their wills.
        let mut ended: HashMap<Arc<str>, Option<Arc<str>>> = HashMap::new();
        for (client_id, record, deliveries, incoming_qos2) in restored.sessions {
            let Some(left) = storage::expired_while_down(&record) else {
                self.storage.submit(Op::DeleteSession(client_id.clone()));
                ended.insert(client_id, record.username);
                continue;
            };
            let session = Arc::new(Session::new(client_id.clone(), record.version));
            let was_connected = record.disconnected_at == 0;
            {
                let mut state = session.lock();
                state.owner = Owner::Client(record.username);
                state.expiry_interval = record.expiry_interval;
                state.generation = 1;
                state.incoming_qos2 = incoming_qos2.into_iter().collect();
                for stored in deliveries {
                    match stored.state {
                        0 => state.restore_queued(stored.delivery, &self.counters),
                        s => state.inflight.push_back(Inflight {
                            packet_id: stored.packet_id,
                            delivery: stored.delivery,
                            state: if s == 2 { OutState::Released } else { OutState::Published },
                        }),
                    }
                }
                let mut router = write(&self.router);
                for (filter, entry) in record.subscriptions {
                    if let Ok(parsed) = crate::protocol::TopicFilter::parse(&filter) {
                        router.subscribe(parsed.filter, parsed.share_group, &session, entry);
                        Counters::add(&self.counters.subscriptions, 1);
                        state.subscriptions.insert(filter, entry);
                    }
                }
                if left != Duration::MAX {
                    let at = Instant::now() + left;
                    state.expires_at = Some(at);
                    self.schedule_expiry(at, client_id.clone(), state.generation);
                }
                if was_connected {
                    // Its connection ended with the crash: stored as disconnected now, so that
                    // another restart does not start its expiry over.
                    self.persist_session(&session, &state);
                }
            }
            self.sessions().insert(client_id, session);
        }
        // Wills that were waiting for their delay: due again at the same time. Wills of
        // connections that were open when the broker stopped (a crash): their connection
        // counts as closed now. Published now if the time has passed or their session ended.
        let now = Instant::now();
        for (client_id, will, due) in restored.wills {
            let session = self.sessions().get(&client_id).cloned();
            let (at, username) = match (&session, due) {
                (Some(_), Due::At(at)) => (Some(at), None),
                (None, Due::At(_)) => (None, ended.get(&client_id).cloned().flatten()),
                (Some(session), Due::AfterRestart { delay, username }) => {
                    let delay = delay.min(session.lock().expiry_interval);
                    ((delay > 0).then(|| now + Duration::from_secs(delay.into())), username)
                }
                (None, Due::AfterRestart { username, .. }) => (None, username),
            };
            match (session, at) {
                (Some(session), Some(due)) => {
                    // Stored again as waiting from now on, so that another restart keeps the
                    // time it is due rather than starting the delay over.
                    self.storage.submit(Op::PutWill(client_id.clone(), stored_will::encode(&will, due)));
                    let mut state = session.lock();
                    state.pending_will = Some(Box::new(session::PendingWill { will, due }));
                    self.schedule_will(due, client_id, state.generation);
                }
                _ => {
                    self.storage.submit(Op::DeleteWill(client_id.clone()));
                    self.publish_will(&client_id, username.as_deref(), will);
                }
            }
        }
    }

    fn schedule(&self, at: Instant, kind: TimerKind, client_id: Arc<str>, generation: u64) {
        lock(&self.timers).push(Reverse(Timer { at, generation, kind, client_id }));
        self.timers_changed.notify_one();
    }

    pub(crate) fn schedule_will(&self, at: Instant, client_id: Arc<str>, generation: u64) {
        self.schedule(at, TimerKind::Will, client_id, generation);
    }

    pub(crate) fn schedule_expiry(&self, at: Instant, client_id: Arc<str>, generation: u64) {
        self.schedule(at, TimerKind::SessionExpiry, client_id, generation);
    }

    fn fire(&self, timer: Timer) {
        let Some(session) = self.sessions().get(&timer.client_id).cloned() else { return };
        let (will, expire, owner) = {
            let mut state = session.lock();
            if state.generation != timer.generation || state.connection.is_some() {
                return;
            }
            match timer.kind {
                TimerKind::Will => {
                    let due = state.pending_will.as_ref().is_some_and(|w| w.due <= timer.at);
                    let will = if due { state.pending_will.take().map(|w| w.will) } else { None };
                    if will.is_some() {
                        self.storage.submit(Op::DeleteWill(session.client_id.clone()));
                    }
                    (will, false, state.owner.clone())
                }
                TimerKind::SessionExpiry => {
                    (state.pending_will.take().map(|w| w.will), true, state.owner.clone())
                }
            }
        };
        if let Some(will) = will {
            self.publish_will(&session.client_id, owner.username(), will);
        }
        if expire {
            tracing::debug!(client_id = &*session.client_id, "session expired");
            self.discard_session(&session);
        }
    }

    fn connection_started(&self) {
        self.active_connections.fetch_add(1, Ordering::AcqRel);
        let open = self.counters.connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.counters.connections_max.fetch_max(open, Ordering::Relaxed);
        Counters::add(&self.counters.connections_total, 1);
    }

    pub(crate) fn connection_finished(&self) {
        Counters::sub(&self.counters.connections, 1);
        if self.active_connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.connections_done.notify_waiters();
        }
    }
}

async fn sweeper(shared: Arc<Shared>) {
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        let next = {
            let mut timers = lock(&shared.timers);
            while timers.peek().is_some_and(|t| t.0.at <= now) {
                due.push(timers.pop().expect("peeked").0);
            }
            timers.peek().map(|t| t.0.at)
        };
        for timer in due {
            shared.fire(timer);
        }
        let sleep = match next {
            Some(at) => tokio::time::sleep_until(at.into()),
            None => tokio::time::sleep(Duration::from_secs(3600)),
        };
        tokio::select! {
            _ = shared.stop.wait() => break,
            _ = shared.timers_changed.notified() => {}
            _ = sleep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bindings share these across threads.
    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<BrokerHandle>();
        check::<BrokerBuilder>();
        check::<BrokerConfig>();
        check::<BrokerStats>();
        check::<BrokerError>();
        check::<ConfigAuthenticator>();
    }

    #[tokio::test]
    async fn persistence_needs_a_data_dir() {
        let mut config = BrokerConfig::default();
        config.storage.durability = Durability::Sync;
        let error =
            Broker::builder().config(config).bind(SocketAddr::from(([127, 0, 0, 1], 0))).start().await;
        assert!(matches!(error, Err(BrokerError::Config { .. })), "{error:?}");
    }
}
