//! The broker's stop signal: a flag and a [`Notify`], so that every connection can wait for
//! it with a small future (a `Notified`, no watch-channel receiver per connection).

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Set once when the broker shuts down; every waiter wakes.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopping: AtomicBool,
    notify: Notify,
}

impl Stop {
    /// Signals the stop (idempotent).
    pub(crate) fn trigger(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether the stop was signalled.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Resolves once the stop is signalled (at once if it already was).
    pub(crate) async fn wait(&self) {
        // Created before the flag is read: `notify_waiters` reaches every `Notified` that
        // exists when it runs, polled or not, so a stop between the two is not missed.
        let notified = self.notify.notified();
        if self.is_stopping() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_created_before_or_after_the_trigger_resolves() {
        let stop = std::sync::Arc::new(Stop::default());
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.wait().await }
        });
        tokio::task::yield_now().await;
        stop.trigger();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), stop.wait()).await.unwrap();
        assert!(stop.is_stopping());
    }
}
