//! The single owner of the output: it receives finished customers in any
//! order, holds them in a bounded reorder buffer, and writes them strictly in
//! input order, along with the failed file, the counters and the progress.
//!
//! It runs on a blocking thread: file writes never stall the async workers.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;

use super::{Ctx, Outcome, StopCause};
use crate::output::failed::FailedFile;
use crate::output::sink::Sink;
use crate::progress::Progress;
use crate::summary::Customers;

/// A finished customer on its way to the writer.
pub struct Done {
    pub index: usize,
    pub outcome: Outcome,
    /// The reorder-window slot, released once this customer is written.
    pub permit: OwnedSemaphorePermit,
}

/// What the writer did.
pub struct Written {
    pub sink: Sink,
    pub failed: FailedFile,
    pub customers: Customers,
    pub failed_by_kind: BTreeMap<String, u64>,
    pub chats: u64,
    pub rows: u64,
    /// Customers written, from the first: the committed prefix.
    pub next: usize,
    /// The error that stopped the writing, if any.
    pub error: Option<anyhow::Error>,
}

/// Write customers in input order until the channel closes.
pub fn write_in_order(
    ctx: Arc<Ctx>,
    mut rx: mpsc::Receiver<Done>,
    sink: Sink,
    failed: FailedFile,
    progress: &Progress,
) -> Written {
    let mut w = Written {
        sink,
        failed,
        customers: Customers::default(),
        failed_by_kind: BTreeMap::new(),
        chats: 0,
        rows: 0,
        next: 0,
        error: None,
    };
    let mut pending: BTreeMap<usize, Done> = BTreeMap::new();
    let mut blocked = false;
    while let Some(done) = rx.blocking_recv() {
        if blocked {
            continue;
        }
        pending.insert(done.index, done);
        while let Some(done) = pending.remove(&w.next) {
            match write_one(&ctx, &mut w, done) {
                Ok(true) => w.next += 1,
                Ok(false) => {
                    blocked = true;
                    break;
                }
                Err(e) => {
                    let broken_pipe = e
                        .downcast_ref::<io::Error>()
                        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
                    if broken_pipe {
                        ctx.control.stop(StopCause::OutputClosed, true);
                    } else {
                        ctx.control.stop(StopCause::Output, true);
                        w.error = Some(e);
                    }
                    blocked = true;
                    break;
                }
            }
            progress.update(w.next as u64, w.rows, w.customers.failed);
        }
        if blocked {
            pending.clear();
        }
    }
    progress.update(w.next as u64, w.rows, w.customers.failed);
    w
}

/// Write one customer; `Ok(false)` when it was not done (the run stopped).
fn write_one(ctx: &Ctx, w: &mut Written, done: Done) -> anyhow::Result<bool> {
    let id = ctx.ids.get(done.index);
    match done.outcome {
        Outcome::NotDone => return Ok(false),
        Outcome::Rows { bytes, encoded } => {
            w.sink.write(&bytes)?;
            if w.sink.is_stdout() {
                w.sink.flush()?;
            }
            w.customers.ok += 1;
            w.chats += encoded.chats;
            w.rows += encoded.rows;
            ctx.stats.rows.fetch_add(encoded.rows, Relaxed);
        }
        Outcome::Empty { chats } => {
            w.customers.empty += 1;
            w.chats += chats;
        }
        Outcome::Failed(failure) => {
            tracing::warn!(
                customer = id,
                kind = failure.kind.name(),
                "customer failed: {}",
                failure.message
            );
            w.failed.add(id, &failure.message)?;
            w.customers.failed += 1;
            *w.failed_by_kind.entry(failure.kind.name()).or_default() += 1;
            ctx.stats.failed.fetch_add(1, Relaxed);
        }
    }
    ctx.stats.done.fetch_add(1, Relaxed);
    drop(done.permit);
    Ok(true)
}
