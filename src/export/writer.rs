//! The single owner of the output and of every count: it receives finished
//! customers in any order, holds them in the reorder buffer, and writes
//! them strictly in input order, along with the failed file, the
//! [`Tally`], the progress and the resume journal's checkpoints.
//!
//! It runs on a blocking thread: file writes and fsyncs never stall the
//! async workers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::control::Control;
use super::dispatch::Done;
use super::health;
use super::outcome::{Failure, Outcome, StopCause};
use crate::bufpool::BufPool;
use crate::input::IdList;
use crate::journal::{Checkpoint, Journal, Tally};
use crate::output::failed::FailedFile;
use crate::output::sink::Sink;
use crate::output::Compression;
use crate::progress::Progress;

/// How often the journal gets a checkpoint: a crash loses at most this much
/// work. Compressed outputs end a member per checkpoint, so they checkpoint
/// less often to keep members large.
pub fn checkpoint_interval(compression: Compression) -> Duration {
    match compression {
        Compression::None => Duration::from_millis(200),
        _ => Duration::from_millis(500),
    }
}

/// Most transiently failed customers held back at once (far above the
/// platform-down streak, so only a pathological run reaches it).
const MAX_HELD: usize = 10_000;

/// The files a run writes.
pub struct Files {
    pub sink: Sink,
    pub failed: FailedFile,
    /// The resume journal (none for stdout).
    pub journal: Option<Journal>,
}

/// What the writer did, when the channel closed.
pub struct Written {
    pub files: Files,
    /// Customers done (written or in the failed file), from the first.
    done: usize,
    /// The counts and offsets of the last checkpoint.
    pub state: Checkpoint,
    /// The error that stopped the writing, if any.
    pub error: Option<anyhow::Error>,
    /// stdout's reader went away (a broken pipe): nothing more can be
    /// written, and that is not an error.
    pub reader_gone: bool,
}

impl Written {
    /// Customers done (written or in the failed file), from the first.
    pub fn done(&self) -> usize {
        self.done
    }

    /// The counts of what was committed.
    pub fn tally(&self) -> &Tally {
        &self.state.tally
    }
}

/// The writer's state.
pub struct Writer {
    files: Files,
    ids: Arc<IdList>,
    control: Arc<Control>,
    buffers: Arc<BufPool>,
    interval: Duration,
    /// Counts as of the customers taken so far.
    state: Checkpoint,
    /// Customers taken in input order, from the first (committed ones and
    /// the held streak below).
    next: usize,
    /// The trailing run of customers that failed on transient faults, not
    /// committed yet: if the run ends in an outage (see [`health`]) they
    /// are left not done and fetched again by `--resume`; any other
    /// outcome after them, or any other end, commits them to the failed
    /// file.
    held: Vec<(usize, Failure)>,
    error: Option<anyhow::Error>,
    reader_gone: bool,
}

impl Writer {
    /// A writer continuing from `start` (the journal's last checkpoint, or
    /// the fresh one).
    pub fn new(
        files: Files,
        start: Checkpoint,
        ids: Arc<IdList>,
        control: Arc<Control>,
        buffers: Arc<BufPool>,
        interval: Duration,
    ) -> Writer {
        Writer {
            files,
            ids,
            control,
            buffers,
            interval,
            next: start.next as usize,
            state: start,
            held: Vec::new(),
            error: None,
            reader_gone: false,
        }
    }

    /// Write customers in input order until the channel closes.
    pub fn run(mut self, mut rx: mpsc::Receiver<Done>, progress: &Progress) -> Written {
        let mut pending: BTreeMap<usize, Done> = BTreeMap::new();
        let mut blocked = false;
        let mut last_checkpoint = Instant::now();
        while let Some(done) = rx.blocking_recv() {
            if blocked {
                continue;
            }
            pending.insert(done.index, done);
            while let Some(done) = pending.remove(&self.next) {
                match self.take(done, &mut last_checkpoint) {
                    Ok(true) => {}
                    Ok(false) => blocked = true,
                    Err(e) => {
                        self.on_error(e);
                        blocked = true;
                    }
                }
                if blocked {
                    pending.clear();
                    break;
                }
                self.show(progress);
            }
        }
        self.settle_held();
        if self.error.is_none() && !self.reader_gone {
            if let Err(e) = self.checkpoint() {
                self.error = Some(e);
            }
        }
        self.show(progress);
        Written {
            done: self.next,
            files: self.files,
            state: self.state,
            error: self.error,
            reader_gone: self.reader_gone,
        }
    }

