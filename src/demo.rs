//! `yuju-export demo`: a real export over HTTP against an in-process
//! simulator, with a sprinkle of transient faults, so a newcomer sees the
//! progress bar, the retries and the summary without a key or a network.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::cli::{DemoArgs, Format};
use crate::config::{ApiKey, ExportConfig, LogSettings, Source, Target};
use crate::error::Exit;
use crate::output::Column;
use crate::query::Query;
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::simulator::{self, data::SplitMix, Fault, Scenario, EXAMPLE_CUSTOMER};

/// Sample customer IDs: the documented example first, then 32-hex IDs.
pub fn sample_ids(n: usize) -> Vec<String> {
    let mut rng = SplitMix(2026);
    let mut ids = vec![EXAMPLE_CUSTOMER.to_string()];
    while ids.len() < n {
        ids.push(format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()));
    }
    ids.truncate(n);
    ids
}

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
        ..Scenario::default()
    })
    .await?;

    std::fs::create_dir_all(&args.dir)?;
    let ids_path = args.dir.join("ids.txt");
    let mut text = String::from("# sample customer IDs for the yuju-export demo\n");
    for id in sample_ids(args.customers.max(1)) {
        writeln!(text, "{id}").expect("writing to a String");
    }
    std::fs::write(&ids_path, text)?;
    let out = args.dir.join("chats.csv");

    let config = ExportConfig {
        ids: Source::File(ids_path.clone()),
        out: Target::File(out.clone()),
        format: Format::Csv,
        compression: crate::cli::Compression::None,
        resume: crate::config::ResumeMode::Restart,
        base_url: sim.base_url().parse()?,
        api_key: ApiKey::new(key)?,
        concurrency: 16,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        rate: None,
        retry: RetryPolicy {
            base: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        query: Query {
            days: Some(30),
            ..Query::default()
        },
        columns: Column::ALL.to_vec(),
        failed: Some(crate::config::append_ext(&out, ".failed.csv")),
        summary: None,
        progress: args.progress,
        log: LogSettings::default(),
        shard: None,
        dry_run: false,
        csv_bom: false,
        csv_formula_guard: false,
        zone: crate::query::Zone::Local,
        relative_window: String::new(),
        relative_bounds: (false, false),
    };
    eprintln!(
        "demo: a simulator of the API is listening on {} (3% of its answers are faults, retried)",
        sim.base_url()
    );
    let report = crate::export::run(config, Shutdown::from_signals()?).await?;
    crate::app::explain(&report);
    if report.exit == Exit::Success {
        eprintln!("\n{}", next_steps(&out, &ids_path, report.summary.rows));
    }
    Ok(report.exit)
}

fn next_steps(out: &Path, ids: &Path, rows: u64) -> String {
    format!(
        "Wrote {rows} rows to {out}. Against the real API:\n\n  \
         export YUJU_API_KEY=<your key>\n  \
         yuju-export export --ids {ids} --out chats.csv\n\n\
         (`yuju-export export --help` lists every flag.)",
        out = out.display(),
        ids = ids.display(),
    )
}
