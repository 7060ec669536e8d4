//! The file plan: which path plays which role in a run, decided and
//! checked once, and used by the run and by `--dry-run` alike.

use std::path::{Path, PathBuf};

use crate::config::options::ExportOptions;
use crate::config::template;
use crate::error::UsageError;
use crate::output::Target;
use crate::store::input::Source;
use crate::store::safefs;
use crate::store::state::StateSettings;

/// The files a run reads and writes, templates expanded.
#[derive(Debug, Clone)]
pub struct FilePlan {
    pub ids: Source,
    pub out: Target,
    pub failed: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
}

impl FilePlan {
    pub fn resolve(
        o: &ExportOptions,
        vars: &template::Vars,
        state: Option<&StateSettings>,
    ) -> Result<FilePlan, UsageError> {
        let expand = |p: Option<PathBuf>, flag: &str| -> Result<Option<PathBuf>, UsageError> {
            match p {
                Some(p) if p.as_os_str() != "-" => template::expand(&p, flag, vars).map(Some),
                other => Ok(other),
            }
        };
        let ids = match o.ids.clone() {
            Some(_) if o.all_contacts => {
                return Err(UsageError::invalid(
                    "--ids and --all-contacts exclude each other: give the IDs, or take \
                     them from the contact list",
                ))
            }
            _ if o.all_contacts => Source::Contacts,
            Some(p) if p.as_os_str() == "-" => Source::Stdin,
            Some(p) => Source::File(p),
            None => {
                return Err(UsageError::invalid(
                    "--ids is required: a file of customer IDs, or - for stdin (or \
                     --all-contacts, to take them from the platform's contact list)",
                ))
            }
        };
        let out = match expand(o.out.clone(), "--out")? {
            Some(p) if p.as_os_str() == "-" => Target::Stdout,
            Some(p) => Target::of_path(p)?,
            None => {
                return Err(UsageError::invalid(
                    "--out is required: the output file, or - for stdout",
                ))
            }
        };
        let failed = match expand(o.failed.clone(), "--failed")? {
            Some(p) => Some(p),
            None => out.file().map(crate::store::paths::default_failed),
        };
        let summary = expand(o.summary.clone(), "--summary")?;
        let metrics = o
            .metrics
            .as_deref()
            .map(|p| template::expand_fixed(p, "--metrics", vars.shard))
            .transpose()?;
        let files = FilePlan {
            ids,
            out,
            failed,
            summary,
            state: state.map(|s| s.path.clone()),
            metrics,
        };
        files.check_folders()?;
        files.check()?;
        Ok(files)
    }

    /// Every file the run may write must go into a folder that exists:
    /// a missing one is named as a folder, before anything else is said
    /// of the files in it (the run and `--dry-run` alike).
    fn check_folders(&self) -> Result<(), UsageError> {
        let written = [
            ("--out", self.out.file()),
            ("--failed", self.failed.as_deref()),
            ("--summary", self.summary.as_deref()),
            ("--state", self.state.as_deref()),
            ("--metrics", self.metrics.as_deref()),
        ];
        for (flag, path) in written {
            let Some(path) = path else { continue };
            let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) else {
                continue;
            };
            match std::fs::metadata(folder) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(UsageError::invalid(format!(
                        "{flag} {}: {} is not a folder",
                        path.display(),
                        folder.display()
                    )))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(UsageError::invalid(format!(
                        "{flag} {}: the folder {} does not exist; create it first (mkdir -p {})",
                        path.display(),
                        folder.display(),
                        folder.display()
                    )))
                }
                // Not readable, say: the checks that try to create the
                // files say what is wrong with them.
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// The files a run writes at its end or only when needed (the failed
    /// file, the summary, the metrics, the state), each with its name:
    /// checked creatable before any request, by the run and the dry run.
    pub fn reports(&self) -> Vec<(&'static str, &Path)> {
        [
            ("failed file", self.failed.as_deref()),
            ("summary", self.summary.as_deref()),
            ("metrics file", self.metrics.as_deref()),
            ("state file", self.state.as_deref()),
        ]
        .into_iter()
        .filter_map(|(what, path)| path.map(|p| (what, p)))
        .collect()
    }

    /// Check, before any request, that every file of [`Self::reports`]
    /// can be created (a typo in its directory must not cost a run).
    pub fn check_reports_creatable(&self) -> Result<(), UsageError> {
        for (what, path) in self.reports() {
            crate::output::check_creatable(path, what)?;
        }
        Ok(())
    }

    /// The files another run could be given too, locked for the whole run
    /// in this order: the state file first (two runs of one schedule),
    /// then the output, a failed file other than the output's own, the
    /// summary, the metrics.
    pub fn locked(&self) -> Vec<&Path> {
        let out = self.out.file();
        let own_failed = out.map(crate::store::paths::default_failed);
        let failed = self
            .failed
            .as_deref()
            .filter(|f| Some(*f) != own_failed.as_deref());
        [
            self.state.as_deref(),
            out,
            failed,
            self.summary.as_deref(),
            self.metrics.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Every file the run reads or writes, by role.
    pub fn roles(&self) -> Vec<(String, PathBuf)> {
        let mut all = Vec::new();
        if let Source::File(p) = &self.ids {
            all.push(("--ids".to_string(), p.clone()));
        }
        if let Some(out) = self.out.file() {
            all.push(("--out".into(), out.to_path_buf()));
            all.push((
                "the partial output".into(),
                crate::store::paths::partial(out),
            ));
            all.push(("the journal".into(), crate::store::paths::journal(out)));
            all.push(("the output's lock".into(), crate::store::paths::lock(out)));
            all.push((
                "the staged rows (Parquet)".into(),
                crate::store::paths::staged(out),
            ));
        }
        if let Some(f) = &self.failed {
            all.push(("--failed".into(), f.clone()));
            all.push((
                "the partial failed file".into(),
                crate::store::paths::partial(f),
            ));
            all.push((
                "the failed file's lock".into(),
                crate::store::paths::lock(f),
            ));
        }
        if let Some(s) = &self.summary {
            all.push(("--summary".into(), s.clone()));
            all.push(("the summary's lock".into(), crate::store::paths::lock(s)));
        }
        if let Some(s) = &self.state {
            all.push(("--state".into(), s.clone()));
            all.push(("the state file's lock".into(), crate::store::paths::lock(s)));
        }
        if let Some(m) = &self.metrics {
            all.push(("--metrics".into(), m.clone()));
            all.push((
                "the metrics file's lock".into(),
                crate::store::paths::lock(m),
            ));
        }
        all
    }

    /// No two roles may name one file (compared after resolving their
    /// directories and links), and no file the run writes may be a link
    /// or anything but a regular file (`--out` itself excepted: see
    /// [`Target::of_path`]).
    fn check(&self) -> Result<(), UsageError> {
        let roles = self.roles();
        let resolved: Vec<PathBuf> = roles.iter().map(|(_, p)| safefs::resolved(p)).collect();
        for (i, (role, path)) in roles.iter().enumerate() {
            if let Some(j) = (0..i).find(|&j| resolved[j] == resolved[i]) {
                let (other, other_path) = &roles[j];
                return Err(UsageError::invalid(format!(
                    "{other} ({}) and {role} ({}) are the same file: give them different paths",
                    other_path.display(),
                    path.display()
                )));
            }
        }
        for (role, path) in &roles {
            if role == "--ids" || role == "--out" {
                continue;
            }
            safefs::check_writable_name(path)
                .map_err(|e| UsageError::invalid(format!("{role}: {e}")))?;
        }
        Ok(())
    }
}
