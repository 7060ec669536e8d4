//! A simulator of the platform's `POST /v1/openapi/chat/record`, on
//! loopback, used by `mock`, `demo`, the integration tests and the benches.
//!
//! Deterministic data per customer ([`data`]); a key check (401); knobs for
//! latency and lognormal jitter, a fault rate over a mix of [`faults`], a
//! per-second rate limit (429 `Too Many Requests in one second`) counted by
//! one of the designs in [`limiter`], and a quota after which it answers
//! 402. Special IDs:
//! the documented example customer; `unknown…` answers `Code` 4000;
//! `empty…` has no chats; `null…` answers `Data: null`; `drift…` answers
//! with values of other JSON types and undocumented fields;
//! `shape-data…` and `shape-messages…` answer with `Data` an object and
//! `messages` a string ([`data::success_body`]); [`envelope`] lists the
//! IDs answered with faults inside a 200's envelope, [`hostile`] the IDs
//! of answers a hostile server might send. [`contacts`] answers the
//! contact list.

pub mod contacts;
pub mod data;
pub mod envelope;
pub mod faults;
pub mod hostile;
pub mod limiter;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, RawQuery, State};
use axum::http::{Response, StatusCode};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use contacts::{ContactBook, ContactsMode};
use data::SplitMix;
pub use data::{Calendar, DataProfile, EXAMPLE_CUSTOMER};
use faults::text;
pub use faults::Fault;
use limiter::Gate;
pub use limiter::{Model as LimitModel, RateLimit, Schedule};

/// How the simulated platform behaves.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The only key accepted; anything else gets 401.
    pub api_key: String,
    /// Median latency of an answer.
    pub latency: Duration,
    /// Lognormal sigma of the latency (0 = constant).
    pub jitter_sigma: f64,
    /// Share of requests answered with a fault.
    pub fault_rate: f64,
    /// Faults to pick from, uniformly.
    pub faults: Vec<Fault>,
    /// Requests per second the key may make, counted by `limit_model`.
    pub rate_limit: Option<u32>,
    /// How the rate limit counts requests (fixed wall-clock windows unless
    /// told otherwise).
    pub limit_model: LimitModel,
    /// Tokens of the bucket for [`LimitModel::Bucket`] (`None` = the limit).
    pub burst: Option<u32>,
    /// Changes of the rate limit over the run (empty = constant).
    pub rate_schedule: Schedule,
    /// How long a rate-limit 429 takes to come back (zero = at once, as a
    /// gateway answers before the backend does).
    pub throttle_delay: Duration,
    /// Requests served (past the key and rate checks) after which every
    /// request gets 402.
    pub quota: Option<u64>,
    /// After this many requests served, 503 to everything.
    pub down_after: Option<u64>,
    /// Seed of the fault and jitter sequence.
    pub seed: u64,
    /// How long a `hang` fault stays silent.
    pub hang: Duration,
    /// `Retry-After` sent with injected 429s.
    pub retry_after: Duration,
    /// Shape of the generated chats.
    pub data: DataProfile,
    /// When the chats happened: with a calendar, a request gets only the
    /// chats of its window (`start_time`..`end_time`, or the last `days`
    /// before the calendar's end); without one, every chat.
    pub calendar: Option<Calendar>,
    /// Print each request's customer and window on stderr (`mock
    /// --log-requests`), for scripts that check what a client asked.
    pub log_requests: bool,
    /// Answer every customer `Code` 2000 with an empty `Data`, as a
    /// platform whose database is down might.
    pub empty_everywhere: bool,
    /// Answer `GET /v1/openapi/check` with a 404, as a platform without
    /// that endpoint would (its shape comes from a secondary source).
    pub no_check: bool,
    /// The contact list and how it behaves.
    pub contacts: ContactBook,
    /// Answer every window with every chat, as a platform that ignores
    /// `start_time`, `end_time` and `days` would.
    pub ignore_window: bool,
    /// The `Code` of a successful chat-record answer (2000 as documented).
    pub record_code: i64,
    /// Give every message fields the documentation does not name (`time`,
    /// `id`), as the platform's older GET variant does.
    pub undocumented_fields: bool,
}

