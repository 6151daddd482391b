//! The [`Inbox`]: where a client's events and completions wait for the JS thread.
//!
//! Everything for JavaScript is queued here as an [`Item`]: events from the core's
//! dispatcher (through [`Sink`]) and the outcomes of operations (from the driver task). The
//! first item queued after a drain wakes the JS thread with one threadsafe call; the JS
//! side then takes everything queued so far (`drain`). The threadsafe function is strong
//! (keeps Node alive) while the client is open and is released when the client is closed,
//! so a closed client never keeps the process alive.
//!
//! Backpressure: events count as unconsumed from the moment they are queued until JS has
//! processed them (`settle`), or until a `messages()` consumer took them (`release`); while
//! [`EVENT_HIGH_WATER`] of them are unconsumed, the sink waits, and through the core's
//! bounded queue the socket is not read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use mqttkit::client::Message;
use mqttkit::dispatch::{Event, EventSink};
use napi::Status;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use tokio::sync::Notify;

use crate::events::Item;

/// How many unconsumed events the dispatcher may queue before it waits for the JS thread
/// (and so, through the core's bounded queue, before the socket stops being read).
const EVENT_HIGH_WATER: usize = 4096;

/// The threadsafe function that wakes the JS thread (called without arguments).
pub(crate) type Wake =
    ThreadsafeFunction<(), napi::bindgen_prelude::Unknown<'static>, (), Status, false, false, 0>;

/// Items waiting for the JS thread, and the means to wake it.
pub(crate) struct Inbox {
    queue: Mutex<Vec<Item>>,
    scheduled: AtomicBool,
    wake: Mutex<Option<Wake>>,
    /// Events queued and not consumed yet: not drained, drained but not settled, or held
    /// in a `messages()` queue. The sink waits while there are `EVENT_HIGH_WATER` of them.
    undrained_events: AtomicUsize,
    /// Events of the batch JS is processing (drained, not settled yet).
    in_hand: AtomicUsize,
    /// Signalled whenever JS consumed events (the sink waits for it above the high water).
    pub(crate) drained: Notify,
    /// Set once the driver has finished: the sink no longer waits.
    pub(crate) closed: AtomicBool,
    /// Signalled when the core drops the sink (every event was delivered).
    pub(crate) sink_dropped: Notify,
    acks: Mutex<HashMap<u32, Message>>,
    next_ack: AtomicU32,
}

/// Locks `mutex`, also after a panic elsewhere (the data stays consistent: every critical
/// section here is a single push, take or insert).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inbox {
    /// An empty inbox that wakes JS through `wake`.
    pub(crate) fn new(wake: Wake) -> Self {
        Inbox {
            queue: Mutex::new(Vec::with_capacity(256)),
            scheduled: AtomicBool::new(false),
            wake: Mutex::new(Some(wake)),
            undrained_events: AtomicUsize::new(0),
            in_hand: AtomicUsize::new(0),
            drained: Notify::new(),
            closed: AtomicBool::new(false),
            sink_dropped: Notify::new(),
            acks: Mutex::new(HashMap::new()),
            next_ack: AtomicU32::new(1),
        }
    }

    /// Queues `items` for the JS thread and wakes it if needed.
    pub(crate) fn push_all(&self, items: impl IntoIterator<Item = Item>) {
        lock(&self.queue).extend(items);
        self.schedule();
    }

    /// Queues `item` for the JS thread and wakes it if needed.
    pub(crate) fn push(&self, item: Item) {
        lock(&self.queue).push(item);
        self.schedule();
    }

    fn schedule(&self) {
        if !self.scheduled.swap(true, Ordering::AcqRel)
            && let Some(wake) = lock(&self.wake).as_ref()
        {
            // NonBlocking on an unbounded queue only fails while Node tears the environment
            // down; nothing is left to deliver to then.
            let _ = wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Takes everything queued (on the JS thread); the next item queued wakes JS again.
    pub(crate) fn take(&self) -> Vec<Item> {
        self.scheduled.store(false, Ordering::Release);
        std::mem::take(&mut *lock(&self.queue))
    }

    /// `events` events of a drained batch are in JS's hands until `settle`.
    pub(crate) fn hand_over(&self, events: usize) {
        if events > 0 {
            self.in_hand.fetch_add(events, Ordering::AcqRel);
        }
    }

    /// JS processed the drained batches: their events are consumed, except `held` messages
    /// that wait in `messages()` queues (given back by `consumed` once taken).
    pub(crate) fn settle(&self, held: usize) {
        let in_hand = self.in_hand.swap(0, Ordering::AcqRel);
        self.consumed(in_hand.saturating_sub(held));
    }

    /// `count` events were consumed: the sink may go on below the high water.
    pub(crate) fn consumed(&self, count: usize) {
        if count == 0 {
            return;
        }
        let _ = self
            .undrained_events
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |events| Some(events.saturating_sub(count)));
        self.drained.notify_waiters();
    }

    /// Releases the threadsafe function (after the last item): Node may exit.
    pub(crate) fn release_wake(&self) {
        lock(&self.wake).take();
    }

    /// The message of manual-ack token `token`, if it is not acknowledged yet.
    pub(crate) fn take_ack(&self, token: u32) -> Option<Message> {
        lock(&self.acks).remove(&token)
    }

    fn ack_token(&self, message: &Message) -> u32 {
        if !message.needs_ack() {
            return 0;
        }
        let mut token = self.next_ack.fetch_add(1, Ordering::Relaxed);
        if token == 0 {
            token = self.next_ack.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.acks).insert(token, message.clone());
        token
    }
}

/// The core's events into the inbox, with backpressure.
pub(crate) struct Sink(pub(crate) std::sync::Arc<Inbox>);

impl Drop for Sink {
    fn drop(&mut self) {
        self.0.sink_dropped.notify_one();
    }
}

impl EventSink for Sink {
    async fn deliver(&mut self, events: Vec<Event>) {
        let inbox = &self.0;
        inbox.undrained_events.fetch_add(events.len(), Ordering::AcqRel);
        inbox.push_all(events.into_iter().map(|event| {
            let token = match &event {
                Event::Message(message) => inbox.ack_token(message),
                _ => 0,
            };
            Item::Event(event, token)
        }));
        loop {
            let drained = inbox.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if inbox.undrained_events.load(Ordering::Acquire) < EVENT_HIGH_WATER
                || inbox.closed.load(Ordering::Acquire)
            {
                return;
            }
            drained.await;
        }
    }
}
