//! The rate limiter shared by every worker: it finds the platform's
//! per-second limit, whatever design counts it, and paces requests under it.
//!
//! - **Pacing**: requests take slots on one schedule that does not drift,
//!   and a budget keeps the requests not answered 429 in any trailing
//!   second under the estimated limit.
//! - **Slow start**: 8 requests in the first second, one and a half more
//!   per accepted answer, until the first 429.
//! - **Estimate**: a 429 counts the requests of the second before its own
//!   that were not answered 429; what else it proves depends on whether it
//!   went at the estimate (a step down, half once it held a second; its
//!   pace is then a ceiling), on a probe's first step (halfway to the
//!   lowest ceiling of the last minute: estimates are fractional) or while
//!   a probe grew. A 429 right after a cut at the estimate, with nothing
//!   accepted since, pauses the schedule two slots: the limit fell.
//! - **Probing, less and less**: hold, probe one request per second over
//!   the estimate, then double the excess; the hold doubles with each cut
//!   that finds the limit where it was (0.5 s to 3 s, 6 s near the ceiling,
//!   jittered).
//! - **A limit that fell**: under half the rate accepted over 3 s lately,
//!   the estimate holds at most 1 s and probes and grows sooner.
//! - **Shards** (`--shard K/N`) start at 8/N and, contended for 8 s after
//!   any 429, probe in single steps about every N × 3 s (8 s at most) and
//!   cut 15 % of their pace at their estimate; past the first step they
//!   double the excess every 3 s.
//! - **Late 429s**: requests pending past twice the slowest recent answer
//!   are overdue, and enough of them stop the growth and shrink the slow
//!   start's window, or cut the pace.
//!
//! The estimator's state is [`state`]; its tests run every limit model on a
//! virtual clock (`tests.rs`). The design, its figures and sources: docs/limits.md.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

mod state;

use state::{CutFor, Reception, State};

