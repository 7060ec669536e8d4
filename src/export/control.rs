//! The run's stop switches, and the signal watcher that flips them.
//!
//! Any part may stop the run (a 401, the platform-down verdict, an output
//! error, a signal); the first cause is the one reported. `drain` stops
//! new customers and new attempts; `abort` also cancels requests in flight.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::outcome::StopCause;
use crate::shutdown::Shutdown;

/// How long in-flight requests may run after the first Ctrl-C / SIGTERM.
pub const GRACE_PERIOD: Duration = Duration::from_secs(10);

/// How long the writer may take to finish once requests are cancelled
/// after a second signal.
const STUCK_WRITER_WAIT: Duration = Duration::from_secs(3);

/// Stop switches shared by the dispatcher, the tasks and the writer.
#[derive(Debug, Default)]
pub struct Control {
    /// No new customers, no new attempts.
    pub drain: CancellationToken,
    /// Cancel requests in flight too.
    pub abort: CancellationToken,
    /// Give up on a writer that still takes no data after a second
    /// signal: the run ends without its summary.
    pub abandon: CancellationToken,
    reason: Mutex<Option<StopCause>>,
}

impl Control {
    /// Stop the run; `hard` also cancels requests in flight. The first
    /// cause is the one reported.
    pub fn stop(&self, cause: StopCause, hard: bool) {
        {
            let mut reason = self.reason.lock().expect("control lock");
            if reason.is_none() {
                *reason = Some(cause);
                if let StopCause::Api(r) = cause {
                    tracing::error!("stopping: {}", r.message());
                }
            }
        }
        self.drain.cancel();
        if hard {
            self.abort.cancel();
        }
    }

    /// The first cause of a stop, if the run was stopped.
    pub fn reason(&self) -> Option<StopCause> {
        *self.reason.lock().expect("control lock")
    }
}

/// First signal: drain and give in-flight requests [`GRACE_PERIOD`]; second
/// signal (or the grace running out): cancel them.
pub fn watch_signals(control: Arc<Control>, mut shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let signal = shutdown.wait_for(1).await;
        control.stop(StopCause::Signal(signal), false);
        tracing::warn!(
            "{}: stopping, letting requests in flight finish (up to {}s); {}",
            signal.got(),
            GRACE_PERIOD.as_secs(),
            signal.again()
        );
        tokio::select! {
            _ = shutdown.wait_for(2) => {}
            _ = tokio::time::sleep(GRACE_PERIOD) => {}
        }
        control.abort.cancel();
        // Cancelled requests end at once; only a writer blocked on an
        // output that accepts no more bytes (a stdout reader that stopped
        // reading) can still hold the run. After a second signal, do not
        // wait for it long: what is committed stays committed (the journal
        // is as consistent as after a kill -9), and the user asked twice.
        shutdown.wait_for(2).await;
        tokio::time::sleep(STUCK_WRITER_WAIT).await;
        control.abandon.cancel();
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::StopReason;
    use crate::shutdown::Signal;

    #[test]
    fn the_first_cause_is_kept_and_hard_stops_abort() {
        let c = Control::default();
        c.stop(StopCause::Api(StopReason::PlatformDown), false);
        assert!(c.drain.is_cancelled() && !c.abort.is_cancelled());
        c.stop(StopCause::Output, true);
        assert!(c.abort.is_cancelled());
        assert_eq!(c.reason(), Some(StopCause::Api(StopReason::PlatformDown)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_drains_then_the_grace_period_aborts() {
        let control = Arc::new(Control::default());
        let (trigger, shutdown) = Shutdown::manual();
        let watcher = watch_signals(control.clone(), shutdown);
        trigger.request(Signal::Terminate);
        control.drain.cancelled().await;
        assert_eq!(control.reason(), Some(StopCause::Signal(Signal::Terminate)));
        assert!(!control.abort.is_cancelled());
        tokio::time::sleep(GRACE_PERIOD + Duration::from_millis(1)).await;
        assert!(control.abort.is_cancelled());
        watcher.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_signal_aborts_at_once() {
        let control = Arc::new(Control::default());
        let (trigger, shutdown) = Shutdown::manual();
        let watcher = watch_signals(control.clone(), shutdown);
        trigger.request(Signal::Interrupt);
        control.drain.cancelled().await;
        trigger.request(Signal::Interrupt);
        tokio::time::timeout(Duration::from_millis(10), control.abort.cancelled())
            .await
            .expect("aborted before the grace period ends");
        watcher.abort();
    }
}
