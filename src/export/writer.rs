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

use anyhow::Context;
use tokio::sync::mpsc;

use super::control::Control;
use super::dispatch::Done;
use super::health::Suspects;
use super::outcome::{Failure, Outcome, StopCause};
use crate::api::bufpool::BufPool;
use crate::console::progress::Progress;
use crate::output::failed::FailedFile;
use crate::output::sink::Sink;
use crate::output::Compression;
use crate::record::drift::Kept;
use crate::record::Column;
use crate::store::input::IdList;
use crate::store::journal::{Checkpoint, Journal, Tally};

/// How often the journal gets a checkpoint: a crash loses at most this much
/// work. Compressed outputs end a member per checkpoint, so they checkpoint
/// less often to keep members large.
pub fn checkpoint_interval(compression: Compression) -> Duration {
    match compression {
        Compression::None => Duration::from_millis(200),
        _ => Duration::from_millis(500),
    }
}

/// The files a run writes.
pub struct Files {
    pub sink: Sink,
    pub failed: FailedFile,
    /// The resume journal (none for stdout).
    pub journal: Option<Journal>,
    /// A data pipeline's progress marks, written into the output after
    /// the rows they cover (none outside a pipeline).
    pub marks: Option<Arc<dyn Marks>>,
}

/// A data pipeline's progress mark: a state message saying how many
/// customers, from the first, are committed in the output before it.
pub trait Marks: Send + Sync {
    /// The line that marks `committed` customers, with the counts so far.
    fn line(&self, committed: u64, tally: &Tally) -> Vec<u8>;
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

    /// A writer's result, for tests of the end of a run.
    #[cfg(test)]
    pub(crate) fn for_test(files: Files, done: usize) -> Written {
        Written {
            files,
            done,
            state: Checkpoint::default(),
            error: None,
            reader_gone: false,
        }
    }
}

