//! Persistence: sessions (expiry, subscriptions), queued and in-flight QoS 1/2 messages,
//! incoming QoS 2 state, wills waiting for their delay and retained messages in a redb
//! database under the data directory.
//!
//! The broker never touches the database itself: it submits [`Op`]s to one writer thread,
//! which applies everything that has arrived since its last commit in one write transaction
//! (group commit). Under `sync` durability a connection that must not acknowledge before
//! its writes are on disk takes a [`Storage::ticket`] and waits for it before writing the
//! acknowledgement; under `batched` the writer commits every `commit_interval_ms` and nobody
//! waits; under `memory` there is no database and every call is a no-op.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::config::{Durability, StorageConfig};
use super::error::BrokerError;
use super::session::{Delivery, Message, OutState, SharedOrigin, SubscriptionEntry};
use crate::protocol::{Packet, ProtocolVersion, Publish, QoS, RetainHandling, SubscriptionOptions, Will};

const SESSIONS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("sessions");
const MESSAGES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("messages");
const RETAINED: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("retained");
const QOS2: TableDefinition<'_, (&str, u16), ()> = TableDefinition::new("incoming_qos2");
const WILLS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("wills");

/// Format version of stored records.
const FORMAT: u8 = 1;

/// One change to the stored state.
#[derive(Debug)]
pub(crate) enum Op {
    PutSession(Arc<str>, Vec<u8>),
    /// Deletes the session with its messages, QoS 2 state and pending will.
    DeleteSession(Arc<str>),
    PutMessage(Arc<str>, u64, Vec<u8>),
    /// Marks a stored message as in flight with this packet identifier and state.
    SetState(Arc<str>, u64, u8, u16),
    DeleteMessage(Arc<str>, u64),
    PutRetained(ByteString, Vec<u8>),
    DeleteRetained(ByteString),
    PutQos2(Arc<str>, u16),
    DeleteQos2(Arc<str>, u16),
    /// A will waiting for its Will Delay Interval ([`super::stored_will`]).
    PutWill(Arc<str>, Vec<u8>),
    DeleteWill(Arc<str>),
    /// Answered once everything submitted before it is committed: `true` if the commit
    /// succeeded.
    Barrier(oneshot::Sender<bool>),
    /// Commit what is pending and stop the writer.
    Close,
}

/// The handle the broker submits changes through.
#[derive(Debug)]
pub(crate) struct Storage {
    tx: Option<mpsc::UnboundedSender<Op>>,
    durability: Durability,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
    next_id: AtomicU64,
}

/// A session as stored.
#[derive(Debug, Clone)]
pub(crate) struct SessionRecord {
    pub(crate) version: ProtocolVersion,
    pub(crate) expiry_interval: u32,
    /// Unix seconds of the disconnection (0: was connected when written).
    pub(crate) disconnected_at: u64,
    pub(crate) subscriptions: Vec<(ByteString, SubscriptionEntry)>,
    /// The user the session's client authenticated as (absent in records written before
    /// it was stored: anonymous).
    pub(crate) username: Option<Arc<str>>,
}

/// A stored delivery and its flow state.
#[derive(Debug)]
pub(crate) struct StoredDelivery {
    pub(crate) delivery: Delivery,
    /// 0 queued, 1 PUBLISH sent, 2 PUBREL sent.
    pub(crate) state: u8,
    pub(crate) packet_id: u16,
}

/// A stored session with its messages (in order) and pending incoming QoS 2 identifiers.
pub(crate) type RestoredSession = (Arc<str>, SessionRecord, Vec<StoredDelivery>, Vec<u16>);

/// Everything read back at start.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    pub(crate) sessions: Vec<RestoredSession>,
    pub(crate) retained: Vec<Arc<Message>>,
    /// Stored wills by client identifier, with when they are due.
    pub(crate) wills: Vec<(Arc<str>, Will, super::stored_will::Due)>,
}

