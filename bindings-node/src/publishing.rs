//! The plain publications of one `publishBatch` call and the wait for their outcomes.
//!
//! A batch is handed over publication by publication like any operation (see `driver.rs`),
//! but its outcomes are awaited by one [`PublishWaits`] future per up to 32 publications
//! instead of one future and one timer per publication: the publications are submitted
//! without a core timeout and the client's publish timeout is kept here, with one timer
//! armed for the earliest deadline still open. Each time the future is woken, it reports
//! every outcome that has arrived, in submission order, to the inbox at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use mqttkit::client::{Pending, PublishResult};
use mqttkit::protocol::QoS;
use mqttkit::{Error, Operation};
use tokio::time::{Instant, Sleep};

use crate::events::{Item, Reply};
use crate::inbox::Inbox;

/// One publication of a `publishBatch` call: no properties, the client's publish timeout.
pub(crate) struct PlainPublish {
    /// The request id (0: fire-and-forget).
    pub(crate) id: u32,
    /// The topic (shared by the publications of a batch that repeat it).
    pub(crate) topic: ByteString,
    /// The payload, a view into the batch's one payload buffer.
    pub(crate) payload: Bytes,
    /// QoS.
    pub(crate) qos: QoS,
    /// RETAIN.
    pub(crate) retain: bool,
}

type Wait = Pin<Box<dyn Future<Output = Result<PublishResult, Error>> + Send>>;

/// A publication handed over whose outcome is still to come.
struct Open {
    id: u32,
    /// When it times out (`None`: never).
    deadline: Option<Instant>,
    wait: Wait,
}

/// The outcomes of one batch's wait-for-ack publications (see the module docs); the
/// future ends once every one of them was reported.
pub(crate) struct PublishWaits {
    /// In submission order, so deadlines never decrease; `None` once reported.
    open: Vec<Option<Open>>,
    /// Every entry before this one was reported.
    first: usize,
    /// Entries not reported yet.
    left: usize,
    /// The client's publish timeout.
    limit: Option<Duration>,
    /// Armed at a deadline no later than the earliest one still open.
    timer: Option<Pin<Box<Sleep>>>,
    /// Outcomes on their way to the inbox (kept for its capacity).
    finished: Vec<Item>,
    inbox: Arc<Inbox>,
}

impl PublishWaits {
    /// An empty batch for `capacity` publications timing out after `limit`.
    pub(crate) fn new(capacity: usize, limit: Option<Duration>, inbox: Arc<Inbox>) -> Self {
        let open = Vec::with_capacity(capacity);
        PublishWaits { open, first: 0, left: 0, limit, timer: None, finished: Vec::new(), inbox }
    }

    /// Adds request `id`, handed over at `handed_over`: its timeout counts from then.
    pub(crate) fn push(&mut self, id: u32, pending: Pending<PublishResult>, handed_over: Instant) {
        let deadline = self.limit.and_then(|limit| handed_over.checked_add(limit));
        self.open.push(Some(Open { id, deadline, wait: Box::pin(pending.wait()) }));
        self.left += 1;
    }

    /// How many publications were added.
    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }

    /// Reports `result` for entry `index`.
    fn report(&mut self, index: usize, result: Result<PublishResult, Error>) {
        if let Some(open) = self.open[index].take() {
            if self.finished.capacity() == 0 {
                self.finished.reserve(self.left);
            }
            self.finished.push(Item::Done(open.id, result.map(Reply::Publish)));
            self.left -= 1;
        }
    }

    /// Moves `first` past the entries reported.
    fn skip_reported(&mut self) {
        while self.first < self.open.len() && self.open[self.first].is_none() {
            self.first += 1;
        }
    }

    /// Polls every open entry; reports those that are done.
    fn poll_open(&mut self, cx: &mut Context<'_>) {
        for index in self.first..self.open.len() {
            let Some(open) = &mut self.open[index] else { continue };
            if let Poll::Ready(result) = open.wait.as_mut().poll(cx) {
                self.report(index, result);
            }
        }
        self.skip_reported();
    }

    /// Fails the entries whose deadline has passed; re-arms the timer for the rest. Returns
    /// whether the timer is armed and waiting.
    fn poll_deadlines(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(limit) = self.limit else { return true };
        let Some(Some(Open { deadline: Some(earliest), .. })) = self.open.get(self.first) else {
            return true;
        };
        let earliest = *earliest;
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(earliest)));
        // A timer armed for an entry reported since stays armed (fewer timer updates): it
        // fires early, and is re-armed then.
        if timer.is_elapsed() && timer.deadline() < earliest {
            timer.as_mut().reset(earliest);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return true;
        }
        // The timer fired: every entry due by its deadline, or by now, has timed out.
        let due = Instant::now().max(timer.deadline());
        for index in self.first..self.open.len() {
            match &self.open[index] {
                Some(Open { deadline: Some(deadline), .. }) if *deadline <= due => {
                    self.report(index, Err(Error::Timeout { operation: Operation::Publish, timeout: limit }));
                }
                Some(_) => break,
                None => {}
            }
        }
        self.skip_reported();
        false
    }
}

impl Future for PublishWaits {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.poll_open(cx);
        while this.left > 0 && !this.poll_deadlines(cx) {}
        if !this.finished.is_empty() {
            this.inbox.push_all(this.finished.drain(..));
        }
        if this.left == 0 { Poll::Ready(()) } else { Poll::Pending }
    }
}