/// Requests the slow start sends in its first second before any answer.
const INITIAL_WINDOW: f64 = 8.0;
/// What each accepted answer adds to the slow start's allowance. An answered
/// request still counts against the second it was sent in, so 1 would keep
/// the requests in flight constant for a whole second, and 2 (TCP's
/// doubling) lets a gateway that answers its 429s late be overshot by the
/// whole limit; 1.5 grows the requests in flight by half every round trip.
const GROWTH: f64 = 1.5;
/// Time held under the estimate after a cut that found the limit moved.
const HOLD: Duration = Duration::from_millis(500);
/// The longest hold: each cut that finds the limit where it was doubles
/// the hold, up to this.
const HOLD_MAX: Duration = Duration::from_secs(3);
/// An estimate within this of the ceiling has found the limit to the
/// request, or to a fraction: a probe's first step (one request over the
/// estimate) would find the ceiling again at the cost of a 429, so the
/// hold may grow to [`HOLD_NEAR_MAX`] (a raised limit is then found up to
/// 3 s later).
const NEAR_CEILING: f64 = 1.0;
/// The longest hold of an estimate near the ceiling.
const HOLD_NEAR_MAX: Duration = Duration::from_secs(6);
/// The longest hold of a shard while other shards are about, before its
/// jitter: N × [`HOLD_MAX`] for N shards, but never longer than this. Its
/// probes are how a shard left behind wins back a request per second of
/// the others' parts, so it probes about this often at least: 12 s for
/// four let the parts drift apart until one shard ran far behind; 6 s
/// draws more 429s (four shards on fixed windows: 4.4 % against 4.0 %,
/// with [`CONTENDED`] and [`STEP_SHARD`] as they are).
const HOLD_CONTENDED_MAX: Duration = Duration::from_secs(8);
/// How far a hold is drawn from its length either way, so processes
/// sharing a key do not probe in step.
const JITTER: f64 = 0.25;
/// How long a probe holds one request per second over the estimate
/// before it grows: most of the time a whole window of the platform's sees
/// it (2 s would be every time, and finds a returned limit a second later).
const PROBE: Duration = Duration::from_millis(1500);
/// Doubling time of the probe's excess over the estimate past that, in
/// seconds.
const STEP: f64 = 0.5;
/// A shard's doubling time past its first step, in seconds: its growth
/// starts soon after the other shards' 429s stop, which is how it finds
/// the part of a shard that finished, and starts slowly, since they may
/// only have paused (0.5 s draws more 429s for the same efficiency).
const STEP_SHARD: f64 = 3.0;
/// An estimate under this share of the highest set in the last
/// [`HIGH_MEMORY`] is a limit that fell and may come back: it holds at
/// most [`HOLD_BACK_MAX`], probes for [`PROBE_BACK`] and grows by
/// doubling every [`STEP_BACK`] seconds.
const RECOVER_UNDER: f64 = 0.5;
/// The span over which the accepted rate counts as sustained.
const SUSTAINED: Duration = Duration::from_secs(3);
/// How long the highest sustained rate, and the ceiling, are remembered.
const HIGH_MEMORY: Duration = Duration::from_secs(60);
/// The longest hold of a limit that fell.
const HOLD_BACK_MAX: Duration = Duration::from_millis(1000);
/// The probe's first step for a limit that fell.
const PROBE_BACK: Duration = Duration::from_millis(750);
/// Doubling time of the probe for a limit that fell, in seconds.
const STEP_BACK: f64 = 0.15;
/// Cut of the pace when requests sent since the last cut are overdue as
/// late 429s would be (botocore's β is 0.7; the count already cut most of
/// the way).
const BETA: f64 = 0.9;
/// A cut that finds the limit more than this over the estimate before it
/// found headroom: the next probe comes soon again.
const RISE: f64 = 1.5;
/// How long after its last 429 a shard takes the other shards of the run
/// to be on the same key, and does not grow its own probe past the first
/// step: longer draws fewer 429s, and finds the part of a shard that
/// finished later (15 s left the last shard alone at its part for most
/// of that: 0.907 of the ideal on fixed windows against 0.927).
const CONTENDED: Duration = Duration::from_secs(8);
/// The part of its pace a shard gives up on a 429 at its estimate while
/// other shards are about (at least one request per second): the larger
/// a shard's part, the more it gives up, which is what draws shards that
/// add alike towards equal parts (Chiu and Jain's multiplicative
/// decrease).
const SHARE_CUT: f64 = 0.15;
/// How far a 429 to a probe's first step moves the estimate towards the
/// ceiling (halfway), and what a process alone gives up of its pace on a
/// 429 at its estimate (half a request per second).
const FRACTION: f64 = 0.5;
/// The slots of the new pace a process alone pauses for when a 429 comes
/// right after a cut at its estimate with nothing accepted since.
const PAUSE_SLOTS: f64 = 2.0;
/// What a 429 to a growing probe takes as proven: the pace this long
/// before the request (one doubling back for a process alone; a shard,
/// doubling every [`STEP_SHARD`], keeps most of what it grew to: going
/// back its whole doubling drew fewer 429s on fixed windows, 3.3 %
/// against 4.0 %, and left four shards at 0.899 of the ideal, not 0.927).
const GROWN: Duration = Duration::from_millis(500);
/// The slowest the limiter ever paces.
const MIN_RATE: f64 = 0.2;
/// The platform's limit window.
const WINDOW: Duration = Duration::from_secs(1);
/// How long the send log keeps a request: a 429 answered up to four
/// seconds late still finds the second before its request to measure.
const LOG_SPAN: Duration = Duration::from_secs(5);
/// A request still pending this many times the slowest recent accepted
/// answer (plus [`OVERDUE_SLACK`]) is *overdue*: perhaps a 429 that the
/// platform answers late.
const OVERDUE_FACTOR: u32 = 2;
/// Added to the overdue threshold, so a platform answering in a few
/// milliseconds does not make every scheduling hiccup overdue.
const OVERDUE_SLACK: Duration = Duration::from_millis(20);
/// Half-life of the slowest recent accepted answer.
const LATENCY_HALF_LIFE: Duration = Duration::from_secs(2);