/// The writer's state.
pub struct Writer {
    files: Files,
    ids: Arc<IdList>,
    control: Arc<Control>,
    buffers: Arc<BufPool>,
    interval: Duration,
    /// Which extra columns are written (the drift warnings say whether an
    /// undocumented field is kept).
    kept: Kept,
    /// Counts as of the customers taken so far.
    state: Checkpoint,
    /// The last checkpoint the journal holds: what a resume continues from.
    committed: Checkpoint,
    /// Customers taken in input order, from the first (committed ones and
    /// the held streak below).
    next: usize,
    /// The trailing streak of customers that failed on faults an outage
    /// would cause, not committed yet (see [`Suspects`]).
    held: Suspects,
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
        columns: Vec<Column>,
    ) -> Writer {
        Writer {
            files,
            ids,
            control,
            buffers,
            interval,
            kept: Kept {
                extra: columns.contains(&Column::Extra),
                chat_extra: columns.contains(&Column::ChatExtra),
            },
            next: start.next as usize,
            committed: start.clone(),
            state: start,
            held: Suspects::default(),
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
            match &done.outcome {
                Outcome::Rows { encoded, .. } => progress.answered(encoded.rows, false),
                Outcome::Empty { .. } => progress.answered(0, false),
                Outcome::Failed(_) => progress.answered(0, true),
                Outcome::NotDone => {}
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
        if self.error.is_some() && self.files.journal.is_some() {
            // What was written since the last checkpoint is cut off by the
            // next resume: the counts are those of what is committed.
            self.state = self.committed.clone();
            self.next = self.committed.next as usize;
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
        if last_checkpoint.elapsed() >= self.interval || self.files.sink.wants_checkpoint() {
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
                if let Some((index, failure)) = self.held.hold(index, failure) {
                    self.release_held()?;
                    self.record_failure(index, &failure)?;
                }
            }
            Outcome::Rows { bytes, encoded } => {
                self.release_held()?;
                let sink = &mut self.files.sink;
                // A pipeline's stream is flushed at its state marks, which
                // come every checkpoint interval: a state follows its rows.
                let each = self.files.marks.is_none();
                sink.write_rows(&bytes, encoded.rows)
                    .and_then(|_| {
                        if each && sink.is_stream() {
                            sink.flush()
                        } else {
                            Ok(())
                        }
                    })
                    .with_context(|| format!("cannot write the output {}", sink.name()))?;
                self.buffers.give(bytes);
                let t = &mut self.state.tally;
                t.drift
                    .commit(self.ids.get(index), &encoded.drift, self.kept);
                t.ok += 1;
                t.chats += encoded.chats;
                t.rows += encoded.rows;
                for (class, n) in encoded.masked {
                    *t.masked.entry(class).or_default() += n;
                }
            }
            Outcome::Empty { chats, drift } => {
                self.release_held()?;
                let id = self.ids.get(index);
                self.state.tally.drift.commit(id, &drift, self.kept);
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
        self.files
            .failed
            .add(id, &failure.message, failure.kind.class().name())?;
        let t = &mut self.state.tally;
        t.failed += 1;
        *t.failed_by_kind.entry(failure.kind.name()).or_default() += 1;
        if !failure.kind.is_definitive() {
            t.failed_not_definitive += 1;
        }
        Ok(())
    }

    /// Commit the held streak to the failed file. Those not recorded when
    /// an error stops it stay held.
    fn release_held(&mut self) -> anyhow::Result<()> {
        let mut rest = self.held.take().into_iter();
        while let Some((index, failure)) = rest.next() {
            if let Err(e) = self.record_failure(index, &failure) {
                self.held
                    .put_back(std::iter::once((index, failure)).chain(rest));
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
        if Suspects::commit_at_end(self.control.reason()) && self.error.is_none() {
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
        if let Some(marks) = &self.files.marks {
            return self.mark(committed, marks.clone());
        }
        let Some(journal) = &mut self.files.journal else {
            return Ok(());
        };
        if self.state.next == committed {
            return Ok(());
        }
        let sink = &mut self.files.sink;
        self.state.out_bytes = sink
            .checkpoint()
            .with_context(|| format!("cannot write the output {}", sink.name()))?;
        self.state.staged_bytes = sink.staged_len();
        self.state.failed_bytes = self.files.failed.checkpoint()?;
        self.state.next = committed;
        journal.append(&self.state)?;
        self.committed = self.state.clone();
        sink.checkpointed()
            .with_context(|| format!("cannot write the output {}", sink.name()))?;
        Ok(())
    }

    /// Write a pipeline's progress mark after the rows it covers.
    fn mark(&mut self, committed: u64, marks: Arc<dyn Marks>) -> anyhow::Result<()> {
        if self.state.next == committed {
            return Ok(());
        }
        self.state.next = committed;
        let line = marks.line(committed, &self.state.tally);
        let sink = &mut self.files.sink;
        sink.write(&line)
            .and_then(|_| sink.flush())
            .with_context(|| format!("cannot write the output {}", sink.name()))?;
        self.committed = self.state.clone();
        Ok(())
    }

    fn show(&self, progress: &Progress) {
        progress.written((self.next - self.held.len()) as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;
    use crate::api::{Cause, StopReason};
    use crate::export::dispatch::Window;
    use crate::export::outcome::FailureKind;
    use crate::record::Encoded;

    /// An in-memory output.
    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<Vec<u8>>>);

    impl Write for Memory {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Memory {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn rows(text: &str) -> Outcome {
        Outcome::Rows {
            bytes: text.as_bytes().to_vec(),
            encoded: Encoded {
                chats: 1,
                rows: text.lines().count() as u64,
                drift: Default::default(),
                masked: Default::default(),
            },
        }
    }

    fn failure(kind: FailureKind) -> Outcome {
        Outcome::Failed(Failure {
            kind,
            message: format!("{kind:?}"),
        })
    }

    /// Feed `outcomes` (index, outcome) to a writer over memory, in the
    /// order given, after `stop` (if any) was recorded; returns what it
    /// wrote, its result and the failed file's text.
    async fn write(
        outcomes: Vec<(usize, Outcome)>,
        stop: Option<StopCause>,
    ) -> (String, Written, Option<String>, u64) {
        let dir = tempfile::tempdir().unwrap();
        let failed_path = dir.path().join("failed.csv");
        let memory = Memory::default();
        let n = outcomes.len();
        let ids = Arc::new(IdList::from_ids(
            (0..n)
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        ));
        let control = Arc::new(Control::default());
        if let Some(cause) = stop {
            control.stop(cause, false);
        }
        let files = Files {
            sink: Sink::stream(Box::new(memory.clone()), Compression::None, "memory"),
            failed: FailedFile::new(Some(failed_path.clone()), Default::default()),
            journal: None,
            marks: None,
        };
        let writer = Writer::new(
            files,
            Checkpoint::default(),
            ids,
            control,
            Arc::new(BufPool::new(1 << 20, 8)),
            Duration::from_secs(3600),
            Column::ALL.to_vec(),
        );
        let window = Window::new(n);
        let (tx, rx) = mpsc::channel(n.max(1));
        for (index, outcome) in outcomes {
            let mut slot = window.slot_for_test().await;
            if let Outcome::Rows { bytes, .. } = &outcome {
                slot.hold(bytes.capacity());
            }
            tx.send(Done {
                index,
                outcome,
                slot,
            })
            .await
            .unwrap();
        }
        drop(tx);
        let written = tokio::task::spawn_blocking(move || {
            let progress = Progress::start(
                crate::console::progress::ProgressMode::Never,
                crate::console::progress::LOG_INTERVAL,
                n as u64,
                Default::default(),
                || 0,
            );
            let written = writer.run(rx, &progress);
            progress.finish();
            written
        })
        .await
        .unwrap();
        let mut written = written;
        let failed = std::mem::replace(
            &mut written.files.failed,
            FailedFile::new(None, Default::default()),
        );
        failed.keep_partial().unwrap();
        let failed_text = std::fs::read_to_string(crate::store::paths::partial(&failed_path)).ok();
        (memory.text(), written, failed_text, window.buffered())
    }

    /// Customers finished in any order are written in input order, every
    /// count is the writer's, and each window place gives its bytes back.
    #[tokio::test]
    async fn writes_in_input_order_and_counts_once() {
        let (text, written, failed, buffered) = write(
            vec![
                (2, rows("c\n")),
                (0, rows("a1\na2\n")),
                (3, failure(FailureKind::Api)),
                (
                    1,
                    Outcome::Empty {
                        chats: 2,
                        drift: Default::default(),
                    },
                ),
                (4, rows("e\n")),
            ],
            None,
        )
        .await;
        assert_eq!(text, "a1\na2\nc\ne\n");
        assert_eq!(written.done(), 5);
        let t = written.tally();
        assert_eq!((t.ok, t.empty, t.failed, t.rows, t.chats), (3, 1, 1, 4, 5));
        assert_eq!(t.failed_by_kind.get("api_code"), Some(&1));
        assert_eq!(t.failed_not_definitive, 0, "a Code is definitive");
        let failed = failed.unwrap();
        assert_eq!(
            failed.lines().collect::<Vec<_>>(),
            ["customer_id,error,class", "c3,Api,definitive"]
        );
        assert_eq!(buffered, 0);
    }

    /// A customer not done stops the writing there: nothing after it is
    /// written, and it is not counted.
    #[tokio::test]
    async fn a_customer_not_done_ends_the_output_there() {
        let (text, written, _, _) = write(
            vec![(0, rows("a\n")), (1, Outcome::NotDone), (2, rows("c\n"))],
            None,
        )
        .await;
        assert_eq!(text, "a\n");
        assert_eq!(written.done(), 1);
        assert_eq!(written.tally().ok, 1);
    }

    /// Transient failures at the end of an outage are its victims: not
    /// done, not in the failed file, so --resume fetches them again.
    #[tokio::test]
    async fn an_outages_victims_are_left_not_done() {
        let transient = || failure(FailureKind::Transient(Cause::Server));
        let outcomes = vec![(0, rows("a\n")), (1, transient()), (2, transient())];
        let down = Some(StopCause::Api(StopReason::PlatformDown));
        let (_, written, failed, _) = write(outcomes, down).await;
        assert_eq!(written.done(), 1);
        assert_eq!(written.tally().failed, 0);
        assert_eq!(failed, None);
    }

    /// The same failures under any other end are committed, in order.
    #[tokio::test]
    async fn held_failures_are_committed_when_there_was_no_outage() {
        let transient = || failure(FailureKind::Transient(Cause::Timeout));
        let outcomes = vec![(1, transient()), (0, transient()), (2, rows("c\n"))];
        let (text, written, failed, _) = write(outcomes.into_iter().collect(), None).await;
        assert_eq!(text, "c\n");
        assert_eq!(written.done(), 3);
        assert_eq!(
            written.tally().failed_by_kind.get("transient_timeout"),
            Some(&2)
        );
        assert_eq!(written.tally().failed_not_definitive, 2);
        let failed = failed.unwrap();
        let ids: Vec<_> = failed
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(ids, ["c0", "c1"]);
    }
}
