//! Reused byte buffers for answers and encoded rows.
//!
//! A large answer is read into one buffer and encoded into another; with a
//! fresh allocation for each, every answer page-faults megabytes of new
//! memory, which cost about a quarter of the process's CPU on answers of
//! 2,000 messages (kernel page faults, zeroing, cgroup accounting). Buffers
//! come back here once used, up to a total size, so the memory the pool
//! keeps is bounded and small next to the reorder window.

use std::sync::Mutex;

/// A bounded stack of empty buffers.
#[derive(Debug)]
pub struct BufPool {
    inner: Mutex<Inner>,
    /// Most bytes of capacity kept.
    max_bytes: usize,
    /// Most buffers kept.
    max_count: usize,
}

#[derive(Debug, Default)]
struct Inner {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufPool {
    pub fn new(max_bytes: usize, max_count: usize) -> Self {
        BufPool {
            inner: Mutex::new(Inner::default()),
            max_bytes,
            max_count,
        }
    }

    /// An empty buffer with at least `capacity` bytes of room: a kept one
    /// when one is large enough, else a new one.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let found = {
            let mut inner = self.inner.lock().expect("buffer pool lock");
            let pick = inner.bufs.iter().rposition(|b| b.capacity() >= capacity);
            pick.map(|i| {
                let b = inner.bufs.swap_remove(i);
                inner.bytes -= b.capacity();
                b
            })
        };
        found.unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// Return a buffer for reuse (dropped when the pool is full, or when it
    /// alone would take a quarter of the pool: an outlier answer's memory
    /// goes back to the system).
    pub fn give(&self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        if cap == 0 || cap > self.max_bytes / 4 {
            return;
        }
        buf.clear();
        let mut inner = self.inner.lock().expect("buffer pool lock");
        if inner.bytes + cap > self.max_bytes || inner.bufs.len() >= self.max_count {
            return;
        }
        inner.bytes += cap;
        inner.bufs.push(buf);
    }

    /// Bytes of capacity kept.
    pub fn kept_bytes(&self) -> usize {
        self.inner.lock().expect("buffer pool lock").bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_within_bounds() {
        let pool = BufPool::new(1000, 2);
        let mut a = pool.take(100);
        a.extend_from_slice(b"data");
        let ptr = a.as_ptr();
        pool.give(a);
        assert_eq!(pool.kept_bytes(), 100);
        // Large enough: the same buffer, emptied.
        let b = pool.take(50);
        assert_eq!(b.as_ptr(), ptr);
        assert!(b.is_empty());
        assert_eq!(pool.kept_bytes(), 0);
        // Too small for the request: a new one, the kept one stays.
        pool.give(b);
        let c = pool.take(200);
        assert!(c.capacity() >= 200);
        assert_eq!(pool.kept_bytes(), 100);
        // Outliers (over a quarter of the pool) are not kept; nor is a
        // buffer beyond the count.
        pool.give(Vec::with_capacity(300));
        assert_eq!(pool.kept_bytes(), 100);
        pool.give(Vec::with_capacity(200));
        pool.give(Vec::with_capacity(210));
        assert_eq!(pool.kept_bytes(), 300);
    }
}