impl Scenario {
    /// The platform's rate limit as this scenario sets it, if any.
    pub fn limit(&self) -> Option<RateLimit> {
        self.rate_limit.map(|limit| RateLimit {
            limit,
            model: self.limit_model,
            burst: self.burst.unwrap_or(limit),
            schedule: self.rate_schedule.clone(),
        })
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            api_key: "demo-key".into(),
            latency: Duration::ZERO,
            jitter_sigma: 0.0,
            fault_rate: 0.0,
            faults: Fault::ALL.to_vec(),
            rate_limit: None,
            limit_model: LimitModel::default(),
            burst: None,
            rate_schedule: Schedule::default(),
            throttle_delay: Duration::ZERO,
            quota: None,
            down_after: None,
            seed: 1,
            hang: Duration::from_secs(3600),
            retry_after: Duration::from_secs(1),
            data: DataProfile::Varied,
            calendar: None,
            log_requests: false,
            empty_everywhere: false,
            no_check: false,
            contacts: ContactBook::default(),
            ignore_window: false,
            record_code: crate::api::envelope::CODE_OK,
            undocumented_fields: false,
        }
    }
}

/// What the simulator saw, for tests and benches.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Every request received.
    pub requests: AtomicU64,
    /// 200 answers with `Code` 2000.
    pub ok: AtomicU64,
    /// 429 answers from the rate limit (not injected ones).
    pub rate_limited: AtomicU64,
    /// Injected faults.
    pub faults: AtomicU64,
    /// 401 answers.
    pub unauthorized: AtomicU64,
    /// 402 answers.
    pub quota_exceeded: AtomicU64,
    /// Requests past the key and rate-limit checks.
    pub admitted: AtomicU64,
    /// Calls of the contact list (past the key check).
    pub contact_calls: AtomicU64,
    /// Sum of the latencies slept, in microseconds.
    pub latency_us: AtomicU64,
    /// When each request past the rate limit came, since the first request.
    admit_times: Mutex<Vec<Duration>>,
    first_request: Mutex<Option<tokio::time::Instant>>,
    per_customer: Mutex<HashMap<String, u64>>,
    bodies: Mutex<Vec<serde_json::Value>>,
    windows: Mutex<BTreeSet<(String, String)>>,
}

impl SimStats {
    /// Requests received for one customer.
    pub fn requests_for(&self, customer_id: &str) -> u64 {
        self.per_customer
            .lock()
            .expect("stats lock")
            .get(customer_id)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received per customer.
    pub fn per_customer(&self) -> HashMap<String, u64> {
        self.per_customer.lock().expect("stats lock").clone()
    }

    /// The first request bodies received (up to 100), for inspection.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().expect("stats lock").clone()
    }

    /// When each request past the rate limit came (the first million),
    /// counted from the first request received: the throughput a client
    /// got, second by second.
    pub fn admit_times(&self) -> Vec<Duration> {
        self.admit_times.lock().expect("stats lock").clone()
    }

    /// Every distinct (`start_time`, `end_time`) pair requested.
    pub fn windows(&self) -> BTreeSet<(String, String)> {
        self.windows.lock().expect("stats lock").clone()
    }
}

struct Shared {
    scenario: Scenario,
    stats: Arc<SimStats>,
    /// The key's rate limiter, if the scenario has a limit.
    gate: Option<Mutex<Gate>>,
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    pub addr: SocketAddr,
    pub stats: Arc<SimStats>,
    stop: Option<oneshot::Sender<()>>,
}

impl Simulator {
    /// The base URL to pass as `--base-url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Start on a free loopback port.
pub async fn start(scenario: Scenario) -> std::io::Result<Simulator> {
    start_on("127.0.0.1:0".parse().expect("valid address"), scenario).await
}

/// Start on `addr`.
pub async fn start_on(addr: SocketAddr, scenario: Scenario) -> std::io::Result<Simulator> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(SimStats::default());
    let shared = Arc::new(Shared {
        gate: scenario.limit().map(|l| Mutex::new(Gate::wall_clock(l))),
        scenario,
        stats: stats.clone(),
    });
    let app = Router::new()
        .route("/v1/openapi/chat/record", post(handle))
        .route("/v1/openapi/check", axum::routing::get(check))
        .route("/v1/openapi/contacts", post(contact_list))
        .with_state(shared);
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Simulator {
        addr,
        stats,
        stop: Some(tx),
    })
}

#[derive(Debug, Deserialize)]
struct Params {
    #[serde(rename = "apiKey")]
    api_key: Option<String>,
}

/// The request body, checked as strictly as the contract reads.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
struct ReceivedBody {
    customer_id: String,
    days: String,
    start_time: String,
    end_time: String,
    chat_source: Vec<String>,
    chat_robot: Vec<String>,
    seat_member: Vec<String>,
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    text(status, "application/json", body)
}

