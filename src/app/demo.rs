//! `yuju-export demo`: a real run over HTTP against an in-process
//! simulator, with a sprinkle of transient faults, so a newcomer sees the
//! contact list, the progress bar, the retries and the summary without a
//! key or a network: `contacts`, then `export --all-contacts`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::cli::DemoArgs;
use crate::config::options::{ExportOptions, HumanDuration};
use crate::config::ExportConfig;
use crate::error::Exit;
use crate::shutdown::Shutdown;
use crate::simulator::{self, Fault, Scenario};

pub use crate::simulator::contacts::sample_ids;

/// Run the demo.
pub async fn run(args: DemoArgs) -> Exit {
    match run_inner(&args).await {
        Ok(exit) => exit,
        Err(e) => {
            tracing::error!("demo failed: {e:#}");
            Exit::OutputError
        }
    }
}

async fn run_inner(args: &DemoArgs) -> anyhow::Result<Exit> {
    let key = format!("demo-{:016x}", rand::random::<u64>());
    let sim = simulator::start(Scenario {
        api_key: key.clone(),
        latency: Duration::from_millis(40),
        jitter_sigma: 0.5,
        fault_rate: 0.03,
        // No 429s here: a 429 teaches the rate limiter to slow down, which
        // would make a demo of a platform with no rate limit look slow.
        faults: vec![
            Fault::Malformed,
            Fault::Status502,
            Fault::Status503,
            Fault::Reset,
            Fault::Truncated,
        ],
        contacts: crate::simulator::ContactBook {
            count: args.customers.max(1),
            mode: crate::simulator::ContactsMode::Normal,
        },
        ..Scenario::default()
    })
    .await?;

    std::fs::create_dir_all(&args.dir)?;
    let out = args.dir.join("chats.csv");
    let contacts = args.dir.join("contacts.csv");

    // The demo's settings go through the same layering and checks as a
    // real run's; only what differs from the defaults is named.
    let env = |name: &str| (name == "YUJU_API_KEY").then(|| key.clone());
    let common = ExportOptions {
        base_url: Some(sim.base_url()),
        timeout: Some(HumanDuration(Duration::from_secs(10))),
        connect_timeout: Some(HumanDuration(Duration::from_secs(5))),
        retry_base: Some(HumanDuration(Duration::from_millis(200))),
        progress: Some(args.progress),
        ..ExportOptions::default()
    };
    eprintln!(
        "demo: a simulator of the API is listening on {} (3% of its answers are faults, retried)",
        sim.base_url()
    );
    let table = ExportConfig::for_contacts(
        ExportOptions {
            out: Some(contacts.clone()),
            ..common.clone()
        },
        env,
    )?;
    let exit = crate::app::contacts::run(table, Shutdown::from_signals()?).await;
    if exit != Exit::Success {
        return Ok(exit);
    }
    let config = ExportConfig::from_options(
        ExportOptions {
            all_contacts: true,
            out: Some(out.clone()),
            restart: true,
            concurrency: Some(16),
            ..common
        },
        env,
    )?;
    let report = crate::export::run(config, Shutdown::from_signals()?).await?;
    crate::app::explain::explain(&report, &crate::app::explain::Flags);
    if report.exit == Exit::Success {
        eprintln!("\n{}", next_steps(&out, &contacts, report.summary.rows));
    }
    Ok(report.exit)
}

fn next_steps(out: &Path, contacts: &Path, rows: u64) -> String {
    format!(
        "Wrote the contact list to {contacts} and {rows} rows of its chats to {out}. \
         Against the real API:\n\n  \
         export YUJU_API_KEY=<your key>\n  \
         {me} doctor\n  \
         {me} export --all-contacts --out chats.csv\n\n\
         (`{me} export --help` lists every flag.)",
        out = out.display(),
        contacts = contacts.display(),
        me = command_name(),
    )
}

/// How to run this binary again: its name when the shell finds this very
/// binary by it, else its full path (after `cargo run`, it is not on PATH).
fn command_name() -> String {
    let me = std::env::current_exe().ok();
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("yuju-export"))
            .find(|p| p.is_file())
    });
    let same = |a: &PathBuf, b: &PathBuf| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    match (me, on_path) {
        (Some(me), Some(found)) if same(&me, &found) => "yuju-export".to_string(),
        (Some(me), _) => me.display().to_string(),
        (None, _) => "yuju-export".to_string(),
    }
}
