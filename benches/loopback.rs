//! End-to-end benchmark on loopback: the release binary against the
//! in-process simulator, plus the peer scripts under `bench/peers/`. Prints
//! one table. Run it with `bench/run.sh` (or `cargo bench --bench loopback`).
//!
//! Arguments (after `--`): scenario names to run (default: all of
//! `latency rate adaptive limits schedule shared cap cpu http memory window
//! parquet peers`);
//! `--quick` divides the sizes by ten for a smoke run. Figures are printed,
//! never asserted: a regression shows in the table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use yuju_export::api::classify::classify_body;
use yuju_export::output::encoder;
use yuju_export::output::Format;
use yuju_export::record::chat::encode_customer;
use yuju_export::record::Column;
use yuju_export::simulator::data::{success_body, DataProfile, SplitMix};
use yuju_export::simulator::{self, LimitModel, Scenario, Simulator};

const KEY: &str = "bench-key";
const BIN: &str = env!("CARGO_BIN_EXE_yuju-export");

/// What a child process cost.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    exit: i32,
}

/// Run a command to completion, measuring wall time, CPU (user + system,
/// its waited-for descendants included) and peak RSS.
///
/// The command runs under a small trampoline (this same binary, re-executed
/// with `__measure`) that spawns it and reads its rusage with wait4. Spawned
/// straight from this process, the child's peak RSS would count this
/// process's own memory: Linux records the pre-exec image in `ru_maxrss`.
fn measure(cmd: Command) -> Cost {
    let result = tempfile::NamedTempFile::new().unwrap();
    let mut t = Command::new(std::env::current_exe().unwrap());
    t.arg("__measure")
        .arg(result.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        t.current_dir(dir);
    }
    t.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let status = t.status().expect("spawn the trampoline");
    let wall = start.elapsed();
    assert!(status.success(), "the trampoline failed");
    let text = std::fs::read_to_string(result.path()).unwrap();
    let v: Vec<i64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    Cost {
        wall,
        cpu: Duration::from_micros(v[0] as u64),
        max_rss_kib: v[1] as u64,
        exit: v[2] as i32,
    }
}

/// The trampoline: `__measure RESULT PROGRAM ARGS...`.
fn trampoline(args: &[String]) -> ! {
    let child = Command::new(&args[1])
        .args(&args[2..])
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain syscall on our own child; rusage is a POD out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4 failed");
    std::mem::forget(child);
    let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    let exit = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::fs::write(
        &args[0],
        format!(
            "{} {} {exit}",
            us(usage.ru_utime) + us(usage.ru_stime),
            usage.ru_maxrss
        ),
    )
    .unwrap();
    std::process::exit(0)
}

struct Bench {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    quick: bool,
    table: Vec<[String; 5]>,
    /// yuju-export's cost on the latency-bound run, for the peers' rows.
    latency_cost: Option<Cost>,
}

impl Bench {
    fn scale(&self, n: usize) -> usize {
        if self.quick {
            (n / 10).max(1)
        } else {
            n
        }
    }

    fn sim(&self, scenario: Scenario) -> Simulator {
        self.rt
            .block_on(simulator::start(Scenario {
                api_key: KEY.into(),
                ..scenario
            }))
            .expect("simulator")
    }

