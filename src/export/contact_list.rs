//! The contact list, fetched once: the IDs of an `--all-contacts` run
//! ([`ids_for_run`]) and the rows of the `contacts` command ([`fetch`]).
//!
//! The one request goes through the same client, limiter, retries and
//! envelope classes as every chat request ([`Fetcher`]). A list that
//! cannot be had stops the run before any chat is asked for
//! ([`ListError`]): a run of nothing would move the `--state` watermark.
//! The list of an `--all-contacts` run is kept beside its partial output
//! (`<out>.contacts`, written when the output is opened afresh, removed
//! with the journal), so `--resume` goes on with exactly the same IDs.

use std::sync::Arc;

use super::control::Control;
use super::fetch::Fetcher;
use super::outcome::{FailureKind, Outcome, StopCause};
use crate::api::bufpool::BufPool;
use crate::config::{ExportConfig, ListFacts, ResumeMode};
use crate::error::RunError;
use crate::output::{encoder, CsvOptions, Format};
use crate::record::contact::ContactList;
use crate::record::{Column, Encoded, RowEncoder};
use crate::shutdown::Shutdown;
use crate::store::input::{id_problem, read_ids, IdList, Source};

/// A list that shrank to less than this share of the last window's is
/// warned about.
const SHRINK_WARNING: f64 = 0.5;

/// The list, as rows in the encoder's format, and how it was had.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub encoded: Encoded,
    /// The machinery the request went through: its counts, its limiter.
    pub fetcher: Arc<Fetcher>,
}

/// Why there is no list.
#[derive(Debug)]
pub enum ListError {
    /// The platform rejected the request's filters (a definitive `Code`,
    /// its `Msg` quoted): exit 2.
    Rejected(String),
    /// Refused (a bad key, the quota), failed for good, or down: exit 3.
    Failed(String),
    /// A signal came while the list was being fetched.
    Interrupted(crate::shutdown::Signal),
}

impl From<ListError> for RunError {
    fn from(e: ListError) -> RunError {
        match e {
            ListError::Rejected(what) => RunError::Usage(crate::error::UsageError::Invalid(what)),
            ListError::Failed(what) => RunError::ContactList(what),
            ListError::Interrupted(signal) => RunError::Interrupted(signal),
        }
    }
}

/// Fetch the list of `config` once from `source`, its rows encoded by
/// `encoder`.
pub async fn fetch(
    config: &ExportConfig,
    source: ContactList,
    encoder: Box<dyn RowEncoder>,
    shutdown: &mut Shutdown,
) -> Result<Fetched, ListError> {
    let buffers = Arc::new(BufPool::new(8 << 20, 4));
    let fetcher = Arc::new(
        super::fetcher(config, Box::new(source), encoder, &buffers, 1)
            .map_err(|e| ListError::Failed(e.to_string()))?,
    );
    let control = Control::default();
    let permit = fetcher.permit().await;
    let outcome = tokio::select! {
        outcome = fetcher.fetch(&control, "", permit) => outcome,
        signal = shutdown.wait_for(1) => return Err(ListError::Interrupted(signal)),
    };
    let filtered = !config.contacts.request.filters.is_empty();
    let (bytes, encoded) = match outcome {
        Outcome::Rows { bytes, encoded } => (bytes, encoded),
        Outcome::Empty { .. } => (Vec::new(), Encoded::default()),
        Outcome::Failed(f) if f.kind == FailureKind::Api && filtered => {
            return Err(ListError::Rejected(format!(
                "the platform rejected the contact list's filter ({}): {}",
                filters_shown(config),
                f.message
            )))
        }
        Outcome::Failed(f) => {
            return Err(ListError::Failed(format!(
                "the contact list could not be fetched ({}): {}",
                f.kind.name(),
                f.message
            )))
        }
        Outcome::NotDone => {
            return Err(match control.reason() {
                Some(StopCause::Signal(signal)) => ListError::Interrupted(signal),
                Some(StopCause::Api(reason)) => ListError::Failed(format!(
                    "the contact list could not be fetched: {}",
                    reason.message()
                )),
                _ => ListError::Failed("the contact list could not be fetched".into()),
            })
        }
    };
    Ok(Fetched {
        bytes,
        encoded,
        fetcher,
    })
}

fn filters_shown(config: &ExportConfig) -> String {
    let shown: Vec<String> = config
        .contacts
        .request
        .filters
        .iter()
        .map(|f| f.to_string())
        .collect();
    shown.join(", ")
}

/// The IDs of an `--all-contacts` run: the interrupted run's kept list
/// when it is resumed, else the list fetched now, this shard's part of
/// it. Sets `config.contacts.fetched`. Errors stop the run before any
/// chat request.
pub async fn ids_for_run(
    config: &mut ExportConfig,
    shutdown: &mut Shutdown,
) -> Result<IdList, RunError> {
    let (mut ids, mut facts) = match kept_list(config)? {
        Some(kept) => kept,
        None => fetch_ids(config, shutdown).await?,
    };
    facts.previous = config.state.as_ref().and_then(|s| s.last_contacts);
    if let Some(previous) = facts.previous {
        if (facts.contacts as f64) < SHRINK_WARNING * previous as f64 {
            let warning = format!(
                "the contact list holds {} contacts, less than half of the {previous} the \
                 last completed window's held: the platform may have cut it short (no paging \
                 is documented); --min-contacts N makes such a list stop the run",
                facts.contacts
            );
            tracing::warn!("{warning}");
            facts.warning = Some(warning);
        }
    }
    if let Some(shard) = config.shard {
        let before = ids.len();
        ids.retain(|id| shard.contains(id));
        tracing::info!("shard {shard}: {} of {before} contacts", ids.len());
    }
    config.contacts.fetched = Some(facts);
    Ok(ids)
}