fn db_error(context: &str, error: impl std::fmt::Display) -> BrokerError {
    BrokerError::Io { context: context.to_owned(), source: std::io::Error::other(error.to_string()) }
}

impl Storage {
    /// No storage (`durability = "memory"`).
    pub(crate) fn memory() -> Self {
        Storage {
            tx: None,
            durability: Durability::Memory,
            writer: std::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    /// Opens (or creates) the database and starts the writer; returns what was stored.
    pub(crate) fn open(config: &StorageConfig) -> Result<(Self, Restored), BrokerError> {
        let dir = config.data_dir.as_deref().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|source| BrokerError::Io { context: format!("creating {}", dir.display()), source })?;
        let path = dir.join("mqttkit.redb");
        let db = Database::create(&path).map_err(|e| db_error(&format!("opening {}", path.display()), e))?;
        {
            // Make sure the tables exist.
            let txn = db.begin_write().map_err(|e| db_error("storage", e))?;
            txn.open_table(SESSIONS).map_err(|e| db_error("storage", e))?;
            txn.open_table(MESSAGES).map_err(|e| db_error("storage", e))?;
            txn.open_table(RETAINED).map_err(|e| db_error("storage", e))?;
            txn.open_table(QOS2).map_err(|e| db_error("storage", e))?;
            txn.open_table(WILLS).map_err(|e| db_error("storage", e))?;
            txn.commit().map_err(|e| db_error("storage", e))?;
        }
        let (restored, max_id) =
            restore(&db).map_err(|e| db_error(&format!("reading {}", path.display()), e))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let interval = match config.durability {
            Durability::Batched => {
                Some(Duration::from_millis(config.commit_interval_ms.unwrap_or(10).max(1)))
            }
            _ => None,
        };
        let writer = std::thread::Builder::new()
            .name("mqttkit-storage".into())
            .spawn(move || writer(db, rx, interval))
            .map_err(|source| BrokerError::Io { context: "starting the storage thread".into(), source })?;
        tracing::info!(path = %path.display(), durability = ?config.durability, sessions = restored.sessions.len(), retained = restored.retained.len(), "storage opened");
        Ok((
            Storage {
                tx: Some(tx),
                durability: config.durability,
                writer: std::sync::Mutex::new(Some(writer)),
                next_id: AtomicU64::new(max_id + 1),
            },
            restored,
        ))
    }

    /// Whether anything is stored at all.
    pub(crate) fn is_persistent(&self) -> bool {
        self.tx.is_some()
    }

    /// Whether acknowledgements wait for the disk.
    pub(crate) fn is_sync(&self) -> bool {
        self.durability == Durability::Sync && self.tx.is_some()
    }

    /// How many message keys were handed out (to tell whether a call stored anything).
    pub(crate) fn issued(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed)
    }