    fn ids(&self, name: &str, n: usize) -> PathBuf {
        let mut rng = SplitMix(99);
        let mut text = String::with_capacity(n * 33);
        for _ in 0..n {
            writeln!(text, "{:016x}{:016x}", rng.next_u64(), rng.next_u64()).unwrap();
        }
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn export(
        &self,
        sim: &Simulator,
        ids: &Path,
        out: &str,
        args: &[&str],
    ) -> (Cost, serde_json::Value) {
        let summary = self.dir.path().join(format!("{out}.summary.json"));
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env("YUJU_API_KEY", KEY)
            .env("YUJU_BASE_URL", sim.base_url())
            .stderr(Stdio::null())
            .arg("export")
            .arg("--ids")
            .arg(ids)
            .args([
                "--out",
                out,
                "--progress",
                "never",
                "-q",
                "--restart",
                "--summary",
            ])
            .arg(&summary)
            .args(args);
        let cost = measure(cmd);
        let s = std::fs::read(&summary)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        (cost, s)
    }

    fn row(&mut self, scenario: &str, metric: &str, value: String, target: &str, ok: Option<bool>) {
        let verdict = match ok {
            Some(true) => "ok",
            Some(false) => "MISS",
            None => "",
        };
        self.table.push([
            scenario.into(),
            metric.into(),
            value,
            target.into(),
            verdict.into(),
        ]);
    }

    fn print(&self) {
        let header = ["scenario", "metric", "value", "target", ""];
        let mut widths = header.map(str::len);
        for r in &self.table {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String; 5]| {
            let mut s = String::from("|");
            for (c, w) in cells.iter().zip(widths) {
                let pad = w - c.chars().count();
                write!(s, " {c}{} |", " ".repeat(pad)).unwrap();
            }
            s
        };
        println!("{}", line(&header.map(String::from)));
        println!(
            "|{}",
            widths
                .iter()
                .map(|w| format!("{}|", "-".repeat(w + 2)))
                .collect::<String>()
        );
        for r in &self.table {
            println!("{}", line(r));
        }
    }
}

/// Find a program on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// 1. Latency-bound: efficiency against concurrency × latency.
fn latency(b: &mut Bench) {
    let n = b.scale(2000);
    let sim = b.sim(Scenario {
        latency: Duration::from_millis(50),
        jitter_sigma: 0.5,
        ..Scenario::default()
    });
    let ids = b.ids("latency.txt", n);
    let (cost, s) = b.export(&sim, &ids, "latency.csv", &["--concurrency", "32"]);
    let requests = sim.stats.requests.load(Relaxed);
    let mean = Duration::from_micros(sim.stats.latency_us.load(Relaxed) / requests.max(1));
    let ideal = mean.mul_f64(n as f64 / 32.0);
    let eff = ideal.as_secs_f64() / cost.wall.as_secs_f64();
    let stall = s["reorder_stall_secs"].as_f64().unwrap_or(f64::NAN);
    let name = format!("latency-bound: {n} customers, 50 ms lognormal σ 0.5, conc 32");
    b.row(
        &name,
        "wall (ideal)",
        format!("{} ({})", secs(cost.wall), secs(ideal)),
        "",
        None,
    );
    b.row(
        &name,
        "efficiency",
        format!("{eff:.3}"),
        "≥ 0.95",
        Some(eff >= 0.95),
    );
    let share = stall / cost.wall.as_secs_f64();
    b.row(
        &name,
        "order cost (reorder stall / wall)",
        format!("{:.1} %", share * 100.0),
        "< 3 %",
        Some(share < 0.03),
    );
    b.row(
        &name,
        "CPU, peak RSS",
        format!("{}, {}", secs(cost.cpu), mib(cost.max_rss_kib)),
        "",
        None,
    );
    b.latency_cost = Some(cost);
}

/// 2. Rate-bound: `--rate 50` against a fast simulator.
fn rate(b: &mut Bench) {
    let n = b.scale(1000);
    let sim = b.sim(Scenario::default());
    let ids = b.ids("rate.txt", n);
    let (cost, _) = b.export(
        &sim,
        &ids,
        "rate.csv",
        &["--concurrency", "32", "--rate", "50"],
    );
    // n requests at 50/s span (n - 1) / 50 s of schedule.
    let achieved = (n as f64 - 1.0) / cost.wall.as_secs_f64();
    let name = format!("rate-bound: {n} customers, --rate 50");
    b.row(
        &name,
        "achieved rate",
        format!("{achieved:.2}/s ({:.1} %)", achieved / 50.0 * 100.0),
        "≥ 98 % of 50/s",
        Some(achieved >= 49.0),
    );
}

/// Issue 3's target: the adaptive limiter against a 20/s platform.
fn adaptive(b: &mut Bench) {
    // A minute of sustained work; the first second's burst (up to
    // `concurrency` requests sent before the first 429 comes back) is
    // part of the count.
    let n = b.scale(1200);
    let sim = b.sim(Scenario {
        rate_limit: Some(20),
        ..Scenario::default()
    });
    let ids = b.ids("adaptive.txt", n);
    let (cost, s) = b.export(&sim, &ids, "adaptive.csv", &["--concurrency", "64"]);
    let rate = n as f64 / cost.wall.as_secs_f64();
    let requests = sim.stats.requests.load(Relaxed) as f64;
    let share = sim.stats.rate_limited.load(Relaxed) as f64 / requests;
    let name = format!("adaptive: {n} customers, platform limit 20/s, conc 64, no --rate");
    b.row(
        &name,
        "customers/s",
        format!("{rate:.2} ({:.1} % of 20)", rate / 20.0 * 100.0),
        "≥ 90 %",
        Some(rate >= 18.0),
    );
    b.row(
        &name,
        "429 share of requests",
        format!("{:.1} %", share * 100.0),
        "< 10 %",
        Some(share < 0.10),
    );
    b.row(
        &name,
        "settled rate, exit",
        format!(
            "{:.1}/s, {}",
            s["settled_rate"].as_f64().unwrap_or(0.0),
            cost.exit
        ),
        "",
        None,
    );
}

/// The platform limit the limiter benchmarks run against: 20/s, accepted
/// answers after 10 ms.
const LIMIT: u32 = 20;

/// A simulator limited to [`LIMIT`] per second, counted by `model`.
fn limited(model: LimitModel, burst: Option<u32>, throttle_delay: Duration) -> Scenario {
    Scenario {
        rate_limit: Some(LIMIT),
        limit_model: model,
        burst,
        throttle_delay,
        latency: Duration::from_millis(10),
        ..Scenario::default()
    }
}

/// What one limited run achieved, from the simulator's side.
struct LimitedRun {
    /// Ideal wall time / actual wall time.
    efficiency: f64,
    /// 429 answers over all requests.
    share: f64,
    /// The simulator's count of 429s.
    throttled: u64,
    settled: Option<f64>,
    exit: i32,
}

/// Export `n` customers at concurrency 64 against `scenario`.
fn limited_run(b: &Bench, label: &str, scenario: Scenario, n: usize, args: &[&str]) -> LimitedRun {
    let spec = scenario.limit().expect("a limited scenario");
    let sim = b.sim(scenario);
    let ids = b.ids(&format!("{label}.txt"), n);
    let mut all = vec!["--concurrency", "64"];
    all.extend_from_slice(args);
    let (cost, s) = b.export(&sim, &ids, &format!("{label}.csv"), &all);
    let requests = sim.stats.requests.load(Relaxed);
    let throttled = sim.stats.rate_limited.load(Relaxed);
    LimitedRun {
        efficiency: spec.ideal(n as u64).as_secs_f64() / cost.wall.as_secs_f64(),
        share: throttled as f64 / requests.max(1) as f64,
        throttled,
        settled: s["settled_rate"].as_f64(),
        exit: cost.exit,
    }
}

fn limited_rows(b: &mut Bench, name: &str, r: &LimitedRun, target: f64, share: f64) {
    b.row(
        name,
        "efficiency (ideal / wall)",
        format!("{:.3}", r.efficiency),
        &format!("≥ {target:.2}"),
        Some(r.efficiency >= target),
    );
    b.row(
        name,
        "429 share of requests",
        format!("{:.1} %", r.share * 100.0),
        &format!("< {:.0} %", share * 100.0),
        Some(r.share < share),
    );
    b.row(
        name,
        "settled rate, exit",
        format!(
            "{}, {}",
            r.settled.map_or("-".into(), |r| format!("{r:.1}/s")),
            r.exit
        ),
        "",
        None,
    );
}

/// The limit models the limiter must hold against: (label, model, burst,
/// delay of the 429s).
fn models() -> Vec<(String, LimitModel, Option<u32>, Duration)> {
    let mut v: Vec<_> = LimitModel::ALL
        .iter()
        .map(|&m| {
            let burst = (m == LimitModel::Bucket).then_some(2 * LIMIT);
            let label = match burst {
                Some(burst) => format!("{m} (burst {burst})"),
                None => m.to_string(),
            };
            (label, m, burst, Duration::ZERO)
        })
        .collect();
    for (label, model, burst, ms) in [
        ("fixed, 429s after 200 ms", LimitModel::Fixed, None, 200),
        ("fixed, 429s after 1 s", LimitModel::Fixed, None, 1000),
        ("sliding, 429s after 500 ms", LimitModel::Sliding, None, 500),
        (
            "bucket (burst 40), 429s after 200 ms",
            LimitModel::Bucket,
            Some(2 * LIMIT),
            200,
        ),
    ] {
        v.push((label.into(), model, burst, Duration::from_millis(ms)));
    }
    v
}

/// Every limit model, 300 and 1200 customers, 20/s, 10 ms, concurrency 64,
/// no --rate. Targets: 300 customers 95 % of the ideal and under 6 % of
/// requests answered 429, 1200 customers 98 % and under 3 %.
fn limits(b: &mut Bench) {
    for (customers, efficiency, share) in [(300, 0.95, 0.06), (1200, 0.98, 0.03)] {
        let n = b.scale(customers);
        for (label, model, burst, delay) in models() {
            let r = limited_run(b, "limits", limited(model, burst, delay), n, &[]);
            let name = format!("limit {label}: {n} customers, 20/s, 10 ms, conc 64");
            limited_rows(b, &name, &r, efficiency, share);
        }
    }
}

/// `--rate 20` (the limit itself) under every model draws no more 429s
/// than the same run without it.
fn cap(b: &mut Bench) {
    let n = b.scale(300);
    for (label, model, burst, delay) in models() {
        let without = limited_run(b, "cap", limited(model, burst, delay), n, &[]);
        let with = limited_run(b, "cap", limited(model, burst, delay), n, &["--rate", "20"]);
        b.row(
            &format!("--rate 20 under limit {label}: {n} customers"),
            "429s with / without --rate",
            format!("{} / {}", with.throttled, without.throttled),
            "with ≤ without",
            Some(with.throttled <= without.throttled),
        );
    }
}

/// The limit drops from 20/s to 8/s between 5 s and 12 s (another client
/// of the key), then comes back.
fn schedule(b: &mut Bench) {
    let n = b.scale(300);
    let returns = Duration::from_secs(12);
    let scenario = Scenario {
        rate_schedule: "5s=8,12s=20".parse().expect("a valid schedule"),
        ..limited(LimitModel::Fixed, None, Duration::ZERO)
    };
    let spec = scenario.limit().expect("limited");
    let sim = b.sim(scenario);
    let ids = b.ids("schedule.txt", n);
    let (cost, s) = b.export(&sim, &ids, "schedule.csv", &["--concurrency", "64"]);
    let requests = sim.stats.requests.load(Relaxed);
    let share = sim.stats.rate_limited.load(Relaxed) as f64 / requests.max(1) as f64;
    let eff = spec.ideal(n as u64).as_secs_f64() / cost.wall.as_secs_f64();
    // The first second-long span after the limit returns in which the
    // platform accepted at least 90 % of 20.
    let times = sim.stats.admit_times();
    let recovery = (0..1000)
        .map(|i| returns + Duration::from_millis(i * 10))
        .find(|&from| {
            let to = from + Duration::from_secs(1);
            times.iter().filter(|&&t| t >= from && t < to).count() as f64 >= 0.9 * f64::from(LIMIT)
        })
        .map(|t| t - returns);
    let name = format!("limit fixed, 20/s, 8/s from 5 s to 12 s: {n} customers, conc 64");
    let r = LimitedRun {
        efficiency: eff,
        share,
        throttled: 0,
        settled: s["settled_rate"].as_f64(),
        exit: cost.exit,
    };
    limited_rows(b, &name, &r, 0.90, 0.10);
    b.row(
        &name,
        "back to ≥ 18/s after the limit returns",
        recovery.map_or("not within 10 s".into(), secs),
        "≤ 10 s",
        Some(recovery.is_some_and(|r| r <= Duration::from_secs(10))),
    );
}

/// Runs of the four shards' row (one with --quick).
const SHARED_REPEATS: usize = 3;

/// Four shards of one run sharing the key, none with --rate: three runs
/// (one with --quick), since one run's figure spreads by several points
/// (the shards' parts drift apart differently each time); the median and
/// the range are printed, and the median is judged.
fn shared(b: &mut Bench) {
    let n = b.scale(1200);
    let runs = if b.quick { 1 } else { SHARED_REPEATS };
    let mut effs = Vec::new();
    let mut shares = Vec::new();
    let mut exits = Vec::new();
    for _ in 0..runs {
        let (eff, share, exit) = shared_run(b, n);
        effs.push(eff);
        shares.push(share);
        exits.extend(exit);
    }
    let name = format!("limit fixed, 4 processes sharing the key: {n} customers, conc 64 each");
    let eff = median(&mut effs);
    let share = median(&mut shares);
    b.row(
        &name,
        &format!("efficiency together (ideal / wall), median of {runs}"),
        format!("{eff:.3} ({:.3}–{:.3})", effs[0], effs[runs - 1]),
        "≥ 0.95",
        Some(eff >= 0.95),
    );
    b.row(
        &name,
        &format!("429 share of requests, median of {runs}; exits"),
        format!(
            "{:.1} % ({:.1}–{:.1} %), {exits:?}",
            share * 100.0,
            shares[0] * 100.0,
            shares[runs - 1] * 100.0
        ),
        "< 5 %, every exit 0",
        Some(share < 0.05 && exits.iter().all(|&e| e == 0)),
    );
}

/// The middle of `v`, which is left sorted.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One run of four shards against a fresh simulator: efficiency
/// together, 429 share, and the shards' exit codes.
fn shared_run(b: &mut Bench, n: usize) -> (f64, f64, Vec<i32>) {
    let scenario = limited(LimitModel::Fixed, None, Duration::ZERO);
    let spec = scenario.limit().expect("limited");
    let sim = b.sim(scenario);
    let ids = b.ids("shared.txt", n);
    let start = Instant::now();
    let children: Vec<_> = (0..4)
        .map(|k| {
            Command::new(BIN)
                .current_dir(b.dir.path())
                .env("YUJU_API_KEY", KEY)
                .env("YUJU_BASE_URL", sim.base_url())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .arg("export")
                .arg("--ids")
                .arg(&ids)
                .args(["--progress", "never", "-q", "--restart", "--out"])
                .arg(format!("shared-{k}.csv"))
                .args(["--concurrency", "64", "--shard"])
                .arg(format!("{k}/4"))
                .spawn()
                .expect("spawn a shard")
        })
        .collect();
    let exits: Vec<i32> = children
        .into_iter()
        .map(|mut c| c.wait().expect("wait").code().unwrap_or(-1))
        .collect();
    let wall = start.elapsed();
    let requests = sim.stats.requests.load(Relaxed);
    let share = sim.stats.rate_limited.load(Relaxed) as f64 / requests.max(1) as f64;
    let eff = spec.ideal(n as u64).as_secs_f64() / wall.as_secs_f64();
    (eff, share, exits)
}

/// The floor of the CPU path, measured in-process on the same body: parse,
/// flatten, encode, and write the bytes to a file (as the real run must).
fn micro_per_row(profile: &DataProfile, rows: usize, dir: &Path) -> Duration {
    use std::io::Write;
    let body = success_body("bench-customer", profile, 0).into_bytes();
    let enc = encoder(Format::Csv, &Column::ALL, Default::default());
    let mut out = Vec::with_capacity(body.len() * 2);
    let path = dir.join("micro.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    let iterations = (200_000 / rows).max(20);
    let start = Instant::now();
    for _ in 0..iterations {
        out.clear();
        let env = classify_body(&body, &yuju_export::api::CodePolicy::default()).unwrap();
        std::hint::black_box(encode_customer(&*enc, "bench-customer", &env, &mut out));
        file.write_all(&out).unwrap();
    }
    let elapsed = start.elapsed();
    std::fs::remove_file(path).ok();
    elapsed / (iterations * rows) as u32
}

/// Runs of the process, and of the floor, whose median is reported.
const CPU_REPEATS: usize = 3;
const FLOOR_REPEATS: usize = 5;

/// 3. CPU-bound: zero latency, large and typical responses.
fn cpu(b: &mut Bench) {
    for (label, customers, messages, bytes) in
        [("large", 60, 2000, 600), ("typical", 20_000, 5, 80)]
    {
        let customers = b.scale(customers);
        let profile = DataProfile::Fixed { messages, bytes };
        let sim = b.sim(Scenario {
            data: profile.clone(),
            ..Scenario::default()
        });
        let ids = b.ids(&format!("cpu-{label}.txt"), customers);
        // Medians of several runs on both sides: a shared 2-core machine
        // moves single figures by a third.
        let mut runs: Vec<(Cost, serde_json::Value)> = (0..CPU_REPEATS)
            .map(|_| {
                b.export(
                    &sim,
                    &ids,
                    &format!("cpu-{label}.csv"),
                    &["--concurrency", "8"],
                )
            })
            .collect();
        runs.sort_by_key(|(cost, _)| cost.cpu);
        let (cost, s) = runs.swap_remove(CPU_REPEATS / 2);
        let rows = s["rows"].as_u64().unwrap_or(0).max(1);
        let per_row = cost.cpu / rows as u32;
        let per_req = cost.cpu / customers as u32;
        let mut micros: Vec<Duration> = (0..FLOOR_REPEATS)
            .map(|_| micro_per_row(&profile, messages, b.dir.path()))
            .collect();
        micros.sort();
        let micro = micros[FLOOR_REPEATS / 2];
        let ratio = per_row.as_secs_f64() / micro.as_secs_f64();
        let name =
            format!("cpu-bound {label}: {customers} × {messages} msgs of ~{bytes} B, zero latency");
        b.row(
            &name,
            "process CPU per row / per request",
            format!(
                "{:.2} µs / {:.1} µs",
                per_row.as_secs_f64() * 1e6,
                per_req.as_secs_f64() * 1e6
            ),
            "",
            None,
        );
        b.row(
            &name,
            "parse+flatten+write per row (floor)",
            format!("{:.2} µs", micro.as_secs_f64() * 1e6),
            "",
            None,
        );
        b.row(
            &name,
            "process / floor",
            format!("{ratio:.2}×"),
            "≤ 1.5×",
            Some(ratio <= 1.5),
        );
        b.row(
            &name,
            "wall, rows/s",
            format!(
                "{}, {:.0}",
                secs(cost.wall),
                rows as f64 / cost.wall.as_secs_f64()
            ),
            "",
            None,
        );
        std::fs::remove_file(b.dir.path().join(format!("cpu-{label}.csv"))).ok();
    }
}

/// The per-request cost with nothing to parse: customers with no chats.
fn http_floor(b: &mut Bench) {
    let n = b.scale(20_000);
    let sim = b.sim(Scenario::default());
    let p = b.dir.path().join("empty.txt");
    let text: String = (0..n).map(|i| format!("empty-{i}\n")).collect();
    std::fs::write(&p, text).unwrap();
    let (cost, _) = b.export(&sim, &p, "empty.csv", &["--concurrency", "8"]);
    let name = format!("cpu-bound empty: {n} customers with no chats, zero latency");
    b.row(
        &name,
        "process CPU per request (HTTP + pipeline)",
        format!("{:.1} µs", cost.cpu.as_secs_f64() * 1e6 / n as f64),
        "",
        None,
    );
}

/// 4. Memory: a long dump, a million IDs, one 20 MB response.
fn memory(b: &mut Bench) {
    let n = b.scale(100_000);
    let sim = b.sim(Scenario {
        data: DataProfile::Fixed {
            messages: 5,
            bytes: 80,
        },
        ..Scenario::default()
    });
    let ids = b.ids("mem.txt", n);
    let (cost, _) = b.export(&sim, &ids, "mem.csv", &["--concurrency", "32"]);
    b.row(
        &format!("memory: {n} customers, conc 32"),
        "peak RSS",
        mib(cost.max_rss_kib),
        "≤ 32 MiB",
        Some(cost.max_rss_kib <= 32 * 1024),
    );
    std::fs::remove_file(b.dir.path().join("mem.csv")).ok();

    // A million IDs: read, validate and deduplicated before the first
    // request, which a wrong key then stops (exit 3).
    let m = b.scale(1_000_000);
    let ids = b.ids("million.txt", m);
    let mut cmd = Command::new(BIN);
    cmd.current_dir(b.dir.path())
        .env("YUJU_API_KEY", "wrong")
        .env("YUJU_BASE_URL", sim.base_url())
        .stderr(Stdio::null())
        .arg("export")
        .arg("--ids")
        .arg(&ids)
        .args(["--out", "million.csv", "-q", "--restart"]);
    let cost = measure(cmd);
    b.row(
        &format!("memory: input of {m} IDs"),
        "peak RSS",
        mib(cost.max_rss_kib),
        "≤ 64 MiB",
        Some(cost.max_rss_kib <= 64 * 1024),
    );

    let sim = b.sim(Scenario {
        data: DataProfile::Fixed {
            messages: 33_000,
            bytes: 600,
        },
        ..Scenario::default()
    });
    let ids = b.ids("big.txt", 1);
    let body_len = success_body(
        "x",
        &DataProfile::Fixed {
            messages: 33_000,
            bytes: 600,
        },
        0,
    )
    .len();
    let (cost, _) = b.export(&sim, &ids, "big.csv", &[]);
    let ratio = (cost.max_rss_kib * 1024) as f64 / body_len as f64;
    b.row(
        &format!("memory: one {:.0} MB response", body_len as f64 / 1e6),
        "peak RSS (× body)",
        format!("{} ({ratio:.1}×)", mib(cost.max_rss_kib)),
        "a small multiple",
        Some(ratio <= 4.0),
    );
}

/// Large answers at a small concurrency, five times over: peak RSS is
/// bounded by the reorder window's byte budget (counted in allocated
/// capacity), the buffer pool and the answers in flight, whatever the
/// order in which answers come back.
fn window(b: &mut Bench) {
    let profile = DataProfile::Fixed {
        messages: 2000,
        bytes: 600,
    };
    let sim = b.sim(Scenario {
        latency: Duration::from_millis(20),
        jitter_sigma: 0.8,
        data: profile.clone(),
        ..Scenario::default()
    });
    let body = success_body("x", &profile, 0).len() as u64;
    let n = b.scale(300);
    let ids = b.ids("window.txt", n);
    let mut peaks = Vec::new();
    for _ in 0..5 {
        let (cost, _) = b.export(&sim, &ids, "window.csv", &["--concurrency", "8"]);
        peaks.push(cost.max_rss_kib);
        std::fs::remove_file(b.dir.path().join("window.csv")).ok();
    }
    let (lo, hi) = (*peaks.iter().min().unwrap(), *peaks.iter().max().unwrap());
    // The design's bound: 16 MiB of rows waiting in the window, 32 MiB of
    // pooled buffers, and for each of the 8 requests in flight its answer
    // and its rows (about 2.25 × the body), over a 16 MiB process.
    let bound_mib = 16 + 32 + 16 + (8 * body * 9 / 4) / (1 << 20);
    b.row(
        &format!("memory: {n} × 2000 msgs of ~600 B, 20 ms σ 0.8, conc 8, 5 runs"),
        "peak RSS, min – max",
        format!("{} – {}", mib(lo), mib(hi)),
        &format!("≤ {bound_mib} MiB"),
        Some(hi <= bound_mib * 1024),
    );
}

/// Endless bodies and gzip bombs at the default --max-response-bytes, eight
/// requests in flight: each fails its customer at the limit, and only one
/// answer at a time may grow past 4 MiB, so peak RSS stays near the limit.
fn hostile(b: &mut Bench) {
    let sim = b.sim(Scenario::default());
    let n = b.scale(12).max(3);
    let mut text = String::new();
    for i in 0..n {
        let kind = ["bomb", "endless", "good"][i % 3];
        writeln!(text, "{kind}-{i}").unwrap();
    }
    let ids = b.dir.path().join("hostile.txt");
    std::fs::write(&ids, text).unwrap();
    let (cost, summary) = b.export(&sim, &ids, "hostile.csv", &["--concurrency", "8"]);
    std::fs::remove_file(b.dir.path().join("hostile.csv")).ok();
    let too_large = summary["failed_by_kind"]["response_too_large"]
        .as_u64()
        .unwrap_or(0);
    b.row(
        &format!("hostile: {n} customers, ⅔ endless bodies or gzip bombs, conc 8, limit 256 MiB"),
        "peak RSS; failed as too large; timeouts",
        format!(
            "{}; {too_large}; {}",
            mib(cost.max_rss_kib),
            summary["retries_by_cause"]["timeout"].as_u64().unwrap_or(0)
        ),
        "≤ 320 MiB (limit + 64)",
        Some(cost.max_rss_kib <= 320 * 1024),
    );
}

/// Parquet against CSV on the same data: many small answers and a few
/// large ones. Rows/s, file size and peak RSS for each; Parquet's peak RSS
/// (a row group of at most 8 MiB of values fills in memory) stays within
/// 64 MiB.
fn parquet(b: &mut Bench) {
    for (customers, messages, bytes, conc) in [(100_000, 5, 80, "32"), (60, 2000, 600, "8")] {
        let n = b.scale(customers);
        let sim = b.sim(Scenario {
            data: DataProfile::Fixed { messages, bytes },
            ..Scenario::default()
        });
        let ids = b.ids(&format!("pq-{n}.txt"), n);
        let name = format!("parquet vs csv: {n} × {messages} msgs of ~{bytes} B, conc {conc}");
        for out in ["pq.csv", "pq.parquet"] {
            let (cost, s) = b.export(&sim, &ids, out, &["--concurrency", conc]);
            let rows = s["rows"].as_u64().unwrap_or(0);
            let size = std::fs::metadata(b.dir.path().join(out)).map_or(0, |m| m.len());
            let format = out.trim_start_matches("pq.");
            b.row(
                &name,
                &format!("{format}: rows/s, file size"),
                format!(
                    "{:.0}, {:.1} MiB",
                    rows as f64 / cost.wall.as_secs_f64(),
                    size as f64 / f64::from(1 << 20)
                ),
                "",
                None,
            );
            let parquet = format == "parquet";
            b.row(
                &name,
                &format!("{format}: wall, CPU, peak RSS"),
                format!(
                    "{}, {}, {}",
                    secs(cost.wall),
                    secs(cost.cpu),
                    mib(cost.max_rss_kib)
                ),
                if parquet { "RSS ≤ 64 MiB" } else { "" },
                parquet.then_some(cost.max_rss_kib <= 64 * 1024),
            );
            std::fs::remove_file(b.dir.path().join(out)).ok();
        }
    }
}

/// The Singer tap into a file against `export` to JSONL, on the same
/// simulator: the protocol's encoding must not be what a pipeline waits for.
fn pipeline(b: &mut Bench) {
    let n = b.scale(20_000);
    let sim = b.sim(Scenario {
        data: DataProfile::Fixed {
            messages: 5,
            bytes: 80,
        },
        ..Scenario::default()
    });
    let ids = b.ids("pipeline.txt", n);
    let name = format!("pipeline: {n} × 5 msgs of ~80 B, zero latency, conc 32");
    let (export, s) = b.export(&sim, &ids, "pipeline.jsonl", &["--concurrency", "32"]);
    let rows = s["rows"].as_u64().unwrap_or(0);
    let config = b.dir.path().join("tap.json");
    let body = serde_json::json!({
        "api_key": KEY,
        "ids_file": ids,
        "start_date": "2026-03-01",
        "base_url": sim.base_url(),
        "concurrency": 32,
    });
    std::fs::write(&config, body.to_string()).unwrap();
    let out = b.dir.path().join("tap.out");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "exec '{}' --config '{}' > '{}' 2>/dev/null",
        env!("CARGO_BIN_EXE_tap-yuju"),
        config.display(),
        out.display()
    ));
    let tap = measure(cmd);
    let records = std::fs::read_to_string(&out)
        .map(|t| {
            t.lines()
                .filter(|l| l.contains(r#""type":"RECORD""#))
                .count() as u64
        })
        .unwrap_or(0);
    let rate = |rows: u64, cost: &Cost| rows as f64 / cost.wall.as_secs_f64();
    let (export_rate, tap_rate) = (rate(rows, &export), rate(records, &tap));
    b.row(
        &name,
        "export to JSONL: rows/s, CPU",
        format!("{export_rate:.0}, {}", secs(export.cpu)),
        "",
        None,
    );
    b.row(
        &name,
        "tap-yuju to a file: rows/s, CPU",
        format!("{tap_rate:.0}, {}", secs(tap.cpu)),
        "",
        None,
    );
    let ratio = tap_rate / export_rate;
    b.row(
        &name,
        "tap / export rows/s (same rows)",
        format!("{ratio:.2} ({records} of {rows} rows)"),
        "≥ 0.90",
        Some(ratio >= 0.9 && records == rows),
    );
}

/// 5. Peers on the latency-bound scenario.
fn peers(b: &mut Bench) {
    let n = b.scale(2000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peers");
    for (label, program, script) in [
        ("curl + xargs -P + jq", "bash", "curl_xargs_jq.sh"),
        (
            "python threads + requests",
            "python3",
            "threadpool_requests.py",
        ),
    ] {
        let sim = b.sim(Scenario {
            latency: Duration::from_millis(50),
            jitter_sigma: 0.5,
            ..Scenario::default()
        });
        let ids = b.ids("peers.txt", n);
        let out = b.dir.path().join("peer.csv");
        let Some(program) = which(program) else {
            b.row(
                &format!("peer: {label}"),
                "result",
                format!("skipped: {program} not found"),
                "",
                None,
            );
            continue;
        };
        let mut cmd = Command::new(program);
        cmd.arg(root.join(script))
            .arg(&ids)
            .arg(&out)
            .env("YUJU_API_KEY", KEY)
            .env("YUJU_BASE_URL", sim.base_url())
            .env("CONCURRENCY", "32")
            .stderr(Stdio::null());
        let cost = measure(cmd);
        let name = format!("peer on latency-bound ({n}, conc 32): {label}");
        if cost.exit != 0 {
            b.row(
                &name,
                "result",
                format!("failed (exit {}): tool missing?", cost.exit),
                "",
                None,
            );
            continue;
        }
        b.row(
            &name,
            "wall, CPU, peak RSS",
            format!(
                "{}, {}, {}",
                secs(cost.wall),
                secs(cost.cpu),
                mib(cost.max_rss_kib)
            ),
            "",
            None,
        );
    }
    if let Some(c) = b.latency_cost {
        b.row(
            &format!("yuju-export on latency-bound ({n}, conc 32)"),
            "wall, CPU, peak RSS",
            format!("{}, {}, {}", secs(c.wall), secs(c.cpu), mib(c.max_rss_kib)),
            "",
            None,
        );
    }
}

impl Bench {
    #[allow(clippy::type_complexity)]
    fn scenarios() -> Vec<(&'static str, fn(&mut Bench))> {
        vec![
            ("latency", latency),
            ("rate", rate),
            ("adaptive", adaptive),
            ("limits", limits),
            ("schedule", schedule),
            ("shared", shared),
            ("cap", cap),
            ("cpu", cpu),
            ("http", http_floor),
            ("memory", memory),
            ("window", window),
            ("hostile", hostile),
            ("parquet", parquet),
            ("pipeline", pipeline),
            ("peers", peers),
        ]
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("__measure") {
        trampoline(&args[1..]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let wanted: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let mut b = Bench {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
        dir: tempfile::tempdir().unwrap(),
        quick,
        table: Vec::new(),
        latency_cost: None,
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!(
        "yuju-export {} loopback benchmark — {} cores, {cpu_model}{}",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { " (--quick: sizes / 10)" } else { "" }
    );
    for (name, f) in Bench::scenarios() {
        if wanted.is_empty() || wanted.contains(&name) {
            eprintln!("running {name} ...");
            f(&mut b);
        }
    }
    b.print();
}