fn code(code: i64, msg: &str) -> Response<Body> {
    json(
        StatusCode::OK,
        serde_json::json!({"Code": code, "Data": null, "Msg": msg, "RequestId": "sim"}).to_string(),
    )
}

/// `GET /v1/openapi/check`: `{"success":true}` for the accepted key, 401
/// for any other.
async fn check(State(shared): State<Arc<Shared>>, Query(params): Query<Params>) -> Response<Body> {
    shared.stats.requests.fetch_add(1, Relaxed);
    if shared.scenario.no_check {
        return faults::text(StatusCode::NOT_FOUND, "text/html", "<h1>404 Not Found</h1>");
    }
    if params.api_key.as_deref() == Some(shared.scenario.api_key.as_str()) {
        json(StatusCode::OK, r#"{"success":true}"#.into())
    } else {
        shared.stats.unauthorized.fetch_add(1, Relaxed);
        json(
            StatusCode::UNAUTHORIZED,
            r#"{"Code":401,"Msg":"apiKey无效或已过期"}"#.into(),
        )
    }
}

/// `POST /v1/openapi/contacts`: past the key check, the rate limit and
/// the quota, the list as [`contacts::answer`] gives it.
async fn contact_list(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response<Body> {
    shared.stats.requests.fetch_add(1, Relaxed);
    let arrived = tokio::time::Instant::now();
    if let Some(refused) = admit(&shared, params.api_key.as_deref(), "", arrived).await {
        return refused;
    }
    let call = shared.stats.contact_calls.load(Relaxed);
    let (status, body) = contacts::answer(
        shared.scenario.contacts,
        call,
        &body,
        &shared.stats.contact_calls,
    );
    json(status, body)
}

/// One request: parse and record it, let it through the key check, the
/// rate limit and the quota, then answer it.
async fn handle(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> Response<Body> {
    let stats = &shared.stats;
    let n = stats.requests.fetch_add(1, Relaxed);
    let arrived = tokio::time::Instant::now();
    let request = match record(stats, &body) {
        Ok(r) => r,
        Err(e) => return code(4000, &format!("参数错误: {e}")),
    };
    if shared.scenario.log_requests {
        eprintln!(
            "request customer_id={:?} start_time={:?} end_time={:?}",
            request.customer_id, request.start_time, request.end_time
        );
    }
    if let Some(refused) = admit(
        &shared,
        params.api_key.as_deref(),
        &request.customer_id,
        arrived,
    )
    .await
    {
        return refused;
    }
    answer(&shared, &request, raw_query.as_deref().unwrap_or(""), n).await
}

/// Requests of a `throttled…` customer answered 429 before it is let
/// through: one more than the default `--retries`, fewer than the 429s
/// the client allows a customer.
pub const THROTTLED_FIRST: u64 = 6;

/// Parse the body and note what the tests and benches inspect.
fn record(stats: &SimStats, body: &[u8]) -> Result<ReceivedBody, serde_json::Error> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let mut bodies = stats.bodies.lock().expect("stats lock");
        if bodies.len() < 100 {
            bodies.push(v);
        }
    }
    let request: ReceivedBody = serde_json::from_slice(body)?;
    {
        let mut windows = stats.windows.lock().expect("stats lock");
        if windows.len() < 1000 {
            windows.insert((request.start_time.clone(), request.end_time.clone()));
        }
    }
    *stats
        .per_customer
        .lock()
        .expect("stats lock")
        .entry(request.customer_id.clone())
        .or_default() += 1;
    Ok(request)
}

/// The key check (401), the rate limit (429, and the first
/// [`THROTTLED_FIRST`] requests of a `throttled…` customer), the quota (402)
/// and a platform gone down (503); `None` lets the request through.
async fn admit(
    shared: &Shared,
    key: Option<&str>,
    customer_id: &str,
    arrived: tokio::time::Instant,
) -> Option<Response<Body>> {
    let sc = &shared.scenario;
    let stats = &shared.stats;
    let first = *stats
        .first_request
        .lock()
        .expect("stats lock")
        .get_or_insert(arrived);
    if key != Some(sc.api_key.as_str()) {
        stats.unauthorized.fetch_add(1, Relaxed);
        return Some(json(
            StatusCode::UNAUTHORIZED,
            r#"{"Code":401,"Msg":"apiKey无效或已过期"}"#.into(),
        ));
    }
    let singled_out = customer_id.starts_with("throttled")
        && stats
            .per_customer
            .lock()
            .expect("stats lock")
            .get(customer_id)
            .is_some_and(|&n| n <= THROTTLED_FIRST);
    let gated = shared
        .gate
        .as_ref()
        .is_some_and(|gate| !singled_out && !gate.lock().expect("gate lock").admit(arrived));
    if singled_out || gated {
        stats.rate_limited.fetch_add(1, Relaxed);
        if !sc.throttle_delay.is_zero() {
            tokio::time::sleep(sc.throttle_delay).await;
        }
        return Some(text(
            StatusCode::TOO_MANY_REQUESTS,
            "text/plain",
            faults::TOO_MANY,
        ));
    }
    {
        let mut times = stats.admit_times.lock().expect("stats lock");
        if times.len() < 1_000_000 {
            times.push(arrived - first);
        }
    }
    // Admission is counted atomically, so at most `quota` (or `down_after`)
    // requests are ever served, however many arrive at once.
    let admitted = stats.admitted.fetch_add(1, Relaxed);
    if sc.quota.is_some_and(|quota| admitted >= quota) {
        stats.quota_exceeded.fetch_add(1, Relaxed);
        return Some(json(
            StatusCode::PAYMENT_REQUIRED,
            r#"{"Code":402,"Msg":"资源包已用完"}"#.into(),
        ));
    }
    if sc.down_after.is_some_and(|k| admitted >= k) {
        stats.faults.fetch_add(1, Relaxed);
        return Some(faults::respond(Fault::Status503, "", sc.retry_after));
    }
    None
}

/// Answer an admitted request `n`: after the latency, a fault, a special
/// customer's answer, or the customer's chats in the requested window.
async fn answer(
    shared: &Shared,
    request: &ReceivedBody,
    raw_query: &str,
    n: u64,
) -> Response<Body> {
    let sc = &shared.scenario;
    let stats = &shared.stats;
    let mut rng = SplitMix(sc.seed.wrapping_mul(0x9E37_79B9).wrapping_add(n));
    let latency = sample_latency(sc, &mut rng);
    if !latency.is_zero() {
        stats
            .latency_us
            .fetch_add(latency.as_micros() as u64, Relaxed);
        tokio::time::sleep(latency).await;
    }
    let fault = (sc.fault_rate > 0.0 && !sc.faults.is_empty() && rng.unit() < sc.fault_rate)
        .then(|| sc.faults[rng.below(sc.faults.len() as u64) as usize]);

    let id = request.customer_id.as_str();
    if id.starts_with("unknown") {
        return code(4000, "客户不存在");
    }
    let nth = stats
        .per_customer
        .lock()
        .expect("stats lock")
        .get(id)
        .copied()
        .unwrap_or(0);
    if let Some((c, msg)) = envelope::fault(id, nth) {
        return code(c, msg);
    }
    if let Some(answer) = hostile::respond(id, raw_query, nth) {
        return answer;
    }
    if sc.empty_everywhere {
        stats.ok.fetch_add(1, Relaxed);
        return json(
            StatusCode::OK,
            format!(r#"{{"Code": 2000, "Data": [], "Msg": "成功", "RequestId": "sim-{n:08}"}}"#),
        );
    }
    let span = match sc.calendar.as_ref().filter(|_| !sc.ignore_window) {
        Some(calendar) => {
            match calendar.span(&request.days, &request.start_time, &request.end_time) {
                Ok(span) => Some((calendar, span)),
                Err(msg) => return code(4000, &format!("参数错误: {msg}")),
            }
        }
        None => None,
    };
    let good = data::success_body_in(id, &sc.data, n, span.as_ref().map(|(c, s)| (*c, s)));
    match fault {
        Some(Fault::Hang) => {
            stats.faults.fetch_add(1, Relaxed);
            tokio::time::sleep(sc.hang).await;
        }
        Some(f) => {
            stats.faults.fetch_add(1, Relaxed);
            return faults::respond(f, &good, sc.retry_after);
        }
        None => {}
    }
    stats.ok.fetch_add(1, Relaxed);
    json(
        StatusCode::OK,
        data::restyled(good, sc.record_code, sc.undocumented_fields),
    )
}

fn sample_latency(sc: &Scenario, rng: &mut SplitMix) -> Duration {
    if sc.latency.is_zero() {
        return Duration::ZERO;
    }
    if sc.jitter_sigma <= 0.0 {
        return sc.latency;
    }
    // Box–Muller for a standard normal, then lognormal around the median.
    let u1 = rng.unit().max(1e-12);
    let u2 = rng.unit();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    sc.latency.mul_f64((sc.jitter_sigma * z).exp().min(50.0))
}