    /// A fresh message key.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Submits a change (in order with every other submitted change).
    pub(crate) fn submit(&self, op: Op) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(op);
        }
    }

    /// Resolves when everything submitted so far is committed (`sync` only; `None` otherwise).
    pub(crate) fn ticket(&self) -> Option<oneshot::Receiver<bool>> {
        if !self.is_sync() {
            return None;
        }
        let (done, wait) = oneshot::channel();
        self.submit(Op::Barrier(done));
        Some(wait)
    }

    /// Commits what is pending and stops the writer thread (joining it).
    pub(crate) fn close(&self) {
        self.submit(Op::Close);
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

fn writer(db: Database, mut rx: mpsc::UnboundedReceiver<Op>, interval: Option<Duration>) {
    let mut closing = false;
    while !closing {
        let Some(first) = rx.blocking_recv() else { break };
        let mut batch = vec![first];
        while batch.len() < 50_000 {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut barriers = Vec::new();
        let changes = batch.iter().filter(|op| !matches!(op, Op::Barrier(_) | Op::Close)).count();
        let mut committed = true;
        if changes > 0
            && let Err(error) = apply(&db, &mut batch)
        {
            tracing::error!(%error, "storage commit failed: the writes of this batch are lost");
            committed = false;
        }
        for op in batch {
            match op {
                Op::Barrier(done) => barriers.push(done),
                Op::Close => closing = true,
                _ => {}
            }
        }
        for done in barriers {
            let _ = done.send(committed);
        }
        if let Some(interval) = interval
            && !closing
        {
            std::thread::sleep(interval);
        }
    }
}

fn apply(db: &Database, batch: &mut [Op]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut sessions = txn.open_table(SESSIONS)?;
        let mut messages = txn.open_table(MESSAGES)?;
        let mut retained = txn.open_table(RETAINED)?;
        let mut qos2 = txn.open_table(QOS2)?;
        let mut wills = txn.open_table(WILLS)?;
        for op in batch.iter() {
            match op {
                Op::PutSession(id, record) => {
                    sessions.insert(&**id, record.as_slice())?;
                }
                Op::DeleteSession(id) => {
                    sessions.remove(&**id)?;
                    messages.retain_in((&**id, 0u64)..=(&**id, u64::MAX), |_, _| false)?;
                    qos2.retain_in((&**id, 0u16)..=(&**id, u16::MAX), |_, _| false)?;
                    wills.remove(&**id)?;
                }
                Op::PutMessage(id, key, record) => {
                    messages.insert((&**id, *key), record.as_slice())?;
                }
                Op::SetState(id, key, state, packet_id) => {
                    let patched = messages.get((&**id, *key))?.map(|value| {
                        let mut bytes = value.value().to_vec();
                        if bytes.len() >= 4 {
                            bytes[1] = *state;
                            bytes[2..4].copy_from_slice(&packet_id.to_be_bytes());
                        }
                        bytes
                    });
                    if let Some(bytes) = patched {
                        messages.insert((&**id, *key), bytes.as_slice())?;
                    }
                }
                Op::DeleteMessage(id, key) => {
                    messages.remove((&**id, *key))?;
                }
                Op::PutRetained(topic, record) => {
                    retained.insert(&**topic, record.as_slice())?;
                }
                Op::DeleteRetained(topic) => {
                    retained.remove(&**topic)?;
                }
                Op::PutQos2(id, packet_id) => {
                    qos2.insert((&**id, *packet_id), ())?;
                }
                Op::DeleteQos2(id, packet_id) => {
                    qos2.remove((&**id, *packet_id))?;
                }
                Op::PutWill(id, record) => {
                    wills.insert(&**id, record.as_slice())?;
                }
                Op::DeleteWill(id) => {
                    wills.remove(&**id)?;
                }
                Op::Barrier(_) | Op::Close => {}
            }
        }
    }
    txn.commit()?;
    Ok(())
}

fn restore(db: &Database) -> Result<(Restored, u64), redb::Error> {
    let txn = db.begin_read()?;
    let sessions = txn.open_table(SESSIONS)?;
    let messages = txn.open_table(MESSAGES)?;
    let retained = txn.open_table(RETAINED)?;
    let qos2 = txn.open_table(QOS2)?;
    let wills = txn.open_table(WILLS)?;
    let mut restored = Restored::default();
    let mut max_id = 0;
    for entry in sessions.iter()? {
        let (key, value) = entry?;
        let client_id: Arc<str> = Arc::from(key.value());
        let Some(record) = decode_session(value.value()) else {
            tracing::warn!(client_id = &*client_id, "unreadable stored session skipped");
            continue;
        };
        let mut deliveries = Vec::new();
        for entry in messages.range((&*client_id, 0u64)..=(&*client_id, u64::MAX))? {
            let (key, value) = entry?;
            let id = key.value().1;
            max_id = max_id.max(id);
            match decode_delivery(value.value()) {
                Some(mut stored) => {
                    stored.delivery.store_id = id;
                    deliveries.push(stored);
                }
                None => tracing::warn!(client_id = &*client_id, id, "unreadable stored message skipped"),
            }
        }
        let mut pending = Vec::new();
        for entry in qos2.range((&*client_id, 0u16)..=(&*client_id, u16::MAX))? {
            pending.push(entry?.0.value().1);
        }
        restored.sessions.push((client_id, record, deliveries, pending));
    }
    for entry in retained.iter()? {
        let (_, value) = entry?;
        if let Some(stored) = decode_delivery(value.value()) {
            restored.retained.push(stored.delivery.message);
        }
    }
    for entry in wills.iter()? {
        let (key, value) = entry?;
        match super::stored_will::decode(value.value()) {
            Some((will, due)) => restored.wills.push((Arc::from(key.value()), will, due)),
            None => tracing::warn!(client_id = key.value(), "unreadable stored will skipped"),
        }
    }
    Ok((restored, max_id))
}

// ---- record encoding -------------------------------------------------------------------

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len]);
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn str(&mut self) -> Option<&'a str> {
        let len = usize::from(self.u16()?);
        std::str::from_utf8(self.take(len)?).ok()
    }
}

