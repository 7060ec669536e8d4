//! The contact list's settings: its filters and the guards on what comes
//! back, for `export --all-contacts` and the `contacts` command alike.

use crate::api::contacts::{ContactFilter, ListRequest};
use crate::config::options::ExportOptions;
use crate::error::UsageError;
use crate::record::Table;

/// How the contact list is asked for and what a run accepts of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactsPlan {
    /// The list's request: its filters.
    pub request: ListRequest,
    /// Take an empty list as real (`--allow-empty-contacts`).
    pub allow_empty: bool,
    /// Fewer contacts than this stops the run (`--min-contacts`).
    pub min: Option<u64>,
    /// What the list held once fetched (set by the run, before its first
    /// chat request): for the summary, the metrics and the state.
    pub fetched: Option<ListFacts>,
}

/// What the contact list held when a run fetched it (or took it from the
/// interrupted run it resumed).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ListFacts {
    /// Contacts in the list, before `--shard`.
    pub contacts: u64,
    /// Contacts left out because their `id` cannot be sent (empty, or
    /// holding whitespace, a quote or a comma): counted, never silent.
    pub unusable_ids: u64,
    /// Whether the list is the one kept from the interrupted run resumed.
    pub kept_from_interrupted_run: bool,
    /// What the last completed `--state` window's list held.
    pub previous: Option<u64>,
    /// A warning about the list (a sharp fall since the last window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// The plan of `o`, for a run writing `table`; its settings are refused
/// where no list is fetched (an `export` with `--ids`).
pub(super) fn plan(o: &ExportOptions, table: Table) -> Result<ContactsPlan, UsageError> {
    let filters = o
        .contact_filters
        .iter()
        .map(|f| ContactFilter::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError::invalid(format!("--contact-filter {e}")))?;
    let fetched = table == Table::Contacts || o.all_contacts;
    if !fetched && (!filters.is_empty() || o.allow_empty_contacts || o.min_contacts.is_some()) {
        return Err(UsageError::invalid(
            "--contact-filter, --allow-empty-contacts and --min-contacts apply to the contact \
             list: add --all-contacts (or run `yuju-export contacts`)",
        ));
    }
    if o.min_contacts == Some(0) {
        return Err(UsageError::invalid(
            "--min-contacts 0 guards nothing: give at least 1, or leave it out",
        ));
    }
    Ok(ContactsPlan {
        request: ListRequest { filters },
        allow_empty: o.allow_empty_contacts,
        min: o.min_contacts,
        fetched: None,
    })
}

/// The `contacts` command's settings from `given` (its command line):
/// `export`'s own settings refused there, and ignored in a shared
/// `--config` file once layered (see [`ExportOptions::without_chat_settings`]).
pub(super) fn refuse_chat_settings(given: &ExportOptions) -> Result<(), UsageError> {
    let refused = given.chat_only_given();
    if refused.is_empty() {
        return Ok(());
    }
    Err(UsageError::invalid(format!(
        "{} of `export`: the contact list takes no {}",
        if refused.len() == 1 {
            format!("{} is a setting", refused[0])
        } else {
            format!("{} are settings", refused.join(", "))
        },
        if refused.len() == 1 {
            "such setting"
        } else {
            "such settings"
        }
    )))
}
