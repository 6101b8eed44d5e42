//! Going on over a new connection when the PostgreSQL server dropped one (a restart, a
//! terminated backend): a statement outside a transaction is sent again by the connection
//! itself (pg_conn.rs); a transaction, which went with the connection, is run again from its
//! start by the store operation through [`Reconnecting`].

use std::time::Duration;

use super::{Store, StoreError};

/// Retries of a transaction over a new connection after the server dropped one (the
/// transaction went with it): for a member of a pass as long as its lease (after that the
/// others hold its items), else for 10 seconds; a try every half second.
pub(super) struct Reconnecting {
    until: Option<std::time::Instant>,
}

impl Store {
    pub(super) fn reconnecting(&self) -> Reconnecting {
        let lease = self.claimant.borrow().as_ref().map(|c| c.lease_ms);
        let wait = lease.map_or(Duration::from_secs(10), |ms| {
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        Reconnecting {
            until: Some(std::time::Instant::now() + wait),
        }
    }
}

impl Reconnecting {
    /// Whether to try again after `error`: a dropped connection within the lease, replaced by
    /// a new one (or not yet: then the next try fails the same way).
    pub(super) fn after(&mut self, store: &Store, error: &StoreError) -> bool {
        let in_time = self.until.is_some_and(|t| std::time::Instant::now() < t);
        if !(in_time && matches!(error, StoreError::Disconnected { .. })) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
        #[cfg(feature = "postgres")]
        let _ = store.reconnect();
        #[cfg(not(feature = "postgres"))]
        let _ = store;
        true
    }
}