/// The list kept by the interrupted run of the output, when this run may
/// resume it (not under `--restart`).
fn kept_list(config: &ExportConfig) -> Result<Option<(IdList, ListFacts)>, RunError> {
    let Some(out) = config.files.out.file() else {
        return Ok(None);
    };
    if config.resume == ResumeMode::Restart || !crate::store::paths::partial(out).exists() {
        return Ok(None);
    }
    let kept = crate::store::paths::contact_list(out);
    let Some(ids) = read_kept(&kept)? else {
        return Ok(None);
    };
    tracing::info!(
        "the contact list of the interrupted run ({} contacts, kept in {}) is the one \
         this run goes on with",
        ids.len(),
        kept.display()
    );
    let facts = ListFacts {
        contacts: ids.len() as u64,
        kept_from_interrupted_run: true,
        ..ListFacts::default()
    };
    Ok(Some((ids, facts)))
}

/// The IDs of the list kept at `path`, if one is: a regular file of the
/// run's own, never read through a link (it may have been planted to send
/// another file's lines to the platform as IDs).
pub fn read_kept(path: &std::path::Path) -> Result<Option<IdList>, crate::error::UsageError> {
    use crate::store::safefs::{occupant, refused, Occupant};
    let read_error = |source| crate::error::UsageError::Read {
        path: path.to_path_buf(),
        source,
    };
    match occupant(path).map_err(read_error)? {
        Occupant::Nothing => Ok(None),
        Occupant::Refused(what) => Err(crate::error::UsageError::invalid(format!(
            "the kept contact list {}",
            refused(path, what)
        ))),
        Occupant::Regular => read_ids(&Source::File(path.to_path_buf())).map(Some),
    }
}

/// Fetch the list and check it against the run's guards.
async fn fetch_ids(
    config: &ExportConfig,
    shutdown: &mut Shutdown,
) -> Result<(IdList, ListFacts), RunError> {
    // The IDs as the platform gives them: no mask, no pseudonym.
    let source = ContactList::new(config.contacts.request.clone(), None, None);
    let ids_only = encoder(Format::Jsonl, &[Column::Id], CsvOptions::default());
    let fetched = fetch(config, source, ids_only, shutdown).await?;
    let mut ids = Vec::new();
    let mut unusable = Vec::new();
    for line in fetched
        .bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let id = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_string))
            .unwrap_or_default();
        // A line starting with `#` is a comment where the list is kept.
        match id_problem(&id) {
            None if id.starts_with('#') => {
                unusable.push(format!("customer ID {id:?} starts with #"))
            }
            None => ids.push(id),
            Some(problem) => unusable.push(problem),
        }
    }
    let contacts = fetched.encoded.rows;
    tracing::info!(
        contacts,
        requests = fetched.fetcher.stats.requests(),
        "the contact list holds {contacts} contacts"
    );
    if !unusable.is_empty() {
        tracing::warn!(
            "{} of the contact list's {contacts} contacts are left out: no request can \
             carry their id (the first: {})",
            unusable.len(),
            unusable[0]
        );
    }
    check_guards(config, contacts)?;
    let facts = ListFacts {
        contacts,
        unusable_ids: unusable.len() as u64,
        ..ListFacts::default()
    };
    Ok((IdList::from_ids(ids.iter().map(String::as_str)), facts))
}

/// An empty list (without `--allow-empty-contacts`) or one shorter than
/// `--min-contacts` stops the run.
pub fn check_guards(config: &ExportConfig, contacts: u64) -> Result<(), RunError> {
    let plan = &config.contacts;
    if contacts == 0 && !plan.allow_empty {
        return Err(RunError::ContactList(format!(
            "the contact list came back empty{}: no chat was asked for, and the --state \
             watermark, if any, stays where it was. If an empty list is expected, pass \
             --allow-empty-contacts",
            if plan.request.filters.is_empty() {
                String::new()
            } else {
                format!(" for the filter {}", filters_shown(config))
            }
        )));
    }
    if let Some(min) = plan.min.filter(|&min| contacts < min) {
        return Err(RunError::ContactList(format!(
            "the contact list holds {contacts} contacts, fewer than --min-contacts {min}: \
             no chat was asked for, and the --state watermark, if any, stays where it was"
        )));
    }
    Ok(())
}

/// Write the IDs of an `--all-contacts` run beside its output
/// (`<out>.contacts`), for `--resume`: one per line, as `--ids` reads
/// them.
pub fn keep_list(
    out: &std::path::Path,
    ids: &IdList,
    mode: crate::store::safefs::FileMode,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let path = crate::store::paths::contact_list(out);
    let mut text = String::from(
        "# the contact list of an --all-contacts run: --resume goes on with these IDs\n",
    );
    for id in ids.iter() {
        text.push_str(id);
        text.push('\n');
    }
    crate::store::safefs::write_atomic(&path, text.as_bytes(), mode)
        .with_context(|| format!("cannot keep the contact list in {}", path.display()))
}
