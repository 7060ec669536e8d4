//! The man page, `yuju-export(1)`, generated from the one command-line
//! definition: the commands, then the options of `export` under the same
//! headings as its `--help`, then the exit status, the environment, the
//! files a run writes and examples.

use std::io::Write;

use clap_mangen::Man;

use crate::error::Exit;

/// Write the man page (roff) to `out`.
pub fn render(out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = crate::app::cli::command();
    let man = Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    let mut subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
    subs.sort_by_key(|sub| sub.get_name() != "export");
    for sub in subs {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(
            out,
            ".TP\n\\fByuju\\-export {}\\fR\n{}",
            roff_text(sub.get_name()),
            roff_text(&about)
        )?;
    }
    if let Some(export) = cmd.find_subcommand("export") {
        writeln!(
            out,
            ".SH EXPORT\nThe options of \\fByuju\\-export export\\fR, by group. Each may also be \
             set in the \\fB\\-\\-config\\fR file, under its long name."
        )?;
        Man::new(export.clone()).render_options_section(out)?;
    }
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for exit in Exit::ALL {
        writeln!(
            out,
            ".TP\n\\fB{}\\fR\n{}",
            exit.code(),
            roff_text(exit.meaning())
        )?;
    }
    for (heading, entries) in [
        ("ENVIRONMENT", ENVIRONMENT),
        ("FILES", FILES),
        ("EXAMPLES", EXAMPLES),
    ] {
        writeln!(out, ".SH {heading}")?;
        for (term, text) in entries {
            writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff_text(term), roff_text(text))?;
        }
    }
    writeln!(
        out,
        ".SH \"SEE ALSO\"\nThe README and docs/ of the source tree: the reference of every flag, \
         the output formats, scheduling, resume, limits and security."
    )?;
    man.render_version_section(out)
}

/// What the environment sets.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "YUJU_API_KEY",
        "The API key, when --api-key-file is not given. It is never printed, logged or written.",
    ),
    ("YUJU_BASE_URL", "The API's base URL (--base-url)."),
    (
        "HTTPS_PROXY, https_proxy, ALL_PROXY, NO_PROXY",
        "An HTTP proxy for the API's requests, a fallback proxy, and the hosts reached directly.",
    ),
    (
        "SSL_CERT_FILE",
        "A PEM file of root certificates to trust besides the system's and the bundled ones (as \
         --ca-cert adds one).",
    ),
    (
        "JOB_COMPLETION_INDEX",
        "The shard's K for --shard /N (Kubernetes Indexed Jobs).",
    ),
];

/// The files a run writes beside its output.
const FILES: &[(&str, &str)] = &[
    (
        "OUT.partial",
        "The rows so far, renamed to OUT when the run completes; kept, with the journal, when \
         a run stops after committing a customer, for --resume.",
    ),
    (
        "OUT.journal",
        "Which customers are committed and where the partial files were consistent.",
    ),
    (
        "OUT.contacts",
        "With --all-contacts: the contact list the run took its IDs from, for --resume; \
         removed with the journal.",
    ),
    (
        "OUT.staged",
        "Parquet: the rows committed since the last row group, until the run completes.",
    ),
    (
        "OUT.lock",
        "The lock that keeps two runs off one output (likewise for the state, summary, metrics \
         and failed files), removed when the run ends.",
    ),
    (
        "OUT.failed.csv",
        "The customers that failed (customer_id, error, class); --failed names another file.",
    ),
    (
        "--summary, --state and --metrics files",
        "The run's JSON summary, the watermark of a schedule, and the Prometheus textfile (mode \
         0644).",
    ),
    (
        "/etc/yuju-export/yuju-export.toml",
        "The Debian package's config file for its systemd service (any file works with --config).",
    ),
];

/// A first check, a first dump, the contact table, a nightly schedule,
/// and a retry of the failed customers.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "yuju-export doctor",
        "Check, with a few requests, that the platform behaves as the tool assumes.",
    ),
    (
        "yuju-export export --all-contacts --out chats.csv",
        "A first dump of the last 30 days of every contact's chats, with the key in YUJU_API_KEY.",
    ),
    (
        "yuju-export contacts --out contacts.csv",
        "The contact table (id, name) to join the chats to; --columns id,name,mobile adds the \
         personal data.",
    ),
    (
        "yuju-export export --ids customers.txt --out chats.csv",
        "The chats of a list of customer IDs.",
    ),
    (
        "yuju-export export --all-contacts --state state.json --start 2026-11-01 --end today \
         --tz Asia/Shanghai --out 'chats-{start}.parquet' --metrics yuju.prom --resume -q",
        "Nightly from cron: each window starts where the last completed one ended, into its own \
         file; silent unless something went wrong.",
    ),
    (
        "yuju-export export --ids chats.csv.failed.csv --out retry.csv",
        "Retry only the customers that failed last time.",
    ),
];

/// Text safe in a roff paragraph: backslashes and hyphens escaped, and no
/// line starting with a control character.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.' | '\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        let mut out = Vec::new();
        render(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_page_groups_export_options_and_lists_every_exit_code() {
        let page = page();
        let sections: Vec<&str> = page
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .collect();
        let at = |name: &str| {
            sections
                .iter()
                .position(|s| *s == name)
                .unwrap_or_else(|| panic!("{name} missing: {sections:?}"))
        };
        let groups = [
            "INPUT",
            "\"OUTPUT AND FORMATS\"",
            "\"WINDOW AND FILTERS\"",
            "\"PACING AND RETRIES\"",
            "\"NETWORK AND TLS\"",
            "\"SCHEDULE, STATE AND REPORTS\"",
            "LOGGING",
        ];
        let order: Vec<usize> = groups.iter().map(|g| at(g)).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{sections:?}");
        assert!(at("COMMANDS") < at("EXPORT") && at("EXPORT") < order[0]);
        assert!(
            page.contains("\\fByuju\\-export export\\fR"),
            "commands are listed"
        );
        assert!(at("\"EXIT STATUS\"") > order[6]);
        for exit in Exit::ALL {
            assert!(
                page.contains(&format!(".TP\n\\fB{}\\fR\n", exit.code())),
                "{exit:?}"
            );
        }
        assert!(
            page.contains("definitive\\-codes"),
            "export's options are in it"
        );
        let exit = at("\"EXIT STATUS\"");
        for (name, needle) in [
            ("ENVIRONMENT", "YUJU_API_KEY"),
            ("FILES", "OUT.journal"),
            ("EXAMPLES", "chats.csv.failed.csv"),
        ] {
            assert!(at(name) > exit, "{name}");
            assert!(page.contains(needle), "{needle}");
        }
    }

    #[test]
    fn roff_text_is_escaped() {
        assert_eq!(roff_text(".x -y \\z"), "\\&.x \\-y \\\\z");
    }
}