/// Proof that a request may go; remembers when it was sent.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    /// The request's slot on the pacing schedule, which a task woken late
    /// keeps: the time the platform's window counts it at, as far as the
    /// limiter can tell.
    pub sent_at: Instant,
    /// When the ticket was actually issued: the answer's latency, and how
    /// long it is overdue, count from here.
    issued: Instant,
    /// Position in the send log, to record the answer.
    seq: u64,
}

/// One limiter per run, shared by all tasks.
#[derive(Debug)]
pub struct RateLimiter {
    cap: Option<f64>,
    state: Mutex<State>,
    /// Wakes waiting tasks when the allowance or the pace changed.
    changed: Notify,
}

impl RateLimiter {
    /// A limiter that finds the platform's limit, never pacing faster than
    /// `cap` requests per second when one is given.
    pub fn new(cap: Option<f64>) -> Self {
        Self::shared(cap, 1)
    }

    /// A limiter for one of `processes` processes expected to share the
    /// key (`--shard K/N`): its slow start begins with its part of what
    /// one process alone would send, and from its first 429 it probes in
    /// single steps until a while passes without one, and gives up a part
    /// of its pace to another shard's probe.
    pub fn shared(cap: Option<f64>, processes: u32) -> Self {
        Self::seeded(cap, processes, rand::random())
    }

    /// [`Self::shared`] with the holds' jitter drawn from `seed`.
    fn seeded(cap: Option<f64>, processes: u32, seed: u64) -> Self {
        let rng = StdRng::seed_from_u64(seed);
        let part = 1.0 / f64::from(processes.max(1));
        RateLimiter {
            cap,
            state: Mutex::new(State {
                curve: None,
                window: (INITIAL_WINDOW * part).max(1.0),
                next: Instant::now(),
                log: VecDeque::new(),
                first_seq: 0,
                pending: BTreeMap::new(),
                waiting: 0,
                waiting_since: None,
                throttled: Duration::ZERO,
                cuts: 0,
                streak: 0,
                part,
                rng,
                slowest: None,
                high: None,
                ceiling: None,
            }),
            changed: Notify::new(),
        }
    }

    /// The pace at `at`, under the cap and over the floor.
    fn pace(&self, s: &State, at: Instant) -> Option<f64> {
        self.under_cap(
            s.curve
                .map(|c| c.pace(at.saturating_duration_since(c.at)).max(MIN_RATE)),
        )
    }

    /// A rate (`None`: none found) under the cap; the cap alone without one.
    fn under_cap(&self, rate: Option<f64>) -> Option<f64> {
        match (rate, self.cap) {
            (Some(r), Some(cap)) => Some(r.min(cap)),
            (r, cap) => r.or(cap),
        }
    }

    /// The earliest slot that keeps the requests of any trailing second
    /// within `allowance` (the slow start's window, or the estimate's
    /// budget); `None` when the budget does not bind. (Not `now`: a slot in
    /// the past must stay in the past, or a waiter woken late would move
    /// the pacing schedule.)
    fn budget_slot(s: &State, allowance: f64) -> Option<Instant> {
        let allowance = allowance.max(1.0) as usize;
        // The log bounds the count: on a fast platform without a limit the
        // slow start's allowance soon exceeds it, and no scan is needed.
        if s.log.len() < allowance {
            return None;
        }
        // The log is in slot order: the request `allowance` places back
        // (429s not counted) must have left the trailing second. The scan
        // walks back at most `allowance` live entries and allocates nothing.
        s.log
            .iter()
            .rev()
            .filter(|(_, a)| *a != Reception::Throttled)
            .nth(allowance - 1)
            .map(|(t, _)| *t + WINDOW)
    }

