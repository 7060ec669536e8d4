//! Path templates: `{date}`, `{start}`, `{end}` and `{shard}` in `--out`,
//! `--failed` and `--summary`, so a crontab line can write
//! `--out 'dumps/chats-{date}.csv.gz'` without shell date arithmetic (and
//! without crontab's `%` trap).

use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, Timelike};

use crate::config::shard::Shard;
use crate::error::UsageError;

/// Values the placeholders take.
#[derive(Debug, Clone)]
pub struct Vars {
    /// Today, in `--tz`.
    pub today: chrono::NaiveDate,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    pub shard: Option<Shard>,
}

/// A time as a file-name-safe string: `2026-11-25`, or `2026-11-25T083000`
/// when it is not midnight.
fn stamp(t: NaiveDateTime) -> String {
    if t.time().num_seconds_from_midnight() == 0 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H%M%S").to_string()
    }
}

/// Expand the placeholders of `path` (named `flag` in errors).
pub fn expand(path: &Path, flag: &str, vars: &Vars) -> Result<PathBuf, UsageError> {
    let Some(text) = path.to_str() else {
        return Ok(path.to_path_buf());
    };
    if !text.contains('{') {
        return Ok(path.to_path_buf());
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| UsageError::invalid(format!("{flag} {text:?}: a '{{' is not closed")))?;
        let name = &after[..close];
        let missing =
            |what: &str| UsageError::invalid(format!("{flag} {text:?}: {{{name}}} needs {what}"));
        let value = match name {
            "date" => vars.today.format("%Y-%m-%d").to_string(),
            "start" => stamp(vars.start.ok_or_else(|| missing("--start"))?),
            "end" => stamp(vars.end.ok_or_else(|| missing("--end"))?),
            "shard" => {
                let s = vars.shard.ok_or_else(|| missing("--shard"))?;
                format!("{}of{}", s.index, s.count)
            }
            other => {
                return Err(UsageError::invalid(format!(
                    "{flag} {text:?}: unknown placeholder {{{other}}}; use {{date}}, {{start}}, {{end}} or {{shard}}"
                )))
            }
        };
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(PathBuf::from(out))
}

/// Expand a path that must name the same file on every run (`--state`,
/// `--metrics`): only `{shard}` may be used.
pub fn expand_fixed(path: &Path, flag: &str, shard: Option<Shard>) -> Result<PathBuf, UsageError> {
    if let Some(text) = path.to_str() {
        for name in ["{date}", "{start}", "{end}"] {
            if text.contains(name) {
                return Err(UsageError::invalid(format!(
                    "{flag} {text:?}: {name} would name another file on every run; \
                     only {{shard}} may be used here"
                )));
            }
        }
    }
    let vars = Vars {
        today: chrono::NaiveDate::MIN,
        start: None,
        end: None,
        shard,
    };
    expand(path, flag, &vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn vars() -> Vars {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        Vars {
            today: d(2026, 11, 26),
            start: Some(d(2026, 11, 25).and_hms_opt(0, 0, 0).unwrap()),
            end: Some(d(2026, 11, 25).and_hms_opt(8, 30, 0).unwrap()),
            shard: Some(Shard { index: 2, count: 4 }),
        }
    }

    #[test]
    fn placeholders_expand() {
        let p = expand(
            Path::new("d/chats-{date}-{start}_{end}.{shard}.csv"),
            "--out",
            &vars(),
        )
        .unwrap();
        assert_eq!(
            p,
            PathBuf::from("d/chats-2026-11-26-2026-11-25_2026-11-25T083000.2of4.csv")
        );
        assert_eq!(
            expand(Path::new("plain.csv"), "--out", &vars()).unwrap(),
            PathBuf::from("plain.csv")
        );
    }

    #[test]
    fn unknown_or_unfilled_placeholders_are_errors() {
        assert!(expand(Path::new("{dat}.csv"), "--out", &vars())
            .unwrap_err()
            .to_string()
            .contains("unknown placeholder"));
        let mut v = vars();
        v.shard = None;
        assert!(expand(Path::new("{shard}.csv"), "--out", &v)
            .unwrap_err()
            .to_string()
            .contains("--shard"));
        assert!(expand(Path::new("{date.csv"), "--out", &v).is_err());
    }

    #[test]
    fn fixed_paths_take_the_shard_only() {
        let shard = Some(Shard { index: 1, count: 4 });
        assert_eq!(
            expand_fixed(Path::new("s-{shard}.json"), "--state", shard).unwrap(),
            PathBuf::from("s-1of4.json")
        );
        let err = expand_fixed(Path::new("s-{date}.json"), "--state", shard).unwrap_err();
        assert!(err.to_string().contains("only {shard}"), "{err}");
    }
}
