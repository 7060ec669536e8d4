//! The rate limiter shared by every worker: it finds the platform's
//! per-second limit, whatever design counts it, and paces requests under it.
//!
//! **Pacing.** Requests take slots on one schedule: slot *k+1* is `1/rate`
//! after slot *k* (or now, if the limiter was idle), so the schedule does
//! not drift however many tasks call [`RateLimiter::acquire`] at once. A
//! second rule, the *budget*, keeps the requests not answered 429 in any
//! trailing second of send time under the estimated limit: a burst that
//! used up the platform's window is not followed by more requests until it
//! has aged out, whatever the pace says.
//!
//! **Slow start.** Without an estimate the limiter sends up to 8 requests
//! in any second and allows one and a half more per accepted answer, so
//! the requests in flight grow by half with every round trip (TCP's slow
//! start doubles them; see [`GROWTH`]): a platform without a limit is
//! reached at full speed within a few round trips, and a limited one is
//! overshot by at most 8 requests plus half of what it accepted before its
//! first 429 came back.
//!
//! **Estimate.** A 429 to a request sent at *s* counts the requests sent
//! in the second before *s* that were not answered 429 (accepted, or not
//! answered yet and not overdue: a gateway may answer its 429s before the
//! backend answers the accepted requests). The first 429 sets the estimate
//! to that count. Later, what a 429 proves depends on when its request went:
//!
//! - *at the estimate* (during a hold): the limit fell, or another client of
//!   the key takes more of it. The estimate drops to the count, and by at
//!   least one request per second (the size of another client's probe);
//! - *during a probe's first step*: the estimate held, the probe did not.
//!   The estimate stays unless the pace of two seconds before (which a
//!   whole fixed window saw) was higher; the count bounds it, since a count
//!   across a fixed window's edge reads high;
//! - *while the probe grew*: the pace one doubling before the request is
//!   what the platform accepted, bounded by the count.
//!
//! A 429 to a request sent before the last cut is old news and changes
//! nothing.
//!
//! **Probing, less and less.** After a cut the limiter holds at the
//! estimate, then probes with one request per second more for 1.5 s, then
//! doubles that excess every half second until a 429. A probe costs about
//! one 429. The hold starts at half a second and doubles with every cut
//! that finds the limit where it was (at most 3 s, each drawn ±25 % so
//! shards on one key do not probe in step); a cut that finds the limit
//! more than 1.5/s higher starts it again at half a second. So a run whose
//! limit does not move probes about every 4.5 s instead of every second or
//! two, and a limit that rose is still found within about 8 s (a hold, the
//! first step, then doubling). This is the exponential spacing of TCP's
//! retransmission timer applied to probes, with the jitter AWS recommends
//! for backoff; a `--rate` cap bounds every phase.
//!
//! **Shards.** With `--shard K/N` the limiter expects N processes on the
//! key: its slow start begins at 8/N, and from its first 429 it is
//! *contended* for 15 s, renewed by every 429 that comes at its estimate
//! (most likely another shard's probe: the sign of a competitor rather
//! than a limit, in the sense of TCP's fairness work). While contended its
//! holds stretch to 3 s × N and its probes do not grow past the first
//! step, so one shard's probe moves at most about one request per second
//! from the others, landing on each in proportion to its pace; and a 429
//! at its estimate cuts 15 % of its pace (at least one request per
//! second), so the shard with the larger part gives up more. Shards that
//! add alike and cut in proportion tend towards equal parts (Chiu and
//! Jain's AIMD), though within a minute's run they still drift apart: see
//! docs/limits.md. No file, lock or network is shared.
//!
//! **Late 429s.** A gateway may answer its 429s long after the accepted
//! requests come back, so for a while a rejected request looks like a
//! request in flight. A request still pending after twice the slowest
//! recent accepted answer (halving every two seconds) plus 20 ms is
//! *overdue*. While two or more requests and a tenth or more of the
//! second's are overdue, the slow start stops growing and still counts the
//! overdue requests that left the second. After a cut, the pace holds at
//! the estimate (no probe, no doubling) while any request is overdue, and
//! when a quarter or more of the requests sent since the cut are overdue
//! the limiter cuts at once to what the last second shows, as such a 429
//! would on arrival. The send log keeps five seconds, so a 429 answered up
//! to four seconds late still measures the second before its request.
//! Latency and overdue time count from when a request was issued, not from
//! the pacing slot it kept.
//!
//! **Retries.** A 429 without `Retry-After` is retried at the next slot,
//! with no backoff (see [`crate::pace::retry`]): the pace already sets the rate,
//! and a backoff would only hold back the customer, which at the end of a
//! run holds back the run.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

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
/// Cut of the pace when requests sent since the last cut are overdue as
/// late 429s would be (botocore's β is 0.7; the count already cut most of
/// the way).
const BETA: f64 = 0.9;
/// A cut that finds the limit more than this over the estimate before it
/// found headroom: the next probe comes soon again.
const RISE: f64 = 1.5;
/// How long after its first 429, or a 429 at its estimate, a shard takes
/// the other shards of the run to be on the same key, and does not grow
/// its own probe past the first step.
const CONTENDED: Duration = Duration::from_secs(15);
/// The part of its pace a shard gives up on a 429 at its estimate while
/// other shards are about (at least one request per second): the larger
/// a shard's part, the more it gives up, which is what draws shards that
/// add alike towards equal parts (Chiu and Jain's multiplicative
/// decrease).
const SHARE_CUT: f64 = 0.15;
/// What a 429 to a growing probe takes as proven: the pace this long
/// before the request (one doubling back).
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