    /// The requests an estimate allows in a second: a process alone rounds
    /// up, since a fractional estimate (19.5/s) is paced by the schedule
    /// and its second then holds 20; a shard rounds down, its fraction
    /// being its part of a key other shards share.
    fn whole(s: &State, allowance: f64) -> f64 {
        if s.shard() {
            allowance.floor()
        } else {
            allowance.ceil()
        }
    }

    /// A ticket if a request may go now, else the earliest time it may:
    /// the later of the pacing schedule and the budget.
    fn try_take(&self, s: &mut State, now: Instant, waited: bool) -> Result<Ticket, Instant> {
        s.forget_before(now.checked_sub(LOG_SPAN).unwrap_or(now));
        let overdue = s.overdue(now);
        let mut pace = self.pace(s, now);
        // The slow start's window counts whole requests; an estimate's
        // budget rounds up alone and down for a shard (see
        // [`Self::whole`]).
        let allowance = match s.curve {
            // Overdue requests are most likely 429s on their way: the
            // platform took that many fewer than the window, which
            // shrinks by all of them (those still in the second also
            // keep their place in it until answered, those that left it
            // keep counting). The overshoot sent while late 429s are on
            // their way then halves instead of holding.
            None if overdue.suspect() => (s.window - overdue.count as f64).floor(),
            None => s.window.floor(),
            Some(c) if overdue.suspect_since_cut() => {
                // Requests sent since the cut are overdue as a platform's
                // late 429s are: cut now, as such a 429 would on arrival.
                let window_start = now.checked_sub(WINDOW).unwrap_or(now);
                let answered = s
                    .log
                    .iter()
                    .rev()
                    .take_while(|(t, _)| *t >= window_start)
                    .filter(|(_, a)| *a != Reception::Throttled)
                    .count();
                let measured = answered.saturating_sub(overdue.count - overdue.past_window) as f64;
                let limit = (c.limit.min(pace.unwrap_or(c.limit)) * BETA)
                    .min(measured)
                    .max(MIN_RATE);
                s.cut(now, limit, CutFor::Overdue);
                pace = self.pace(s, now);
                Self::whole(s, limit)
            }
            Some(c) => {
                // No probe or doubling over the estimate while a request is
                // overdue: it may be the last probe's 429, answered late.
                if overdue.count > 0 {
                    pace = self.under_cap(Some(c.limit.max(MIN_RATE)));
                }
                Self::whole(s, c.limit.max(pace.unwrap_or(0.0)))
            }
        };
        let budget = Self::budget_slot(s, allowance);
        let slot = match (pace, budget) {
            (Some(_), Some(b)) => b.max(s.next),
            (Some(_), None) => s.next,
            (None, b) => b.unwrap_or(now),
        };
        if slot > now {
            return Err(slot);
        }
        // A task that waited for this slot keeps it however late the
        // runtime woke it (up to a second), so the schedule does not drift
        // on a loaded machine; the slots after it are then taken at once
        // until the schedule has caught up. After an idle spell (nobody
        // waiting for the slot) the schedule restarts now.
        let sent_at = match pace {
            Some(rate)
                if now.saturating_duration_since(slot) < Duration::from_secs_f64(1.0 / rate) =>
            {
                slot
            }
            Some(_) if waited && now.saturating_duration_since(slot) < WINDOW => slot,
            _ => now,
        };
        if let Some(rate) = pace {
            s.next = sent_at + Duration::from_secs_f64(1.0 / rate);
        }
        let seq = s.first_seq + s.log.len() as u64;
        s.log.push_back((sent_at, Reception::Pending));
        s.pending.insert(seq, now);
        Ok(Ticket {
            sent_at,
            issued: now,
            seq,
        })
    }

