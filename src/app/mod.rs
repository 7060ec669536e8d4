//! The command-line front door: the commands, from parsed arguments
//! ([`cli`]) to an exit status. `main` only calls [`main_with`]; everything
//! the operator reads at the end of a run is worded here. Beside it: the
//! `demo` command ([`demo`]), `--dry-run`'s plan ([`plan`]) and the man
//! page ([`manpage`]).

pub mod cli;
pub mod contacts;
pub mod demo;
pub mod doctor;
pub mod explain;
pub mod manpage;
pub mod plan;

use std::time::Duration;

use crate::app::cli::{Cli, Command, MockArgs};
use crate::config::options::ExportOptions;
use crate::config::ExportConfig;
use crate::error::{Exit, RunError};
use crate::export;
use crate::shutdown::{runtime, Shutdown};
use crate::simulator::{self, Fault, Scenario};

/// Run the parsed command line to completion.
pub fn main_with(cli: Cli) -> Exit {
    match cli.command {
        Command::Export(args) => {
            let env = |k: &str| std::env::var(k).ok();
            let options = (*args).clone();
            let config = match ExportConfig::from_options(*args, env) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("yuju-export: error: {e}");
                    return Exit::Usage;
                }
            };
            crate::console::logging::init(&config.log);
            for notice in &config.notices {
                tracing::warn!("{notice}");
            }
            if config.dry_run {
                return match crate::app::plan::print_plan(&config, &mut std::io::stdout().lock()) {
                    Ok(()) => Exit::Success,
                    Err(e) => {
                        eprintln!("yuju-export: error: {e}");
                        Exit::Usage
                    }
                };
            }
            let rt = runtime();
            let exit = rt.block_on(async move {
                let shutdown = match Shutdown::from_signals() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("cannot install signal handlers: {e}");
                        return Exit::Usage;
                    }
                };
                export_windows(config, options, shutdown).await
            });
            // Everything is written by now; a thread still blocked reading
            // stdin (interrupted `--ids -`) must not hold the exit up.
            rt.shutdown_background();
            exit
        }
        Command::Contacts(args) => contacts(*args),
        Command::Doctor(args) => doctor(*args),
        Command::Mock(args) => {
            crate::console::logging::init(&Default::default());
            runtime().block_on(mock(*args))
        }
        Command::Demo(args) => {
            crate::console::logging::init(&Default::default());
            runtime().block_on(crate::app::demo::run(args))
        }
        Command::Completions { shell } => {
            let mut cmd = crate::app::cli::command();
            clap_complete::generate(shell, &mut cmd, "yuju-export", &mut std::io::stdout());
            Exit::Success
        }
        Command::Man => match crate::app::manpage::render(&mut std::io::stdout()) {
            Ok(()) => Exit::Success,
            Err(e) => {
                eprintln!("yuju-export: error: cannot print the man page: {e}");
                Exit::OutputError
            }
        },
    }
}

/// `yuju-export doctor`: the settings it takes (see
/// [`cli::DOCTOR_SETTINGS`]), then the report.
fn doctor(args: cli::DoctorArgs) -> Exit {
    let refused: Vec<String> = args
        .options
        .given_settings()
        .into_iter()
        .filter(|name| !cli::DOCTOR_SETTINGS.contains(name))
        .map(|name| format!("--{}", name.replace('_', "-")))
        .collect();
    if !refused.is_empty() {
        eprintln!(
            "yuju-export: error: doctor takes no {}: it checks the platform, and writes nothing",
            refused.join(", ")
        );
        return Exit::Usage;
    }
    let mut options = args.options;
    options.out = Some("-".into());
    match contacts_config(options) {
        Ok(config) => runtime().block_on(doctor::run(config, args.json)),
        Err(exit) => exit,
    }
}

/// The contact list's settings, validated, and logging set up from them;
/// `Err` is exit 2, said.
fn contacts_config(options: ExportOptions) -> Result<ExportConfig, Exit> {
    let env = |k: &str| std::env::var(k).ok();
    let config = ExportConfig::for_contacts(options, env).map_err(|e| {
        eprintln!("yuju-export: error: {e}");
        Exit::Usage
    })?;
    crate::console::logging::init(&config.log);
    for notice in &config.notices {
        tracing::warn!("{notice}");
    }
    Ok(config)
}