/// What became of a request, as far as the limit is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reception {
    Pending,
    Accepted,
    Throttled,
}

/// The pace after the last cut, as a function of time.
#[derive(Debug, Clone, Copy)]
struct Curve {
    /// When the cut was made; requests sent before it are old news.
    at: Instant,
    /// The estimated limit, requests per second.
    limit: f64,
    /// How long the pace holds at the estimate before probing.
    hold: Duration,
    /// Until when another client of the key is taken to be about.
    contended_until: Option<Instant>,
}

impl Curve {
    /// The pace `t` after the cut: hold, probe, then grow.
    fn pace(&self, t: Duration) -> f64 {
        if t < self.hold {
            return self.limit;
        }
        let grow_from = self.grow_from();
        if t < grow_from {
            return self.limit + 1.0;
        }
        self.limit + 2f64.powf(1.0 + (t - grow_from).as_secs_f64() / STEP)
    }

    /// When, after the cut, the probe may grow past its first step: after
    /// [`PROBE`], and not while another client of the key is about.
    fn grow_from(&self) -> Duration {
        let first = self.hold + PROBE;
        match self.contended_until {
            Some(until) => first.max(until.saturating_duration_since(self.at)),
            None => first,
        }
    }

    /// Whether a request sent at `at` went past the probe's first step.
    fn growing(&self, at: Instant) -> bool {
        at.saturating_duration_since(self.at) >= self.grow_from()
    }

    /// Whether a request sent at `at` went at a probe's pace, over the
    /// estimate.
    fn probing(&self, at: Instant) -> bool {
        at.saturating_duration_since(self.at) >= self.hold
    }
}

#[derive(Debug)]
struct State {
    /// `None` during the slow start (no 429 yet).
    curve: Option<Curve>,
    /// The slow start's allowance of requests in any second.
    window: f64,
    /// Next free slot of the pacing schedule.
    next: Instant,
    /// Requests sent (or given a slot) in the last [`LOG_SPAN`], in slot
    /// order, with their answers; `first_seq` numbers the front.
    log: VecDeque<(Instant, Reception)>,
    first_seq: u64,
    /// The requests of the log not answered yet, by number, with when
    /// they were issued.
    pending: BTreeMap<u64, Instant>,
    /// Tasks currently waiting for a slot, and since when one has been.
    waiting: usize,
    waiting_since: Option<Instant>,
    throttled: Duration,
    cuts: u64,
    /// Cuts in a row that did not find the limit higher than the estimate
    /// before them: the hold after the next cut is [`HOLD`] doubled this
    /// many times.
    streak: u32,
    /// 1 over the number of processes expected to share the key.
    part: f64,
    /// Until when another shard of the run is taken to be probing the key
    /// (a 429 came at the estimate less than [`CONTENDED`] before).
    contended_until: Option<Instant>,
    /// Draws the holds' jitter.
    rng: StdRng,
    /// The slowest accepted answer lately, decaying by half every
    /// [`LATENCY_HALF_LIFE`] from when it was seen (`None`: none yet).
    slowest: Option<(Duration, Instant)>,
}

