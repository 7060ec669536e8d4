//! What the operator reads at the end of a run: the summary line, why the
//! run stopped and what to do next, in the words of the front door that
//! speaks to them ([`Vocabulary`]: flags for the command line, config keys
//! for a pipeline).

use crate::error::Exit;
use crate::export::end::exit::StoppedBecause;
use crate::export::end::summary::Summary;
use crate::export::Report;

/// How a front door names what its operator can change.
pub trait Vocabulary {
    /// How to give setting `field` (a field of the one list of settings)
    /// the value `value`: `--definitive-codes 4004`, `--accept-empty`.
    fn setting(&self, field: &str, value: &str) -> String;
    /// Whether failed customers are listed in a failed file (otherwise
    /// each is only logged).
    fn lists_failures(&self) -> bool;
}

/// The command line's words: flags.
pub struct Flags;

impl Vocabulary for Flags {
    fn setting(&self, field: &str, value: &str) -> String {
        let flag = format!("--{}", field.replace('_', "-"));
        match value {
            "true" => flag,
            value => format!("{flag} {value}"),
        }
    }

    fn lists_failures(&self) -> bool {
        true
    }
}

/// Print the error, the summary line and what to do next.
pub fn explain(report: &Report, words: &dyn Vocabulary) {
    if let Some(e) = &report.error {
        tracing::error!("{e:#}");
    }
    explain_summary(&report.summary, report.exit, words);
}

/// Print the summary line and what to do next.
fn explain_summary(s: &Summary, exit: Exit, words: &dyn Vocabulary) {
    explain_run(s, exit, words);
    explain_codes(s, words);
    if let Some(why) = s.state.as_ref().and_then(|st| st.empty_night.as_deref()) {
        let accept = words.setting("accept_empty", "true");
        tracing::warn!(
            "{why}. The watermark is held and the next run exports this window again; if the \
             window really had no chat, run again with {accept}"
        );
    }
    if let Some(state) = s.state.as_ref().filter(|st| !st.moved) {
        tracing::warn!(
            "{state}: the next run with --state {} exports this window again",
            state.file
        );
    }
}

/// Name the codes the run had to judge by itself, and how to declare
/// them: a warning for a code nobody has classified (its customers failed
/// and hold the watermark), a note for one taken for a passing fault.
fn explain_codes(s: &Summary, words: &dyn Vocabulary) {
    use crate::api::CodeClass;
    for c in &s.api_codes {
        let declare = format!(
            "If you know what it means, declare it: {} (final: not retried, the watermark \
             moves) or {} (retried)",
            words.setting("definitive_codes", &c.code),
            words.setting("transient_codes", &c.code),
        );
        match c.class {
            CodeClass::Unknown => tracing::warn!(
                "the API answered Code {} {} time(s) ({}), a code nobody has classified: \
                 retried once, then its customers failed and hold the --state watermark. \
                 {declare}",
                c.code,
                c.answers,
                c.example
            ),
            CodeClass::Transient | CodeClass::Throttled => tracing::info!(
                "the API answered Code {} {} time(s) ({}), taken as {} and retried. {declare}",
                c.code,
                c.answers,
                c.example,
                c.class.name()
            ),
            CodeClass::Definitive => {}
        }
    }
}

fn explain_run(s: &Summary, exit: Exit, words: &dyn Vocabulary) {
    if s.stopped_because == Some(StoppedBecause::StateError) {
        tracing::warn!("{s}");
        tracing::error!(
            "the export is complete{}, but the state file was not written (see above)",
            s.output
                .as_deref()
                .map(|o| format!(" in {o}"))
                .unwrap_or_default()
        );
        return;
    }
    match exit {
        Exit::Success => tracing::info!("{s}"),
        Exit::SomeFailed if s.customers.failed == 0 => tracing::warn!("{s}"),
        Exit::SomeFailed => {
            tracing::warn!("{s}");
            if let Some(f) = &s.failed_file {
                tracing::warn!(
                    "{} customer(s) failed; they are listed in {f} (pass it as --ids to retry them)",
                    s.customers.failed
                );
            } else if !words.lists_failures() {
                tracing::warn!(
                    "{} customer(s) failed (each is logged above)",
                    s.customers.failed
                );
            } else {
                tracing::warn!(
                    "{} customer(s) failed (no failed file: pass --failed PATH)",
                    s.customers.failed
                );
            }
        }
        _ => {
            tracing::warn!("{s}");
            let kept = s
                .partial_output
                .as_deref()
                .map(|p| format!("; the rows fetched so far are kept in {p}"))
                .unwrap_or_default();
            let next = if s.resumable {
                "Run the same command with --resume to continue where it stopped"
            } else {
                "Run the same command again to export them all"
            };
            tracing::warn!(
                "the run did not finish: {} of {} customers exported{kept}. {next}",
                s.customers.total - s.customers.not_done,
                s.customers.total
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_as_typed() {
        assert_eq!(Flags.setting("accept_empty", "true"), "--accept-empty");
        assert_eq!(
            Flags.setting("definitive_codes", "4004"),
            "--definitive-codes 4004"
        );
    }
}
