//! The single owner of the output: it receives finished customers in any
//! order, holds them in a bounded reorder buffer, and writes them strictly in
//! input order, along with the failed file, the counters, the progress and
//! the resume journal's checkpoints.
//!
//! It runs on a blocking thread: file writes and fsyncs never stall the
//! async workers.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;

use super::{Ctx, Outcome, StopCause};
use crate::cli::Compression;
use crate::journal::{Checkpoint, Journal};
use crate::output::failed::FailedFile;
use crate::output::sink::Sink;
use crate::progress::Progress;

/// A finished customer on its way to the writer.
pub struct Done {
    pub index: usize,
    pub outcome: Outcome,
    /// The reorder-window slot, released once this customer is written.
    pub permit: OwnedSemaphorePermit,
}

/// How often the journal gets a checkpoint: a crash loses at most this much
/// work. Compressed outputs end a member per checkpoint, so they checkpoint
/// less often to keep members large.
pub fn checkpoint_interval(compression: Compression) -> Duration {
    match compression {
        Compression::None => Duration::from_millis(200),
        _ => Duration::from_millis(500),
    }
}

/// The writer's state; what it did when the channel closes.
pub struct Written {
    pub sink: Sink,
    pub failed: FailedFile,
    pub journal: Option<Journal>,
    /// Counters, cumulative over resumes; `next` = customers committed.
    pub state: Checkpoint,
    /// Customers written, from the first: the prefix in the output.
    pub next: usize,
    /// The error that stopped the writing, if any.
    pub error: Option<anyhow::Error>,
}

impl Written {
    pub fn new(
        sink: Sink,
        failed: FailedFile,
        journal: Option<Journal>,
        start: Checkpoint,
    ) -> Self {
        Written {
            next: start.next as usize,
            sink,
            failed,
            journal,
            state: start,
            error: None,
        }
    }

    /// Record a consistent point in the journal (no-op without one).
    pub fn checkpoint(&mut self) -> anyhow::Result<()> {
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        if self.state.next == self.next as u64 {
            return Ok(());
        }
        self.state.out_bytes = self.sink.checkpoint()?;
        self.state.failed_bytes = self.failed.checkpoint()?;
        self.state.next = self.next as u64;
        journal.append(&self.state)
    }
}

/// Write customers in input order until the channel closes.
pub fn write_in_order(
    ctx: Arc<Ctx>,
    mut rx: mpsc::Receiver<Done>,
    mut w: Written,
    interval: Duration,
    progress: &Progress,
) -> Written {
    let mut pending: BTreeMap<usize, Done> = BTreeMap::new();
    let mut blocked = false;
    let mut last_checkpoint = Instant::now();
    while let Some(done) = rx.blocking_recv() {
        if blocked {
            continue;
        }
        pending.insert(done.index, done);
        while let Some(done) = pending.remove(&w.next) {
            let result = match write_one(&ctx, &mut w, done) {
                Ok(true) => {
                    w.next += 1;
                    if last_checkpoint.elapsed() >= interval {
                        last_checkpoint = Instant::now();
                        w.checkpoint().map(|_| true)
                    } else {
                        Ok(true)
                    }
                }
                other => other,
            };
            match result {
                Ok(true) => {}
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
            progress.update(w.next as u64, w.state.rows, w.state.failed);
        }
        if blocked {
            pending.clear();
        }
    }
    // Once the reader of stdout has gone, every flush fails with the same
    // broken pipe: there is nothing left to save.
    let reader_gone = matches!(ctx.control.reason(), Some(StopCause::OutputClosed));
    if w.error.is_none() && !reader_gone {
        if let Err(e) = w.checkpoint() {
            w.error = Some(e);
        }
    }
    progress.update(w.next as u64, w.state.rows, w.state.failed);
    w
}

/// Write one customer; `Ok(false)` when it was not done (the run stopped).
fn write_one(ctx: &Ctx, w: &mut Written, done: Done) -> anyhow::Result<bool> {
    let id = ctx.ids.get(done.index);
    let s = &mut w.state;
    match done.outcome {
        Outcome::NotDone => return Ok(false),
        Outcome::Rows { bytes, encoded } => {
            ctx.buffered.fetch_sub(bytes.len() as u64, Relaxed);
            w.sink.write(&bytes)?;
            if w.sink.is_stdout() {
                w.sink.flush()?;
            }
            s.ok += 1;
            s.chats += encoded.chats;
            s.rows += encoded.rows;
            ctx.stats.rows.fetch_add(encoded.rows, Relaxed);
        }
        Outcome::Empty { chats } => {
            s.empty += 1;
            s.chats += chats;
        }
        Outcome::Failed(failure) => {
            tracing::warn!(
                customer = id,
                kind = failure.kind.name(),
                "customer failed: {}",
                failure.message
            );
            w.failed.add(id, &failure.message)?;
            s.failed += 1;
            *s.failed_by_kind.entry(failure.kind.name()).or_default() += 1;
            ctx.stats.failed.fetch_add(1, Relaxed);
        }
    }
    ctx.stats.done.fetch_add(1, Relaxed);
    drop(done.permit);
    Ok(true)
}
