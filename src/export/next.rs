//! Catch-up in one run: a `--state` run that resumed an interrupted window
//! exports that window with its own end, and then, when the window is
//! done, goes on with the next one up to `--end`, in its own file. The two
//! windows end as two separate runs would: the watermark moves after each
//! window that is done, and the exit code is the worse of the two.

use chrono::NaiveDateTime;

use super::Report;
use crate::error::Exit;

/// Whether a run that ended in `report` goes on with the next window:
/// its window is done and the watermark moved, it exited 0 or 1, and it
/// ended before `configured_end`, the end this run's `--end` gives (it
/// resumed an interrupted run's window).
pub fn goes_on(report: &Report, configured_end: Option<NaiveDateTime>) -> bool {
    let moved = report.summary.state.as_ref().is_some_and(|s| s.moved);
    let finished = matches!(report.exit, Exit::Success | Exit::SomeFailed);
    match (report.window_end, configured_end) {
        (Some(ran_until), Some(end)) => report.window_done && moved && finished && ran_until < end,
        _ => false,
    }
}

/// The exit code of two windows run one after the other, as two separate
/// runs would report them to a scheduler: the second's, unless it was a
/// success after a first that had failed customers.
pub fn combined(first: Exit, second: Exit) -> Exit {
    match (first, second) {
        (Exit::SomeFailed, Exit::Success) => Exit::SomeFailed,
        (_, second) => second,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worse_of_two_windows_is_the_exit() {
        assert_eq!(combined(Exit::Success, Exit::Success), Exit::Success);
        assert_eq!(combined(Exit::SomeFailed, Exit::Success), Exit::SomeFailed);
        assert_eq!(combined(Exit::Success, Exit::SomeFailed), Exit::SomeFailed);
        assert_eq!(
            combined(Exit::SomeFailed, Exit::StoppedByApi),
            Exit::StoppedByApi
        );
        assert_eq!(
            combined(Exit::Success, Exit::Interrupted),
            Exit::Interrupted
        );
    }
}
