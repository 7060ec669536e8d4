//! The docs stay true to the tool: every flag of `export --help` is in the
//! flag reference, and every relative link in the README and `docs/`
//! points at a file that exists and a heading it has.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files a reader is sent to.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![
        root().join("README.md"),
        root().join("CONTRIBUTING.md"),
        root().join("bench/RESULTS.md"),
    ];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The long flags `yuju-export export --help` lists.
fn export_flags() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_yuju-export"))
        .args(["export", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("-")
                .filter(|r| r.len() > 2 && r.as_bytes()[1] == b',')
                .map(|r| r[2..].trim_start())
                .unwrap_or(l);
            let flag = l.strip_prefix("--")?;
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!name.is_empty()).then(|| format!("--{name}"))
        })
        .collect()
}

/// A heading's anchor as GitHub makes it.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// The relative link targets of a Markdown file: `](target)`, outside
/// code blocks, without web links.
fn links(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = &rest[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                out.push(target.to_string());
            }
        }
    }
    out
}

/// Every long flag of `export --help` has its row in the flag reference.
#[test]
fn every_export_flag_is_in_the_flag_reference() {
    let reference = std::fs::read_to_string(root().join("docs/reference.md")).unwrap();
    let flags = export_flags();
    assert!(flags.len() > 40, "{flags:?}");
    let missing: Vec<&String> = flags
        .iter()
        .filter(|f| !reference.contains(&format!("`{f}")))
        .collect();
    assert!(missing.is_empty(), "not in docs/reference.md: {missing:?}");
}

/// Every relative link of the README, CONTRIBUTING, the benchmark results
/// and `docs/` names a file that exists, and an anchor its headings have.
#[test]
fn relative_links_point_at_something() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for link in links(&text) {
            let (path, fragment) = match link.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            let shown = format!("{}: {link}", page.strip_prefix(root()).unwrap().display());
            if !target.exists() {
                broken.push(shown);
                continue;
            }
            if let Some(fragment) = fragment {
                let is_md = target.extension().is_some_and(|e| e == "md");
                if is_md && !anchors(&std::fs::read_to_string(&target).unwrap()).contains(fragment)
                {
                    broken.push(shown);
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

/// The README stays a five-minute read: the rest lives in `docs/`.
#[test]
fn the_readme_is_short_and_maps_the_docs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.len() <= 15_000, "README is {} bytes", readme.len());
    for page in pages().iter().skip(1) {
        let rel = page.strip_prefix(root()).unwrap();
        assert!(
            readme.contains(&format!("({})", rel.display())),
            "the README does not link {}",
            rel.display()
        );
    }
    assert!(Path::new(&root().join("docs/reference.md")).exists());
}

/// Each declared range reads the same in the flag reference.
#[test]
fn the_reference_states_each_declared_range() {
    let reference = std::fs::read_to_string(root().join("docs/reference.md")).unwrap();
    for limit in yuju_export::config::LIMITS {
        let row = reference
            .lines()
            .find(|l| l.starts_with(&format!("| `{} ", limit.flag())))
            .unwrap_or_else(|| panic!("no row for {}", limit.flag()));
        assert!(row.contains(&limit.shown()), "{row}");
    }
}