    /// Take the next customer in order; `Ok(false)` when it was not done
    /// (the run stopped).
    fn take(&mut self, done: Done, last_checkpoint: &mut Instant) -> anyhow::Result<bool> {
        if !self.write_one(done)? {
            return Ok(false);
        }
        self.next += 1;
        if last_checkpoint.elapsed() >= self.interval {
            *last_checkpoint = Instant::now();
            self.checkpoint()?;
        }
        Ok(true)
    }

    fn on_error(&mut self, e: anyhow::Error) {
        if super::is_broken_pipe(&e) {
            self.reader_gone = true;
            self.control.stop(StopCause::OutputClosed, true);
        } else {
            self.control.stop(StopCause::Output, true);
            self.error = Some(e);
        }
    }

    /// Write one customer; `Ok(false)` when it was not done.
    fn write_one(&mut self, done: Done) -> anyhow::Result<bool> {
        let Done {
            index,
            outcome,
            slot,
        } = done;
        match outcome {
            Outcome::NotDone => return Ok(false),
            Outcome::Failed(failure) => {
                if health::may_be_victim(failure.kind) && self.held.len() < MAX_HELD {
                    self.held.push((index, failure));
                } else {
                    self.release_held()?;
                    self.record_failure(index, &failure)?;
                }
            }
            Outcome::Rows { bytes, encoded } => {
                self.release_held()?;
                self.files.sink.write(&bytes)?;
                self.buffers.give(bytes);
                if self.files.sink.is_stdout() {
                    self.files.sink.flush()?;
                }
                let t = &mut self.state.tally;
                t.ok += 1;
                t.chats += encoded.chats;
                t.rows += encoded.rows;
            }
            Outcome::Empty { chats } => {
                self.release_held()?;
                self.state.tally.empty += 1;
                self.state.tally.chats += chats;
            }
        }
        // The window's place (and its bytes) are free once written.
        drop(slot);
        Ok(true)
    }

    /// Commit one failed customer to the failed file and the counts.
    fn record_failure(&mut self, index: usize, failure: &Failure) -> anyhow::Result<()> {
        let id = self.ids.get(index);
        tracing::warn!(
            customer = id,
            kind = failure.kind.name(),
            "customer failed: {}",
            failure.message
        );
        self.files.failed.add(id, &failure.message)?;
        let t = &mut self.state.tally;
        t.failed += 1;
        *t.failed_by_kind.entry(failure.kind.name()).or_default() += 1;
        Ok(())
    }

    /// Commit the held streak to the failed file. Those not recorded when
    /// an error stops it stay held.
    fn release_held(&mut self) -> anyhow::Result<()> {
        let mut rest = std::mem::take(&mut self.held).into_iter();
        while let Some((index, failure)) = rest.next() {
            if let Err(e) = self.record_failure(index, &failure) {
                self.held.push((index, failure));
                self.held.extend(rest);
                return Err(e);
            }
        }
        Ok(())
    }

    /// At the end: an outage's victims are left not done; otherwise the
    /// held failures are committed. Held customers that could not be
    /// recorded (the output failed) are not done either: the journal never
    /// counted them, and the summary must not.
    fn settle_held(&mut self) {
        if !health::is_outage(self.control.reason()) && self.error.is_none() {
            if let Err(e) = self.release_held() {
                self.error = Some(e);
            }
        }
        self.next -= self.held.len();
        self.held.clear();
    }

    /// Record a consistent point in the journal (no-op without one).
    fn checkpoint(&mut self) -> anyhow::Result<()> {
        let committed = (self.next - self.held.len()) as u64;
        let Some(journal) = &mut self.files.journal else {
            return Ok(());
        };
        if self.state.next == committed {
            return Ok(());
        }
        self.state.out_bytes = self.files.sink.checkpoint()?;
        self.state.failed_bytes = self.files.failed.checkpoint()?;
        self.state.next = committed;
        journal.append(&self.state)
    }

    fn show(&self, progress: &Progress) {
        progress.update(
            (self.next - self.held.len()) as u64,
            self.state.tally.rows,
            self.state.tally.failed,
        );
    }
}