/// `yuju-export contacts` with the settings `options`.
fn contacts(options: ExportOptions) -> Exit {
    let config = match contacts_config(options) {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    if config.dry_run {
        return match contacts::print_plan(&config, &mut std::io::stdout().lock()) {
            Ok(()) => Exit::Success,
            Err(e) => {
                eprintln!("yuju-export: error: cannot print the plan: {e}");
                Exit::OutputError
            }
        };
    }
    runtime().block_on(async move {
        match Shutdown::from_signals() {
            Ok(shutdown) => contacts::run(config, shutdown).await,
            Err(e) => {
                tracing::error!("cannot install signal handlers: {e}");
                Exit::Usage
            }
        }
    })
}

/// Run the export of `config`; when it resumed an interrupted `--state`
/// window and finished it, go on with the next window up to `--end`
/// (see [`export::next`]), with the settings given again in `options`.
async fn export_windows(config: ExportConfig, options: ExportOptions, shutdown: Shutdown) -> Exit {
    if let Some(words) = &config.up_to_date {
        let report = export::end::up_to_date(&config, std::time::Instant::now());
        if let Some(e) = &report.error {
            tracing::error!("{e:#}");
        }
        tracing::info!("{words}");
        return report.exit;
    }
    let configured_end = config.query.end;
    let rereadable = config.files.ids != crate::store::input::Source::Stdin;
    let first = match run_one(config.clone(), shutdown.clone()).await {
        Ok(report) if rereadable && export::next::goes_on(&report, configured_end) => report,
        Ok(report) => return report.exit,
        Err(exit) => return exit,
    };
    let next = match config.next_window(options, |k| std::env::var(k).ok()) {
        Ok(next) => next,
        Err(e) => {
            eprintln!("yuju-export: error: the next window: {e}");
            return export::next::combined(first.exit, Exit::Usage);
        }
    };
    if next.files.out.file() == config.files.out.file() {
        tracing::warn!(
            "the rest of the window up to --end waits for the next run: --out names no \
             {{start}}, so the next window would replace {} (use --out 'name-{{start}}.ext')",
            config.files.out.describe()
        );
        return first.exit;
    }
    tracing::info!(
        "the resumed window is done; going on with the next window, up to --end, into {}",
        next.files.out.describe()
    );
    let second = match run_one(next, shutdown).await {
        Ok(report) => report.exit,
        Err(exit) => exit,
    };
    export::next::combined(first.exit, second)
}

/// One export, explained to the operator; `Err` is the exit code of a run
/// that ended before it could report.
async fn run_one(config: ExportConfig, shutdown: Shutdown) -> Result<export::Report, Exit> {
    match export::run(config, shutdown).await {
        Ok(report) => {
            explain::explain(&report, &explain::Flags);
            Ok(report)
        }
        // Found before any request: worded like every other usage error,
        // not as a log line.
        Err(e @ RunError::Usage(_)) => {
            eprintln!("yuju-export: error: {e}");
            Err(e.exit())
        }
        Err(e) => {
            tracing::error!("{e}");
            Err(e.exit())
        }
    }
}

async fn mock(args: MockArgs) -> Exit {
    let faults = match Fault::parse_list(&args.faults) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("yuju-export: error: --faults: {e}");
            return Exit::Usage;
        }
    };
    if !(0.0..=1.0).contains(&args.fault_rate) {
        eprintln!("yuju-export: error: --fault-rate must be between 0 and 1");
        return Exit::Usage;
    }
    let scenario = Scenario {
        api_key: args.key.clone(),
        latency: args.latency,
        jitter_sigma: args.jitter,
        fault_rate: args.fault_rate,
        faults,
        rate_limit: args.rate_limit,
        limit_model: args.rate_limit_model,
        burst: args.burst,
        rate_schedule: args.rate_schedule.clone().unwrap_or_default(),
        throttle_delay: args.throttle_delay,
        quota: args.quota,
        down_after: args.down_after,
        seed: args.seed,
        data: match args.messages {
            Some(messages) => crate::simulator::DataProfile::Fixed {
                messages,
                bytes: args.message_bytes,
            },
            None => crate::simulator::DataProfile::Varied,
        },
        calendar: args.chat_dates,
        log_requests: args.log_requests,
        empty_everywhere: args.empty_everywhere,
        no_check: args.no_check,
        contacts: crate::simulator::ContactBook {
            count: args.contacts,
            mode: args.contacts_mode,
        },
        ignore_window: args.ignore_window,
        record_code: args.record_code,
        undocumented_fields: args.undocumented_fields,
        ..Scenario::default()
    };
    let sim = match simulator::start_on(args.addr, scenario).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("yuju-export: error: cannot listen on {}: {e}", args.addr);
            return Exit::Usage;
        }
    };
    eprintln!(
        "simulator listening on {} (Ctrl-C to stop). Try:\n  YUJU_API_KEY={} yuju-export export --base-url {} --all-contacts --out chats.csv",
        sim.addr,
        args.key,
        sim.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    let served = sim
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    drop(sim);
    tokio::time::sleep(Duration::from_millis(50)).await;
    eprintln!("simulator stopped after {served} requests");
    Exit::Success
}