fn options_byte(options: &SubscriptionOptions) -> u8 {
    options.qos as u8
        | (u8::from(options.no_local) << 2)
        | (u8::from(options.retain_as_published) << 3)
        | ((options.retain_handling as u8) << 4)
}

fn options_from(byte: u8) -> Option<SubscriptionOptions> {
    Some(SubscriptionOptions {
        qos: QoS::from_u8(byte & 0x03)?,
        no_local: byte & 0x04 != 0,
        retain_as_published: byte & 0x08 != 0,
        retain_handling: match (byte >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNewSubscription,
            _ => RetainHandling::DoNotSend,
        },
    })
}

/// Encodes a session record; `connected` sessions are written with `disconnected_at` 0.
pub(crate) fn encode_session(
    version: ProtocolVersion,
    expiry_interval: u32,
    connected: bool,
    subscriptions: &[(ByteString, SubscriptionEntry)],
    username: Option<&str>,
) -> Vec<u8> {
    let mut out = vec![FORMAT, version.level()];
    out.extend_from_slice(&expiry_interval.to_be_bytes());
    out.extend_from_slice(&(if connected { 0 } else { unix_now() }).to_be_bytes());
    out.extend_from_slice(&(subscriptions.len() as u32).to_be_bytes());
    for (filter, entry) in subscriptions {
        put_str(&mut out, filter);
        out.push(options_byte(&entry.options));
        out.extend_from_slice(&entry.id.unwrap_or(0).to_be_bytes());
    }
    if let Some(username) = username {
        out.push(1);
        put_str(&mut out, username);
    }
    out
}

fn decode_session(bytes: &[u8]) -> Option<SessionRecord> {
    let mut r = In(bytes);
    if r.u8()? != FORMAT {
        return None;
    }
    let version = ProtocolVersion::from_level(r.u8()?).ok()?;
    let expiry_interval = r.u32()?;
    let disconnected_at = r.u64()?;
    let count = r.u32()?;
    let mut subscriptions = Vec::new();
    for _ in 0..count {
        let filter = ByteString::from(r.str()?);
        let options = options_from(r.u8()?)?;
        let id = r.u32()?;
        subscriptions.push((filter, SubscriptionEntry { options, id: (id != 0).then_some(id) }));
    }
    let username = match r.u8() {
        Some(1) => Some(Arc::from(r.str()?)),
        _ => None,
    };
    Some(SessionRecord { version, expiry_interval, disconnected_at, subscriptions, username })
}

/// An instant as Unix milliseconds (instants in the past give now).
pub(crate) fn instant_to_unix_ms(at: Instant) -> u64 {
    let now = Instant::now();
    let base = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let offset = at.saturating_duration_since(now);
    (base + offset).as_millis() as u64
}

/// Unix milliseconds as an instant (times in the past give now).
pub(crate) fn unix_ms_to_instant(ms: u64) -> Instant {
    let base = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let target = Duration::from_millis(ms);
    Instant::now() + target.saturating_sub(base)
}