    /// Wait for this request's slot.
    pub async fn acquire(&self) -> Ticket {
        let mut guard = None;
        loop {
            // Registered before the check, so a change made between the
            // check and the sleep still wakes this task.
            let changed = self.changed.notified();
            let wait = {
                let mut s = self.state.lock().expect("limiter lock");
                match self.try_take(&mut s, Instant::now(), guard.is_some()) {
                    Ok(ticket) => return ticket,
                    Err(slot) => {
                        if guard.is_none() {
                            s.waiting += 1;
                            if s.waiting == 1 {
                                s.waiting_since = Some(Instant::now());
                            }
                        }
                        slot
                    }
                }
            };
            if guard.is_none() {
                guard = Some(WaitGuard(self));
            }
            tokio::select! {
                _ = sleep_until(wait) => {}
                _ = changed => {}
            }
        }
    }

    /// The platform accepted a request (any answer but 429).
    pub fn on_success(&self, ticket: &Ticket) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("limiter lock");
        let was_overdue = s.answer(ticket, Reception::Accepted, now);
        s.note_latency(now.saturating_duration_since(ticket.issued), now);
        // The slow start grows unless 429s may be on their way.
        let grows = s.curve.is_none() && !s.overdue(now).suspect();
        if grows {
            s.window += GROWTH;
        }
        drop(s);
        if grows || was_overdue {
            self.changed.notify_waiters();
        }
    }

    /// The request holding `ticket` ended in something that tells nothing
    /// of the limit: a 5xx, a timeout, a reset, an unreadable body. It no
    /// longer waits for an answer (so it cannot look like a late 429), still
    /// counts against its second, and neither grows the slow start nor
    /// sets the latency an answer is judged overdue against.
    pub fn on_other(&self, ticket: &Ticket) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("limiter lock");
        let was_overdue = s.answer(ticket, Reception::Accepted, now);
        drop(s);
        if was_overdue {
            self.changed.notify_waiters();
        }
    }

    /// The platform answered 429 to the request holding `ticket`.
    pub fn on_throttled(&self, ticket: &Ticket) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("limiter lock");
        s.answer(ticket, Reception::Throttled, now);
        let sent = ticket.sent_at;
        if s.curve.is_some_and(|c| sent < c.at) {
            return;
        }
        let measured = s.not_throttled_before(ticket.seq, sent, now) as f64;
        let shards = s.shard();
        let cut_for = if s.curve.is_some_and(|c| c.probing(sent)) {
            CutFor::Probe
        } else {
            CutFor::Estimate
        };
        let limit = self
            .limit_after_429(&mut s, sent, measured, now)
            .max(MIN_RATE);
        let refused_again = !shards && s.refused_again(sent);
        s.cut(now, limit, cut_for);
        if refused_again {
            // The platform refuses whatever comes now: a limit that fell
            // under what the second before still counts (a fixed window
            // full until it turns, a sliding one until it drains). A pause
            // spares the requests that would each draw a 429 and cut one
            // step more.
            let pause = Duration::from_secs_f64(PAUSE_SLOTS / limit);
            s.next = s.next.max(now + pause);
        }
        drop(s);
        self.changed.notify_waiters();
        tracing::debug!(limit, "rate limited by the platform: slowing down");
    }

    /// The estimate after a 429 to a request sent at `sent`, when the
    /// requests of the second before it not answered 429 were `measured`.
    fn limit_after_429(&self, s: &mut State, sent: Instant, measured: f64, now: Instant) -> f64 {
        let shards = s.shard();
        match (s.curve, self.pace(s, sent)) {
            // A probe's 429: the estimate held, and so did the pace of two
            // seconds before, which a whole window of the platform's saw
            // (a count across a fixed window's edge may read more than
            // either).
            (Some(c), Some(at)) if c.probing(sent) => {
                let growing = c.growing(sent);
                let back = if growing { GROWN } else { 2 * WINDOW };
                let before = sent.checked_sub(back).unwrap_or(sent);
                let held = c.limit.max(self.pace(s, before).unwrap_or(c.limit));
                if growing {
                    // Past the first step: whatever ceiling was known,
                    // the limit had risen over it.
                    s.ceiling = None;
                    measured.min(held)
                } else if shards {
                    // A shard's probes are single steps against other
                    // shards' shares: it keeps the whole-request estimate.
                    measured.min(held)
                } else {
                    // The first step puts the limit between the estimate
                    // and the lowest pace lately answered 429 (this step's
                    // at most): the estimate goes halfway, so a limit of
                    // 19.8/s read as 19 is not kept at 19 for good.
                    let ceiling = s.note_ceiling(at, Some(held), now).max(held);
                    seen(measured, held).min(held + FRACTION * (ceiling - held))
                }
            }
            // Throttled at the estimate: the limit fell, or another client
            // of the key took more of it. A shard gives up a part of its
            // pace, so the shard with the larger part gives up more. A
            // process alone whose estimate held a whole window gives up
            // half a step (a limit a little under it, or transit that
            // varies) and notes the pace as a ceiling; one whose estimate
            // had just been set gives up a whole step (it was set too
            // high, as after a growing probe's 429 across a window's edge).
            (Some(_), Some(pace)) if shards => {
                (measured + 1.0 - s.part).min(pace - (SHARE_CUT * pace).max(1.0))
            }
            (Some(c), Some(pace)) if sent.saturating_duration_since(c.at) >= WINDOW => {
                s.note_ceiling(pace, None, now);
                measured.min(pace - FRACTION)
            }
            (Some(_), Some(pace)) => measured.min(pace - 1.0),
            // The first 429: the count alone, since no pace was set. A cap
            // under it still bounds the pace.
            _ => measured,
        }
    }

    /// The rate the limiter paces at now (`None` = not paced: no cap, and
    /// no 429 yet). The run reports [`Self::estimate`] instead.
    #[cfg(test)]
    fn current_rate(&self) -> Option<f64> {
        let s = self.state.lock().expect("limiter lock");
        self.pace(&s, Instant::now())
    }

    /// The limit the limiter last measured, under the cap: what the run
    /// learned of the platform's limit (`None` = no cap, and no 429 yet).
    /// Unlike the pace it does not follow the probes and
    /// doublings above the estimate, nor grow while the run sends less
    /// than the pace allows.
    /// Estimates are fractional: this one is rounded to hundredths.
    pub fn estimate(&self) -> Option<f64> {
        let s = self.state.lock().expect("limiter lock");
        self.under_cap(s.curve.map(|c| c.limit))
            .map(|r| (r * 100.0).round() / 100.0)
    }

    /// Wall-clock time during which at least one request waited for a slot.
    pub fn throttled(&self) -> Duration {
        let s = self.state.lock().expect("limiter lock");
        s.throttled + s.waiting_since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// How many times a 429 cut the rate.
    pub fn cuts(&self) -> u64 {
        self.state.lock().expect("limiter lock").cuts
    }
}

/// What a lone process's count of the second before a 429 says of a
/// pace `at` it was sent at: a count one request short of the pace is
/// the pace itself, read through a network whose transit varies by a few
/// milliseconds (a request sent just over a second before may reach the
/// platform's window just under it).
fn seen(measured: f64, at: f64) -> f64 {
    if measured >= at.floor() {
        measured.max(at)
    } else {
        measured
    }
}

/// Ends a wait for a slot, even when the waiting future is dropped.
struct WaitGuard<'a>(&'a RateLimiter);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().expect("limiter lock");
        s.waiting -= 1;
        if s.waiting == 0 {
            if let Some(since) = s.waiting_since.take() {
                s.throttled += since.elapsed();
            }
        }
    }
}

#[cfg(test)]
mod tests;
