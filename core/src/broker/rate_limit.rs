//! Rate limits (`limits.max_publish_rate`, `limits.max_publish_bytes_rate`,
//! `limits.max_connection_rate`): token buckets that pace what one connection sends and how
//! fast a listener accepts. Over a limit the broker stops reading from that connection (or
//! accepting on that listener) until the bucket has refilled, so the peer is slowed down by
//! TCP flow control: nothing is dropped or refused. Each pause is counted in
//! [`BrokerStats::throttled`](super::BrokerStats::throttled).

use std::time::{Duration, Instant};

use super::config::Limits;

/// A token bucket holding at most one second's worth of tokens, refilled continuously.
/// Taking may overdraw it: the debt is paid off before the bucket allows more.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket refilling `per_second` tokens a second (`per_second` ≥ 1).
    pub(crate) fn new(per_second: u32, now: Instant) -> TokenBucket {
        let per_second = f64::from(per_second.max(1));
        TokenBucket { per_second, tokens: per_second, updated: now }
    }

    /// Takes `n` tokens, overdrawing if there are fewer.
    pub(crate) fn take(&mut self, n: u64, now: Instant) {
        self.refill(now);
        self.tokens -= n as f64;
    }

    /// How long until at least one token is there; `None` if there is one now.
    pub(crate) fn wait(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        (self.tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        self.updated = now;
    }
}

/// The publish limits of one connection.
#[derive(Debug)]
pub(crate) struct Throttle {
    publishes: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
    /// Whether the last [`Throttle::pause`] asked for a pause.
    paused: bool,
}

impl Throttle {
    /// The connection limits configured in `limits`; `None` when there are none, so that an
    /// unlimited connection carries no state and pays one `Option` check.
    pub(crate) fn from_limits(limits: &Limits) -> Option<Box<Throttle>> {
        let now = Instant::now();
        let publishes = limits.max_publish_rate.map(|rate| TokenBucket::new(rate, now));
        let bytes = limits.max_publish_bytes_rate.map(|rate| TokenBucket::new(rate, now));
        (publishes.is_some() || bytes.is_some())
            .then(|| Box::new(Throttle { publishes, bytes, paused: false }))
    }

    /// Counts one PUBLISH received.
    pub(crate) fn on_publish(&mut self) {
        if let Some(bucket) = &mut self.publishes {
            bucket.take(1, Instant::now());
        }
    }

    /// Counts `n` bytes read.
    pub(crate) fn on_read(&mut self, n: usize) {
        if let Some(bucket) = &mut self.bytes {
            bucket.take(n as u64, Instant::now());
        }
    }

    /// Whether the next packet may be handled now (the PUBLISH rate allows one more).
    pub(crate) fn may_handle(&mut self) -> bool {
        self.publishes.as_mut().is_none_or(|bucket| bucket.wait(Instant::now()).is_none())
    }

    /// How long the connection must pause before it handles or reads more, and whether
    /// this pause is a new one (not the rest of a pause that something interrupted); `None`
    /// if it need not pause.
    pub(crate) fn pause(&mut self) -> Option<(Duration, bool)> {
        let now = Instant::now();
        let publishes = self.publishes.as_mut().and_then(|bucket| bucket.wait(now));
        let bytes = self.bytes.as_mut().and_then(|bucket| bucket.wait(now));
        let pause = publishes.max(bytes).map(|pause| (pause, !self.paused));
        self.paused = pause.is_some();
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_bucket_allows_one_seconds_burst_then_paces_at_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100, start);
        for _ in 0..99 {
            bucket.take(1, start);
            assert_eq!(bucket.wait(start), None);
        }
        bucket.take(1, start);
        // Empty: the next token is 10 ms away.
        let wait = bucket.wait(start).expect("empty bucket");
        assert!(wait > 9 * MS && wait <= 10 * MS, "{wait:?}");
        assert_eq!(bucket.wait(start + 10 * MS), None);
    }

    #[test]
    fn an_overdrawn_bucket_waits_until_its_debt_is_paid() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1000, start);
        bucket.take(3000, start);
        // -2000 tokens: 2.001 s until one is there again.
        let wait = bucket.wait(start).expect("overdrawn");
        assert!(wait > Duration::from_millis(2000) && wait <= Duration::from_millis(2001), "{wait:?}");
        assert!(bucket.wait(start + Duration::from_millis(1500)).is_some());
        assert_eq!(bucket.wait(start + Duration::from_millis(2001)), None);
    }

    #[test]
    fn an_idle_bucket_refills_to_one_second_and_no_more() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        bucket.take(10, start);
        let later = start + Duration::from_secs(60);
        bucket.take(10, later);
        assert!(bucket.wait(later).is_some(), "a minute idle must not bank more than one second");
    }

    #[test]
    fn no_limits_mean_no_throttle() {
        assert!(Throttle::from_limits(&Limits::default()).is_none());
        let limits = Limits { max_publish_bytes_rate: Some(1000), ..Limits::default() };
        let mut throttle = Throttle::from_limits(&limits).expect("a byte limit");
        throttle.on_publish();
        assert!(throttle.may_handle(), "no PUBLISH limit");
        assert_eq!(throttle.pause(), None);
        throttle.on_read(5000);
        assert!(matches!(throttle.pause(), Some((_, true))), "a new pause");
        assert!(matches!(throttle.pause(), Some((_, false))), "the same pause, resumed");
    }
}
