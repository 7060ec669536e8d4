//! Shared helpers: a simulator on its own runtime, a temporary work
//! directory, the real binary, and readers that parse outputs back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use clap::Parser;
use yuju_export::app::cli::{Cli, Command as Command_};
use yuju_export::config::ExportConfig;
use yuju_export::export::{self, Report};
use yuju_export::shutdown::{Shutdown, Signal};
use yuju_export::simulator::{self, data, DataProfile, Scenario, SimStats, Simulator};

pub const KEY: &str = "test-key-5f3c9a1d7e";

/// A simulator running on a runtime of its own, so plain `#[test]`s can run
/// the binary against it.
pub struct Sim {
    pub sim: Simulator,
    _rt: tokio::runtime::Runtime,
}

impl Sim {
    pub fn start(scenario: Scenario) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt.block_on(simulator::start(scenario)).unwrap();
        Sim { sim, _rt: rt }
    }

    /// A simulator on a given address (to bring a platform "back up" on the
    /// port a run was using).
    pub fn start_on(addr: std::net::SocketAddr, scenario: Scenario) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt.block_on(simulator::start_on(addr, scenario)).unwrap();
        Sim { sim, _rt: rt }
    }

    /// A healthy simulator accepting [`KEY`].
    pub fn healthy() -> Sim {
        Sim::start(scenario())
    }

    pub fn url(&self) -> String {
        self.sim.base_url()
    }

    pub fn stats(&self) -> &Arc<SimStats> {
        &self.sim.stats
    }

    pub fn requests(&self) -> u64 {
        self.sim.stats.requests.load(Relaxed)
    }

    /// Wait until the simulator has received at least `n` requests in all,
    /// however slowly a loaded machine starts the run.
    pub fn wait_for_requests(&self, n: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.requests() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the simulator saw {} requests of {n} in 60 s",
                self.requests()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// The default test scenario: the test key, no faults.
pub fn scenario() -> Scenario {
    Scenario {
        api_key: KEY.into(),
        ..Scenario::default()
    }
}

/// A temporary directory for one test.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a file and return its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Write IDs one per line.
    pub fn ids<S: AsRef<str>>(&self, name: &str, ids: &[S]) -> PathBuf {
        let text: String = ids.iter().map(|s| format!("{}\n", s.as_ref())).collect();
        self.write(name, text)
    }

    /// A command for the real binary, with the key in the environment and
    /// the working directory set to this workdir.
    pub fn cmd(&self, sim: &Sim) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_yuju-export"));
        c.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("YUJU_API_KEY", KEY)
            .env("YUJU_BASE_URL", sim.url())
            .stdin(Stdio::null());
        c
    }

    /// Run `export` with these extra arguments.
    pub fn export(&self, sim: &Sim, args: &[&str]) -> Output {
        let mut c = self.cmd(sim);
        c.arg("export").args(args);
        c.output().unwrap()
    }

    /// Run `export --ids ids.txt --out <out>` with these extra arguments:
    /// the common invocation.
    pub fn export_to(&self, sim: &Sim, out: &str, extra: &[&str]) -> Output {
        let mut args = vec!["--ids", "ids.txt", "--out", out];
        args.extend(extra);
        self.export(sim, &args)
    }

    /// Start `export` without waiting.
    pub fn spawn_export(&self, sim: &Sim, args: &[&str]) -> Child {
        let mut c = self.cmd(sim);
        c.arg("export")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    }

    /// Run `export` with `args` in this process, through the library, and
    /// ask it to stop (as Ctrl-C does, through [`Shutdown::manual`]) once
    /// the simulator has received `after` more requests. File arguments are
    /// taken relative to the workdir, as the binary's are.
    pub fn interrupt_in_process(&self, sim: &Sim, args: &[&str], after: u64) -> Report {
        let mut argv = vec!["yuju-export".to_string(), "export".to_string()];
        let mut file_next = false;
        for a in args {
            argv.push(if file_next && *a != "-" {
                self.path(a).display().to_string()
            } else {
                a.to_string()
            });
            file_next = matches!(*a, "--ids" | "--out" | "--failed" | "--summary");
        }
        let Command_::Export(mut options) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("an export command line")
        };
        options.base_url = Some(sim.url());
        let config =
            ExportConfig::from_options(*options, |k| (k == "YUJU_API_KEY").then(|| KEY.into()))
                .unwrap();
        let (trigger, shutdown) = Shutdown::manual();
        let stats = sim.stats().clone();
        let until = stats.requests.load(Relaxed) + after;
        let watcher = std::thread::spawn(move || {
            while stats.requests.load(Relaxed) < until {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            trigger.request(Signal::Interrupt);
        });
        let rt = tokio::runtime::Runtime::new().unwrap();
        let report = rt.block_on(export::run(config, shutdown)).unwrap();
        watcher.join().unwrap();
        report
    }

    /// Names of every file in the workdir.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One output row, as parsed back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub customer_id: String,
    pub chat_id: String,
    pub seq: u64,
    pub sender_type: String,
    pub message_type: String,
    pub content: String,
}

