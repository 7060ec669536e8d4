//! The dispatcher: starts one fetch task per customer, in input order,
//! within the reorder window.
//!
//! The window bounds memory: at most [`window_size`] customers are alive
//! (being fetched, or finished and waiting for an earlier one to be
//! written), and at most [`MAX_BUFFERED_BYTES`] of encoded rows wait in
//! it, counted in allocated capacity, so what the budget says is what the
//! heap holds. A [`Slot`] is one place in the window: taken here, charged
//! with its rows' bytes by the fetch task, and given back (bytes and all)
//! when the writer drops it after writing the customer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

use super::control::Control;
use super::fetch::Fetcher;
use super::outcome::Outcome;
use crate::store::input::IdList;

/// Encoded bytes (allocated capacity) that may wait in the reorder window
/// before dispatching pauses: bounds memory when answers are huge.
pub const MAX_BUFFERED_BYTES: u64 = 16 * 1024 * 1024;

/// Customers fetched ahead of the writer: enough that a slow customer does
/// not stall the others (with lognormal latency the slowest of thousands
/// takes several times the median, while the others keep finishing), few
/// enough to bound memory.
pub fn window_size(concurrency: usize) -> usize {
    (concurrency * 8 + 64).min(16_384)
}

/// A finished customer on its way to the writer.
pub struct Done {
    pub index: usize,
    pub outcome: Outcome,
    /// Its place in the window, given back once it is written.
    pub slot: Slot,
}

/// Bytes of encoded rows held by the window's slots, and a wake-up for the
/// dispatcher when some are given back.
#[derive(Debug, Default)]
struct Budget {
    bytes: AtomicU64,
    freed: Notify,
}

/// The reorder window: its places and its byte budget.
pub struct Window {
    places: Arc<Semaphore>,
    size: usize,
    budget: Arc<Budget>,
    /// Customers dispatched and not finished fetching.
    fetching: Arc<AtomicU64>,
}

impl Window {
    /// A window for `concurrency` requests in flight.
    pub fn new(concurrency: usize) -> Window {
        let size = window_size(concurrency);
        Window {
            places: Arc::new(Semaphore::new(size)),
            size,
            budget: Arc::new(Budget::default()),
            fetching: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many customers the window holds.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes the slots hold now.
    pub fn buffered(&self) -> u64 {
        self.budget.bytes.load(Relaxed)
    }

    /// Wait for the byte budget to have room (woken when a slot gives its
    /// bytes back), then for a place.
    async fn slot(&self) -> Slot {
        loop {
            let freed = self.budget.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so bytes given back between the
            // check and the wait still wake it.
            freed.as_mut().enable();
            if self.buffered() <= MAX_BUFFERED_BYTES {
                break;
            }
            freed.await;
        }
        let permit = self
            .places
            .clone()
            .acquire_owned()
            .await
            .expect("the window semaphore is never closed");
        Slot {
            _permit: permit,
            held: 0,
            budget: self.budget.clone(),
        }
    }
}

#[cfg(test)]
impl Window {
    /// A place, for tests of the writer.
    pub(crate) async fn slot_for_test(&self) -> Slot {
        self.slot().await
    }
}

/// One place in the reorder window.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    held: u64,
    budget: Arc<Budget>,
}

impl Slot {
    /// Charge the window with `bytes` held until this slot is dropped.
    pub fn hold(&mut self, bytes: usize) {
        self.held += bytes as u64;
        self.budget.bytes.fetch_add(bytes as u64, Relaxed);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.held > 0 {
            self.budget.bytes.fetch_sub(self.held, Relaxed);
            self.budget.freed.notify_waiters();
        }
    }
}

/// Start a task for each customer from `from` on, in input order, until
/// the list ends or the run drains. Returns the reorder stall: the time
/// dispatching waited for the window while fewer than `concurrency`
/// customers were being fetched (the cost of keeping input order).
pub async fn dispatch(
    ids: &Arc<IdList>,
    from: usize,
    window: &Window,
    fetcher: &Arc<Fetcher>,
    control: &Arc<Control>,
    tx: mpsc::Sender<Done>,
) -> Duration {
    let concurrency = fetcher.concurrency() as u64;
    let mut stall = Duration::ZERO;
    for index in from..ids.len() {
        let waiting_since = Instant::now();
        let starved = window.fetching.load(Relaxed) < concurrency;
        let mut slot = tokio::select! {
            biased;
            _ = control.drain.cancelled() => break,
            s = window.slot() => s,
        };
        if starved {
            stall += waiting_since.elapsed();
        }
        // The first request's in-flight permit is taken here, in input
        // order, so requests go out in input order (tasks are polled in any
        // order); retries take theirs in the task.
        let first = tokio::select! {
            biased;
            _ = control.drain.cancelled() => break,
            p = fetcher.permit() => p,
        };
        let (ids, fetcher, control, tx) =
            (ids.clone(), fetcher.clone(), control.clone(), tx.clone());
        let fetching = window.fetching.clone();
        fetching.fetch_add(1, Relaxed);
        tokio::spawn(async move {
            let outcome = fetcher.fetch(&control, ids.get(index), first).await;
            fetching.fetch_sub(1, Relaxed);
            if let Outcome::Rows { bytes, .. } = &outcome {
                slot.hold(bytes.capacity());
            }
            let _ = tx
                .send(Done {
                    index,
                    outcome,
                    slot,
                })
                .await;
        });
    }
    stall
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_charge_the_budget_until_dropped() {
        let window = Window::new(1);
        let mut a = window.slot().await;
        a.hold(1000);
        let mut b = window.slot().await;
        b.hold(24);
        assert_eq!(window.buffered(), 1024);
        drop(a);
        assert_eq!(window.buffered(), 24);
        drop(b);
        assert_eq!(window.buffered(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_budget_holds_the_next_slot_back() {
        let window = Window::new(1);
        let mut big = window.slot().await;
        big.hold(MAX_BUFFERED_BYTES as usize + 1);
        let waiting = tokio::time::timeout(Duration::from_millis(50), window.slot()).await;
        assert!(waiting.is_err(), "no slot while the budget is over");
        let window = Arc::new(window);
        let waiter = {
            let window = window.clone();
            tokio::spawn(async move {
                let _slot = window.slot().await;
                tokio::time::Instant::now()
            })
        };
        tokio::task::yield_now().await;
        let freed_at = tokio::time::Instant::now();
        drop(big);
        let woke_at = tokio::time::timeout(Duration::from_millis(50), waiter)
            .await
            .expect("a slot once the bytes are written")
            .unwrap();
        // Woken by the bytes given back, not by polling: on the paused
        // clock no time passes between the two.
        assert_eq!(woke_at, freed_at);
    }

    #[test]
    fn the_window_grows_with_concurrency_up_to_a_cap() {
        assert_eq!(window_size(8), 128);
        assert_eq!(window_size(1024), 8256);
        assert!(window_size(usize::MAX / 16) <= 16_384);
    }
}
