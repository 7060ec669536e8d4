//! The second stream, `contacts`: the platform's contact list, full
//! refresh, primary key `id`, to join `chat_messages.customer_id` to. Only
//! the selected properties are emitted, and a catalog made by discovery
//! leaves the personal data (`mobile`, `email`) unselected, so a pipeline
//! carries it only when asked to by name.

use serde_json::{json, Value};

use super::config::PipelineConfig;
use super::stream::{Framing, RecordEncoder};
use crate::config::ExportConfig;
use crate::error::{RunError, UsageError};
use crate::export::contact_list;
use crate::record::contact::ContactList;
use crate::record::Table;
use crate::shutdown::Shutdown;

/// The stream's name.
pub const NAME: &str = "contacts";

/// The key property.
pub const KEY: [&str; 1] = ["id"];

/// Every property, in record order.
pub const PROPERTIES: [&str; 5] = ["id", "name", "mobile", "email", "extra"];

/// The properties discovery leaves unselected: the personal data.
pub const PERSONAL: [&str; 2] = ["mobile", "email"];

/// The stream's JSON Schema.
pub fn schema() -> Value {
    let text = || json!({"type": ["string", "null"]});
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "id": {"type": "string"},
            "name": text(),
            "mobile": text(),
            "email": text(),
            "extra": {"type": ["object", "null"], "additionalProperties": true},
        }
    })
}

/// `schema()` with only `selected` properties.
pub fn schema_of(selected: &[&'static str]) -> Value {
    let mut schema = schema();
    if let Some(props) = schema["properties"].as_object_mut() {
        props.retain(|name, _| selected.contains(&name.as_str()));
    }
    schema
}

/// The properties `wanted` selects, in record order; the key always.
pub fn selected(wanted: impl Fn(&str) -> bool) -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .copied()
        .filter(|p| KEY.contains(p) || wanted(p))
        .collect()
}

/// Write the contact list as records of the `selected` properties on
/// stdout, fetched as `export --all-contacts` fetches it (the key, the
/// limiter, the retries, the mask and the pseudonyms of `config`); the
/// number of records.
pub async fn sync(
    config: &PipelineConfig,
    selected: &[&'static str],
    framing: Framing,
    shutdown: &mut Shutdown,
) -> Result<u64, RunError> {
    let export = export_config(config)?;
    let encoder = RecordEncoder::of(
        framing,
        NAME,
        Table::Contacts,
        selected,
        String::new(),
        chrono::Utc::now(),
    );
    let source = ContactList::new(
        export.contacts.request.clone(),
        export.mask.clone(),
        export.pseudonym.clone(),
    );
    let fetched = contact_list::fetch(&export, source, Box::new(encoder), shutdown).await?;
    contact_list::check_guards(&export, fetched.encoded.rows)?;
    super::write_lines(&fetched.bytes).map_err(|e| {
        RunError::ContactList(format!("cannot write the contacts stream's records: {e}"))
    })?;
    tracing::info!(
        contacts = fetched.encoded.rows,
        "the contacts stream: {} records",
        fetched.encoded.rows
    );
    Ok(fetched.encoded.rows)
}

/// The contact list's settings of a pipeline's config: `export`'s, less
/// those of the chats.
fn export_config(config: &PipelineConfig) -> Result<ExportConfig, UsageError> {
    let mut options = config.export.clone();
    options.forget_chat_settings();
    options.out = Some("-".into());
    options.format = Some(crate::output::Format::Jsonl);
    options.progress = Some(crate::console::progress::ProgressMode::Never);
    let key = config.api_key.clone();
    ExportConfig::for_contacts(options, |name| {
        (name == "YUJU_API_KEY").then(|| key.clone()).flatten()
    })
}

/// Run [`sync`] on a runtime of its own, stopped by SIGINT or SIGTERM.
pub fn run(
    config: &PipelineConfig,
    selected: &[&'static str],
    framing: Framing,
) -> Result<u64, RunError> {
    let runtime = crate::shutdown::runtime();
    let synced = runtime.block_on(async {
        let mut shutdown = Shutdown::from_signals()
            .map_err(|e| UsageError::invalid(format!("cannot install signal handlers: {e}")))?;
        sync(config, selected, framing, &mut shutdown).await
    });
    runtime.shutdown_background();
    synced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_always_selected_and_the_schema_follows_the_selection() {
        let picked = selected(|p| p == "name");
        assert_eq!(picked, ["id", "name"]);
        let schema = schema_of(&picked);
        let props = schema["properties"].as_object().unwrap();
        assert!(props.contains_key("id") && !props.contains_key("mobile"));
        assert_eq!(selected(|_| true), PROPERTIES);
    }
}