/// Parse a CSV export with the csv crate (header checked).
pub fn read_csv(path: &Path) -> Vec<Row> {
    read_csv_bytes(&std::fs::read(path).unwrap())
}

pub fn read_csv_bytes(bytes: &[u8]) -> Vec<Row> {
    let mut r = csv::Reader::from_reader(bytes);
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "customer_id",
            "chat_id",
            "seq",
            "sender_type",
            "message_type",
            "content"
        ]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Row {
                customer_id: rec[0].into(),
                chat_id: rec[1].into(),
                seq: rec[2].parse().unwrap(),
                sender_type: rec[3].into(),
                message_type: rec[4].into(),
                content: rec[5].into(),
            }
        })
        .collect()
}

/// Parse a JSONL export with serde_json (every key checked).
pub fn read_jsonl(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let o = v.as_object().unwrap();
            assert_eq!(o.len(), 6, "{line}");
            let s = |k: &str| o[k].as_str().unwrap().to_string();
            Row {
                customer_id: s("customer_id"),
                chat_id: s("chat_id"),
                seq: o["seq"].as_u64().expect("seq is an integer"),
                sender_type: s("sender_type"),
                message_type: s("message_type"),
                content: s("content"),
            }
        })
        .collect()
}

/// The rows the simulator holds for these customers, in order: what a
/// correct export must produce. Computed from the simulator's own data.
pub fn expected_rows(ids: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();
    for id in ids {
        let body: serde_json::Value =
            serde_json::from_str(&data::success_body(id, &DataProfile::Varied, 0)).unwrap();
        for chat in body["Data"].as_array().into_iter().flatten() {
            for (seq, m) in chat["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
                rows.push(Row {
                    customer_id: id.clone(),
                    chat_id: chat["chat_id"].as_str().unwrap().into(),
                    seq: seq as u64,
                    sender_type: s("sender_type"),
                    message_type: s("message_type"),
                    content: s("content"),
                });
            }
        }
    }
    rows
}

/// Sample 32-hex customer IDs.
pub fn ids(n: usize) -> Vec<String> {
    yuju_export::app::demo::sample_ids(n + 1).split_off(1)
}

/// Read a failed file into (customer_id, error) pairs.
pub fn read_failed(path: &Path) -> Vec<(String, String)> {
    read_failed_classes(path)
        .into_iter()
        .map(|(id, error, _)| (id, error))
        .collect()
}

/// Read a failed file into (customer_id, error, class) rows.
pub fn read_failed_classes(path: &Path) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["customer_id", "error", "class"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_string(), rec[1].to_string(), rec[2].to_string())
        })
        .collect()
}

/// The partial output `<out>.partial` of a run that stopped after `done`
/// customers of `list` must hold exactly their rows, in order, but for
/// those in the partial failed file: the input's prefix minus the failed.
pub fn assert_partial_is_prefix(wd: &Workdir, out: &str, list: &[String], done: usize) {
    let rows = read_csv(&wd.path(&format!("{out}.partial")));
    let failed_partial = wd.path(&format!("{out}.failed.csv.partial"));
    let failed: Vec<String> = if failed_partial.exists() {
        read_failed(&failed_partial)
            .into_iter()
            .map(|f| f.0)
            .collect()
    } else {
        Vec::new()
    };
    let good: Vec<String> = list[..done]
        .iter()
        .filter(|id| !failed.contains(id))
        .cloned()
        .collect();
    assert_eq!(
        rows,
        expected_rows(&good),
        "the partial output is not the input's prefix"
    );
}

/// Parse the `--summary` JSON.
pub fn read_summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
