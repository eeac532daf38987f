//! A device's batches taken in chain order on one node: a batch that arrives while the batch
//! before it is still being checked or stored here waits for it, instead of being refused with
//! `chain_gap`.
//!
//! A device sends its next batch before the one ahead is answered, over another connection, so
//! the registry checks one batch (hashes, signatures) while it stores the one before. Only the
//! store's append must come in chain order, and the store still decides it: this only makes a
//! batch wait, a bounded time, while a batch of the same device is in progress on this node and
//! the device's head (as this node last stored it) is short of the batch's first record. With
//! nothing of the device in progress here (the batch ahead went to another node, or was never
//! sent), it does not wait at all, and the store answers `chain_gap` as it always did.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest a batch waits for the one before it. Checking and storing a batch takes
/// milliseconds; past this the device is told `chain_gap` and sends it again.
pub const PREDECESSOR_WAIT: Duration = Duration::from_secs(5);

/// What this node knows of one device's batches.
#[derive(Debug, Default)]
struct Progress {
    /// Batches of the device between arrival and answer here.
    in_progress: usize,
    /// The last seq this node stored for the device (0: none seen).
    head: u64,
}

/// The devices with a batch in progress on this node.
#[derive(Debug, Default)]
pub struct ChainOrder {
    devices: Mutex<HashMap<String, Progress>>,
    changed: Condvar,
}

/// A batch in progress: the device's count goes down (and waiters are woken) when it drops,
/// answered or not.
#[derive(Debug)]
pub struct InProgress {
    order: Arc<ChainOrder>,
    device: String,
}

impl ChainOrder {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Progress>> {
        // A thread that panicked holding it left counts, not broken invariants: go on.
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a batch of `device` as in progress until the guard drops.
    pub fn begin(order: &Arc<Self>, device: &str) -> InProgress {
        order
            .lock()
            .entry(device.to_string())
            .or_default()
            .in_progress += 1;
        InProgress {
            order: order.clone(),
            device: device.to_string(),
        }
    }

    /// `device`'s chain stands at `head` on this node: its batches waiting for it may go on.
    pub fn stored(&self, device: &str, head: u64) {
        if let Some(progress) = self.lock().get_mut(device) {
            progress.head = progress.head.max(head);
        }
        self.changed.notify_all();
    }

    /// Waits, at most `limit`, until this node has stored `device`'s chain up to `seq`, while
    /// another batch of the device is in progress here; `stored_head` is where the store
    /// said it stands. Whether the wait ended with the chain there.
    pub fn wait_for(&self, device: &str, seq: u64, stored_head: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut devices = self.lock();
        loop {
            let Some(progress) = devices.get_mut(device) else {
                return false;
            };
            progress.head = progress.head.max(stored_head);
            if progress.head >= seq {
                return true;
            }
            // This batch is one of them: with no other, nothing here can fill the gap.
            let now = Instant::now();
            if progress.in_progress < 2 || now >= deadline {
                return false;
            }
            devices = match self.changed.wait_timeout(devices, deadline - now) {
                Ok((devices, _)) => devices,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let mut devices = self.order.lock();
        if let Some(progress) = devices.get_mut(&self.device) {
            progress.in_progress -= 1;
            if progress.in_progress == 0 {
                devices.remove(&self.device);
            }
        }
        drop(devices);
        self.order.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_waits_for_the_one_ahead_of_it_then_goes_on() {
        let order = Arc::new(ChainOrder::default());
        std::thread::scope(|scope| {
            let ahead = ChainOrder::begin(&order, "D1");
            let behind = scope.spawn(|| {
                let _batch = ChainOrder::begin(&order, "D1");
                order.wait_for("D1", 10, 0, Duration::from_secs(60))
            });
            // Stored ahead: the one behind may go on.
            while order.lock().get("D1").is_none_or(|p| p.in_progress < 2) {
                std::thread::yield_now();
            }
            order.stored("D1", 10);
            assert!(behind.join().unwrap_or(false));
            drop(ahead);
        });
        assert!(order.lock().is_empty(), "nothing kept once answered");
    }

    #[test]
    fn a_batch_with_nothing_ahead_in_progress_does_not_wait() {
        let order = Arc::new(ChainOrder::default());
        let _batch = ChainOrder::begin(&order, "D1");
        let _other_device = ChainOrder::begin(&order, "D2");
        // An hour's limit: the test would hang if it waited.
        assert!(!order.wait_for("D1", 10, 3, Duration::from_secs(3600)));
        assert!(order.wait_for("D1", 3, 3, Duration::from_secs(3600)));
    }

    #[test]
    fn a_batch_ahead_that_ends_without_storing_ends_the_wait() {
        let order = Arc::new(ChainOrder::default());
        std::thread::scope(|scope| {
            let ahead = ChainOrder::begin(&order, "D1");
            let behind = scope.spawn(|| {
                let _batch = ChainOrder::begin(&order, "D1");
                order.wait_for("D1", 10, 0, Duration::from_secs(3600))
            });
            while order.lock().get("D1").is_none_or(|p| p.in_progress < 2) {
                std::thread::yield_now();
            }
            // Refused, say: answered without a change to the chain.
            drop(ahead);
            assert!(!behind.join().unwrap_or(true));
        });
    }
}