/// Requests pending past the overdue threshold, for [`State::overdue`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Overdue {
    /// Overdue requests in the log.
    count: usize,
    /// Those of them sent more than a [`WINDOW`] ago.
    past_window: usize,
    /// Those of them sent since the last cut.
    since_cut: usize,
    /// Requests sent since the last cut, answered or not, long enough ago
    /// to be overdue.
    old_enough_since_cut: usize,
    /// Requests sent in the last [`WINDOW`], answered or not.
    recent: usize,
}

impl Overdue {
    /// Enough overdue requests to suspect 429s on their way: two or more,
    /// and a tenth or more of the second's requests. A few slow customers
    /// among many quick ones are not.
    fn suspect(&self) -> bool {
        self.count >= 2 && self.count * 10 >= self.recent
    }

    /// Enough of the requests sent since the last cut are overdue to cut
    /// again: two or more, and a quarter or more of those sent since then
    /// long enough ago. (A platform's answers are seldom more than twice
    /// as slow as the slowest recent one.)
    fn suspect_since_cut(&self) -> bool {
        self.since_cut >= 2 && self.since_cut * 4 >= self.old_enough_since_cut
    }
}

impl State {
    /// The slowest recent accepted answer, decayed to `now`.
    fn slowest(&self, now: Instant) -> Option<Duration> {
        self.slowest.map(|(d, at)| {
            let halvings =
                now.saturating_duration_since(at).as_secs_f64() / LATENCY_HALF_LIFE.as_secs_f64();
            d.mul_f64(0.5f64.powf(halvings))
        })
    }

    fn note_latency(&mut self, latency: Duration, now: Instant) {
        if self.slowest(now).is_none_or(|d| latency >= d) {
            self.slowest = Some((latency, now));
        }
    }

    /// How long a request may be pending at `now` before it is overdue;
    /// `None` before an accepted answer has set it.
    fn overdue_after(&self, now: Instant) -> Option<Duration> {
        self.slowest(now)
            .map(|slowest| slowest * OVERDUE_FACTOR + OVERDUE_SLACK)
    }

    /// The requests pending past the overdue threshold at `now`; none
    /// before an accepted answer has set the threshold.
    fn overdue(&self, now: Instant) -> Overdue {
        let Some(threshold) = self.overdue_after(now) else {
            return Overdue::default();
        };
        let (Some(late), Some(window_start)) =
            (now.checked_sub(threshold), now.checked_sub(WINDOW))
        else {
            return Overdue::default();
        };
        let mut o = Overdue {
            recent: self.log.len() - self.log.partition_point(|(t, _)| *t < window_start),
            ..Overdue::default()
        };
        let cut = self.curve.map(|c| c.at);
        if let Some(cut) = cut {
            o.old_enough_since_cut = self
                .log
                .partition_point(|(t, _)| *t < late)
                .saturating_sub(self.log.partition_point(|(t, _)| *t < cut));
        }
        for t in self.pending.values().take_while(|t| **t < late) {
            o.count += 1;
            if *t < window_start {
                o.past_window += 1;
            }
            if cut.is_some_and(|cut| *t >= cut) {
                o.since_cut += 1;
            }
        }
        o
    }

    fn entry(&mut self, seq: u64) -> Option<&mut (Instant, Reception)> {
        let i = seq.checked_sub(self.first_seq)?;
        self.log.get_mut(usize::try_from(i).ok()?)
    }

    /// Requests sent before request `seq`, in the second before it, that
    /// were not answered 429 and are not overdue at `now` (an overdue
    /// request is most likely a 429 on its way).
    fn not_throttled_before(&self, seq: u64, sent: Instant, now: Instant) -> usize {
        let end = seq.saturating_sub(self.first_seq) as usize;
        let from = sent.checked_sub(WINDOW).unwrap_or(sent);
        let late = self
            .overdue_after(now)
            .and_then(|after| now.checked_sub(after));
        self.log
            .iter()
            .take(end)
            .enumerate()
            .filter(|(i, (t, a))| {
                *t >= from
                    && match a {
                        Reception::Throttled => false,
                        Reception::Accepted => true,
                        Reception::Pending => late.is_none_or(|late| {
                            self.pending
                                .get(&(self.first_seq + *i as u64))
                                .is_none_or(|issued| *issued >= late)
                        }),
                    }
            })
            .count()
    }