/// Encodes a delivery: a fixed header (format, state, packet id, delivery QoS, retain,
/// expiry), the publisher and shared origin, then the message as an MQTT 5 PUBLISH.
pub(crate) fn encode_delivery(delivery: &Delivery, state: u8, packet_id: u16) -> Vec<u8> {
    let message = &delivery.message;
    let mut out = vec![FORMAT, state];
    out.extend_from_slice(&packet_id.to_be_bytes());
    out.push(delivery.qos as u8);
    out.push(u8::from(delivery.retain));
    out.extend_from_slice(&message.expires_at.map_or(0, instant_to_unix_ms).to_be_bytes());
    put_str(&mut out, message.publisher.as_deref().unwrap_or(""));
    match &delivery.shared {
        Some(origin) => {
            out.push(1);
            put_str(&mut out, &origin.group);
            put_str(&mut out, &origin.filter);
        }
        None => out.push(0),
    }
    let mut properties = message.properties.clone();
    properties.subscription_identifiers.clone_from(&delivery.subscription_ids);
    let publish = Publish {
        dup: false,
        qos: message.qos,
        retain: message.retain,
        topic: message.topic.clone(),
        packet_id: 1,
        properties,
        payload: message.payload.clone(),
    };
    let mut packet = BytesMut::new();
    if let Err(error) = Packet::Publish(publish).encode(ProtocolVersion::V5, &mut packet) {
        tracing::error!(%error, "cannot encode a message for storage");
    }
    out.extend_from_slice(&packet);
    out
}

fn decode_delivery(bytes: &[u8]) -> Option<StoredDelivery> {
    let mut r = In(bytes);
    if r.u8()? != FORMAT {
        return None;
    }
    let state = r.u8()?;
    let packet_id = r.u16()?;
    let qos = QoS::from_u8(r.u8()?)?;
    let retain = r.u8()? != 0;
    let expires_ms = r.u64()?;
    let publisher = r.str()?;
    let shared = match r.u8()? {
        1 => Some(SharedOrigin { group: Arc::from(r.str()?), filter: Arc::from(r.str()?) }),
        _ => None,
    };
    let Packet::Publish(mut publish) =
        Packet::decode(Bytes::copy_from_slice(r.0), ProtocolVersion::V5).ok()?
    else {
        return None;
    };
    let subscription_ids = std::mem::take(&mut publish.properties.subscription_identifiers);
    let message = Message {
        topic: publish.topic,
        payload: publish.payload,
        qos: publish.qos,
        retain: publish.retain,
        properties: publish.properties,
        publisher: (!publisher.is_empty()).then(|| Arc::from(publisher)),
        expires_at: (expires_ms != 0).then(|| unix_ms_to_instant(expires_ms)),
        frames: Default::default(),
    };
    Some(StoredDelivery {
        delivery: Delivery { message: Arc::new(message), qos, retain, subscription_ids, shared, store_id: 0 },
        state,
        packet_id,
    })
}

/// The stored form of a retained message.
pub(crate) fn encode_retained(message: &Arc<Message>) -> Vec<u8> {
    let delivery = Delivery {
        message: message.clone(),
        qos: message.qos,
        retain: true,
        subscription_ids: Vec::new(),
        shared: None,
        store_id: 0,
    };
    encode_delivery(&delivery, 0, 0)
}

/// The flow state byte of an in-flight message.
pub(crate) fn state_byte(state: OutState) -> u8 {
    match state {
        OutState::Published => 1,
        OutState::Released => 2,
    }
}

/// What is left of the session record's interval, or `None` if it ran out while the broker
/// was down (to the second: the record keeps whole seconds).
pub(crate) fn expired_while_down(record: &SessionRecord) -> Option<Duration> {
    if record.expiry_interval == u32::MAX {
        return Some(Duration::MAX);
    }
    let since =
        if record.disconnected_at == 0 { 0 } else { unix_now().saturating_sub(record.disconnected_at) };
    u64::from(record.expiry_interval).checked_sub(since).filter(|&left| left > 0).map(Duration::from_secs)
}
