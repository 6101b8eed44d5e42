//! Retries of failed items within a pass: the delay before each (`--retry-delay`, doubled for
//! each next retry, capped at a minute, times a jitter factor in [0.5, 1) so that items failed
//! together do not come back together), and the queue of items waiting for theirs, soonest
//! first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::Item;

const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The items waiting for a retry.
pub(super) struct Retries {
    heap: BinaryHeap<Reverse<Pending>>,
    /// Keeps items due at the same instant in the order they failed.
    seq: u64,
    jitter: Jitter,
}

impl Retries {
    pub(super) fn new() -> Retries {
        Retries {
            heap: BinaryHeap::new(),
            seq: 0,
            jitter: Jitter::new(),
        }
    }

    /// The delay before retry number `n` (1 for the first).
    pub(super) fn delay(&mut self, base: Duration, n: u32) -> Duration {
        backoff(base, n, &mut self.jitter)
    }

    /// Hold `item` until `at`.
    pub(super) fn push(&mut self, item: Item, at: Instant) {
        self.seq += 1;
        self.heap.push(Reverse(Pending {
            at,
            seq: self.seq,
            item,
        }));
    }

    /// When the soonest item is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(p)| p.at)
    }

    /// The soonest item, due or not.
    pub(super) fn pop(&mut self) -> Option<Item> {
        self.heap.pop().map(|Reverse(p)| p.item)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// A failed item waiting for its retry.
struct Pending {
    at: Instant,
    seq: u64,
    item: Item,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A small generator for backoff jitter (no need for cryptographic randomness).
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Jitter(u64::from_le_bytes(seed) | 1)
    }
    /// A factor in [0.5, 1.0).
    fn factor(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        0.5 + (self.0 >> 11) as f64 / (1u64 << 53) as f64 / 2.0
    }
}

/// The delay before retry number `n` (1 for the first): base * 2^(n-1), capped, with jitter.
fn backoff(base: Duration, n: u32, jitter: &mut Jitter) -> Duration {
    let full = base
        .saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(MAX_BACKOFF);
    full.mul_f64(jitter.factor())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str) -> Item {
        Item {
            key: key.into(),
            data: "{}".into(),
            location: "1".into(),
            attempt: 2,
            prior: 0,
            first_error: None,
            last_failure: None,
            prior_result: crate::store::Prior::Nothing,
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let mut jitter = Jitter::new();
        let base = Duration::from_millis(200);
        for _ in 0..1000 {
            let first = backoff(base, 1, &mut jitter);
            assert!(
                first >= Duration::from_millis(100) && first < base,
                "{first:?}"
            );
            let third = backoff(base, 3, &mut jitter);
            assert!(
                third >= Duration::from_millis(400) && third < Duration::from_millis(800),
                "{third:?}"
            );
            let late = backoff(base, 40, &mut jitter);
            assert!(late >= MAX_BACKOFF / 2 && late < MAX_BACKOFF, "{late:?}");
        }
    }

    #[test]
    fn retries_come_back_soonest_first_and_in_order_when_due_together() {
        let mut retries = Retries::new();
        let now = Instant::now();
        retries.push(item("late"), now + Duration::from_secs(2));
        retries.push(item("a"), now + Duration::from_secs(1));
        retries.push(item("b"), now + Duration::from_secs(1));
        assert_eq!(retries.next_due(), Some(now + Duration::from_secs(1)));
        let order: Vec<String> = std::iter::from_fn(|| retries.pop())
            .map(|i| i.key)
            .collect();
        assert_eq!(order, ["a", "b", "late"]);
        assert!(retries.is_empty());
    }
}