    /// Set the estimate to `limit` at `now`. A cut that finds the limit
    /// no higher than the estimate before it doubles the hold before the
    /// next probe; one that finds it higher starts again from [`HOLD`].
    fn cut(&mut self, now: Instant, limit: f64) {
        match self.curve {
            Some(c) if limit <= c.limit + RISE => self.streak = self.streak.saturating_add(1),
            _ => self.streak = 0,
        }
        let hold = HOLD
            .saturating_mul(1u32 << self.streak.min(16))
            .min(if self.contended_until.is_some_and(|t| now < t) {
                HOLD_MAX.div_f64(self.part)
            } else {
                HOLD_MAX
            })
            .mul_f64(self.rng.random_range(1.0 - JITTER..1.0 + JITTER));
        self.curve = Some(Curve {
            at: now,
            limit,
            hold,
            contended_until: self.contended_until,
        });
        self.cuts += 1;
    }

    fn forget_before(&mut self, t: Instant) {
        while self.log.front().is_some_and(|(at, _)| *at < t) {
            if let Some((_, Reception::Pending)) = self.log.pop_front() {
                self.pending.remove(&self.first_seq);
            }
            self.first_seq += 1;
        }
    }

    /// Record the answer to the request of `ticket`; whether it was
    /// overdue (its answer may then lift a hold).
    fn answer(&mut self, ticket: &Ticket, answer: Reception, now: Instant) -> bool {
        let was_overdue = self
            .overdue_after(now)
            .is_some_and(|after| now.saturating_duration_since(ticket.issued) > after);
        if let Some(e) = self.entry(ticket.seq) {
            e.1 = answer;
            self.pending.remove(&ticket.seq);
        }
        was_overdue
    }
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
    /// one process alone would send, and from its first 429 it probes up
    /// to N times less often, in single steps, and gives up a part of its
    /// pace to another shard's probe.
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
                contended_until: None,
                rng,
                slowest: None,
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
        let allowance = allowance.floor().max(1.0) as usize;
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

    /// A ticket if a request may go now, else the earliest time it may:
    /// the later of the pacing schedule and the budget.
    fn try_take(&self, s: &mut State, now: Instant, waited: bool) -> Result<Ticket, Instant> {
        s.forget_before(now.checked_sub(LOG_SPAN).unwrap_or(now));
        let overdue = s.overdue(now);
        let mut pace = self.pace(s, now);
        let allowance = match s.curve {
            // Overdue requests that left the second may be 429s on their
            // way: until they are answered they still count.
            None if overdue.suspect() => s.window - overdue.past_window as f64,
            None => s.window,
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
                s.cut(now, limit);
                pace = self.pace(s, now);
                limit
            }
            Some(c) => {
                // No probe or doubling over the estimate while a request is
                // overdue: it may be the last probe's 429, answered late.
                if overdue.count > 0 {
                    pace = self.under_cap(Some(c.limit.max(MIN_RATE)));
                }
                c.limit.max(pace.unwrap_or(0.0))
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
        // With other shards of the run on the key, every 429 but a probe's
        // (the first, or one at the estimate) most likely means another
        // shard is on the key: no growth past the first step for a while,
        // so none grows past the others while they all find the limit.
        let shards = s.part < 1.0;
        if shards && !s.curve.is_some_and(|c| c.probing(sent)) {
            s.contended_until = Some(now + CONTENDED);
        }
        let limit = match (s.curve, self.pace(&s, sent)) {
            // A probe's 429: the estimate held, and so did the pace of two
            // seconds before, which a whole window of the platform's saw
            // (a count across a fixed window's edge may read more than
            // either).
            (Some(c), Some(_)) if c.probing(sent) => {
                let back = if c.growing(sent) { GROWN } else { 2 * WINDOW };
                let before = sent.checked_sub(back).unwrap_or(sent);
                let held = self.pace(&s, before).unwrap_or(c.limit);
                measured.min(c.limit.max(held))
            }
            // Throttled at the estimate: the limit fell, or another client
            // of the key took more of it. A shard gives up a part of its
            // pace, so the shard with the larger part gives up more.
            (Some(_), Some(pace)) => {
                let give_up = if shards {
                    (SHARE_CUT * pace).max(1.0)
                } else {
                    1.0
                };
                (measured + 1.0 - s.part).min(pace - give_up)
            }
            // The first 429: the count alone, since no pace was set. A cap
            // under it still bounds the pace.
            _ => measured,
        }
        .max(MIN_RATE);
        s.cut(now, limit);
        drop(s);
        self.changed.notify_waiters();
        tracing::debug!(limit, "rate limited by the platform: slowing down");
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
    pub fn estimate(&self) -> Option<f64> {
        let s = self.state.lock().expect("limiter lock");
        self.under_cap(s.curve.map(|c| c.limit))
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
