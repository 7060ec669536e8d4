//! The man page, `yuju-export(1)`, generated from the one command-line
//! definition: the commands, then the options of `export` under the same
//! headings as its `--help`, then the exit status.

use std::io::Write;

use clap_mangen::Man;

use crate::error::Exit;

/// Write the man page (roff) to `out`.
pub fn render(out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = crate::cli::command();
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
    man.render_version_section(out)
}

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
    }

    #[test]
    fn roff_text_is_escaped() {
        assert_eq!(roff_text(".x -y \\z"), "\\&.x \\-y \\\\z");
    }
}
