//! The single owner of the output: it receives finished customers in any
//! order, holds them in a bounded reorder buffer, and writes them strictly in
//! input order, along with the failed file, the counters, the progress and
//! the resume journal's checkpoints.
//!
//! It runs on a blocking thread: file writes and fsyncs never stall the
//! async workers.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;

use super::{Ctx, Failure, FailureKind, Outcome, StopCause};
use crate::api::StopReason;
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
    /// Customers taken in input order, from the first (committed ones and
    /// the held streak below).
    pub next: usize,
    /// The trailing run of customers that failed on transient faults, not
    /// committed yet: if the run ends with the platform-down verdict they
    /// were victims of the outage, are left not done and are fetched again
    /// by `--resume`; any other outcome after them, or any other end,
    /// commits them to the failed file.
    held: Vec<(usize, Failure)>,
    /// The error that stopped the writing, if any.
    pub error: Option<anyhow::Error>,
    /// stdout's reader went away (a broken pipe): nothing more can be
    /// written, and that is not an error.
    pub reader_gone: bool,
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
            held: Vec::new(),
            error: None,
            reader_gone: false,
        }
    }

    /// Commit the held streak to the failed file.
    /// Those not recorded when an error stops it stay held.
    fn release_held(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let mut rest = std::mem::take(&mut self.held).into_iter();
        while let Some((index, failure)) = rest.next() {
            if let Err(e) = record_failure(ctx, self, index, &failure) {
                self.held.push((index, failure));
                self.held.extend(rest);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Record a consistent point in the journal (no-op without one).
    pub fn checkpoint(&mut self) -> anyhow::Result<()> {
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        // Committed: written, or recorded in the failed file.
        let committed = (self.next - self.held.len()) as u64;
        if self.state.next == committed {
            return Ok(());
        }
        self.state.out_bytes = self.sink.checkpoint()?;
        self.state.failed_bytes = self.failed.checkpoint()?;
        self.state.next = committed;
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
                    if super::is_broken_pipe(&e) {
                        w.reader_gone = true;
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
    if matches!(
        ctx.control.reason(),
        Some(StopCause::Api(StopReason::PlatformDown))
    ) {
        // The outage's victims: not done, so `--resume` fetches them again.
        w.next -= w.held.len();
        w.held.clear();
    } else if w.error.is_none() {
        if let Err(e) = w.release_held(&ctx) {
            w.error = Some(e);
        }
    }
    // Held customers that could not be recorded (the output failed) are not
    // done: the journal never counted them, and the summary must not either.
    w.next -= w.held.len();
    w.held.clear();
    if w.error.is_none() && !w.reader_gone {
        if let Err(e) = w.checkpoint() {
            w.error = Some(e);
        }
    }
    progress.update(w.next as u64, w.state.rows, w.state.failed);
    w
}

/// Write one customer; `Ok(false)` when it was not done (the run stopped).
fn write_one(ctx: &Ctx, w: &mut Written, done: Done) -> anyhow::Result<bool> {
    let Done {
        index,
        outcome,
        permit,
    } = done;
    match outcome {
        Outcome::NotDone => return Ok(false),
        Outcome::Failed(failure) => {
            let transient = matches!(
                failure.kind,
                FailureKind::Transient(_) | FailureKind::RetryAfterTooLong
            );
            if transient && w.held.len() < MAX_HELD {
                w.held.push((index, failure));
            } else {
                w.release_held(ctx)?;
                record_failure(ctx, w, index, &failure)?;
            }
        }
        Outcome::Rows { bytes, encoded } => {
            w.release_held(ctx)?;
            ctx.buffered.fetch_sub(bytes.len() as u64, Relaxed);
            w.sink.write(&bytes)?;
            ctx.buffers.give(bytes);
            if w.sink.is_stdout() {
                w.sink.flush()?;
            }
            let s = &mut w.state;
            s.drift
                .commit(ctx.ids.get(index), &encoded.drift, ctx.encoder.columns());
            s.ok += 1;
            s.chats += encoded.chats;
            s.rows += encoded.rows;
            ctx.stats.rows.fetch_add(encoded.rows, Relaxed);
            ctx.stats.done.fetch_add(1, Relaxed);
        }
        Outcome::Empty { chats, drift } => {
            w.release_held(ctx)?;
            let columns = ctx.encoder.columns();
            w.state.drift.commit(ctx.ids.get(index), &drift, columns);
            w.state.empty += 1;
            w.state.chats += chats;
            ctx.stats.done.fetch_add(1, Relaxed);
        }
    }
    drop(permit);
    Ok(true)
}

/// Most transiently failed customers held back at once (far above the
/// platform-down streak, so only a pathological run reaches it).
const MAX_HELD: usize = 10_000;

/// Commit one failed customer to the failed file and the counters.
fn record_failure(
    ctx: &Ctx,
    w: &mut Written,
    index: usize,
    failure: &Failure,
) -> anyhow::Result<()> {
    let id = ctx.ids.get(index);
    tracing::warn!(
        customer = id,
        kind = failure.kind.name(),
        "customer failed: {}",
        failure.message
    );
    w.failed.add(id, &failure.message)?;
    let s = &mut w.state;
    s.failed += 1;
    *s.failed_by_kind.entry(failure.kind.name()).or_default() += 1;
    ctx.stats.failed.fetch_add(1, Relaxed);
    ctx.stats.done.fetch_add(1, Relaxed);
    Ok(())
}
