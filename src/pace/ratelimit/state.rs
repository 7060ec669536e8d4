//! The estimator behind [`super::RateLimiter`]: the send log with each
//! request's reception, the pace after the last cut ([`Curve`]), and what
//! counts as overdue ([`Overdue`]). See docs/limits.md for the design.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use tokio::time::Instant;

use super::{
    Ticket, CONTENDED, HIGH_MEMORY, HOLD, HOLD_BACK_MAX, HOLD_CONTENDED_MAX, HOLD_MAX,
    HOLD_NEAR_MAX, JITTER, LATENCY_HALF_LIFE, NEAR_CEILING, OVERDUE_FACTOR, OVERDUE_SLACK, PROBE,
    PROBE_BACK, RECOVER_UNDER, RISE, STEP, STEP_BACK, STEP_SHARD, SUSTAINED, WINDOW,
};

/// What became of a request, as far as the limit is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reception {
    Pending,
    Accepted,
    Throttled,
}

/// What a cut answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CutFor {
    /// Requests sent since the last cut are overdue as late 429s would be.
    Overdue,
    /// A 429 to a probe's request, over the estimate.
    Probe,
    /// A 429 to a request sent at the estimate, or the slow start's first.
    Estimate,
}

/// How a curve's probe steps and grows: its first step's length and the
/// doubling time of its excess past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Growth {
    /// A process alone on the key.
    Alone,
    /// A process alone whose estimate is well under one held lately: the
    /// limit fell, and may come back, so the probe steps and grows sooner.
    Recovering,
    /// A shard (`--shard K/N`): it grows slowly past its first step, since
    /// the other shards may only have drawn no 429 for a while.
    Shard,
}

impl Growth {
    /// How long the probe's first step lasts.
    fn first_step(self) -> Duration {
        match self {
            Growth::Recovering => PROBE_BACK,
            Growth::Alone | Growth::Shard => PROBE,
        }
    }

    /// Doubling time of the excess past the first step, in seconds.
    fn step(self) -> f64 {
        match self {
            Growth::Alone => STEP,
            Growth::Recovering => STEP_BACK,
            Growth::Shard => STEP_SHARD,
        }
    }
}

/// The pace after the last cut, as a function of time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Curve {
    /// When the cut was made; requests sent before it are old news.
    pub(super) at: Instant,
    /// The estimated limit, requests per second.
    pub(super) limit: f64,
    /// How long the pace holds at the estimate before probing.
    pub(super) hold: Duration,
    /// Until when other shards of the run are taken to be on the key (a
    /// 429 came less than [`CONTENDED`] before).
    pub(super) contended_until: Option<Instant>,
    /// How the probe steps and grows.
    pub(super) growth: Growth,
    /// What the cut answered: after one for a 429 at the estimate,
    /// another 429 right after it means the platform refuses everything.
    pub(super) cut_for: CutFor,
}

impl Curve {
    /// The pace `t` after the cut: hold, probe, then grow.
    pub(super) fn pace(&self, t: Duration) -> f64 {
        if t < self.hold {
            return self.limit;
        }
        let grow_from = self.grow_from();
        if t < grow_from {
            return self.limit + 1.0;
        }
        self.limit + 2f64.powf(1.0 + (t - grow_from).as_secs_f64() / self.growth.step())
    }

    /// When, after the cut, the probe may grow past its first step: after
    /// [`PROBE`], and not while another client of the key is about.
    pub(super) fn grow_from(&self) -> Duration {
        let first = self.hold + self.growth.first_step();
        match self.contended_until {
            Some(until) => first.max(until.saturating_duration_since(self.at)),
            None => first,
        }
    }

    /// Whether a request sent at `at` went past the probe's first step.
    pub(super) fn growing(&self, at: Instant) -> bool {
        at.saturating_duration_since(self.at) >= self.grow_from()
    }

    /// Whether a request sent at `at` went at a probe's pace, over the
    /// estimate.
    pub(super) fn probing(&self, at: Instant) -> bool {
        at.saturating_duration_since(self.at) >= self.hold
    }
}

#[derive(Debug)]
pub(super) struct State {
    /// `None` during the slow start (no 429 yet).
    pub(super) curve: Option<Curve>,
    /// The slow start's allowance of requests in any second.
    pub(super) window: f64,
    /// Next free slot of the pacing schedule.
    pub(super) next: Instant,
    /// Requests sent (or given a slot) in the last [`LOG_SPAN`], in slot
    /// order, with their answers; `first_seq` numbers the front.
    pub(super) log: VecDeque<(Instant, Reception)>,
    pub(super) first_seq: u64,
    /// The requests of the log not answered yet, by number, with when
    /// they were issued.
    pub(super) pending: BTreeMap<u64, Instant>,
    /// Tasks currently waiting for a slot, and since when one has been.
    pub(super) waiting: usize,
    pub(super) waiting_since: Option<Instant>,
    pub(super) throttled: Duration,
    pub(super) cuts: u64,
    /// Cuts in a row that did not find the limit higher than the estimate
    /// before them: the hold after the next cut is [`HOLD`] doubled this
    /// many times.
    pub(super) streak: u32,
    /// 1 over the number of processes expected to share the key.
    pub(super) part: f64,
    /// Draws the holds' jitter.
    pub(super) rng: StdRng,
    /// The slowest accepted answer lately, decaying by half every
    /// [`LATENCY_HALF_LIFE`] from when it was seen (`None`: none yet).
    pub(super) slowest: Option<(Duration, Instant)>,
    /// The highest estimate set in the last [`HIGH_MEMORY`], and when.
    pub(super) high: Option<(f64, Instant)>,
    /// The lowest pace a lone process drew a 429 at, at its estimate or a
    /// probe's first step, in the last [`HIGH_MEMORY`], and when: a probe's
    /// first step that draws one sets the estimate halfway to it.
    pub(super) ceiling: Option<(f64, Instant)>,
}

/// A rate noted at some time, if that was in the last [`HIGH_MEMORY`].
fn recent(mark: Option<(f64, Instant)>, now: Instant) -> Option<f64> {
    mark.filter(|(_, at)| now.saturating_duration_since(*at) < HIGH_MEMORY)
        .map(|(rate, _)| rate)
}

/// Requests pending past the overdue threshold, for [`State::overdue`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Overdue {
    /// Overdue requests in the log.
    pub(super) count: usize,
    /// Those of them sent more than a [`WINDOW`] ago.
    pub(super) past_window: usize,
    /// Those of them sent since the last cut.
    pub(super) since_cut: usize,
    /// Requests sent since the last cut, answered or not, long enough ago
    /// to be overdue.
    pub(super) old_enough_since_cut: usize,
    /// Requests sent in the last [`WINDOW`], answered or not.
    pub(super) recent: usize,
}

impl Overdue {
    /// Enough overdue requests to suspect 429s on their way: two or more,
    /// and a tenth or more of the second's requests. A few slow customers
    /// among many quick ones are not.
    pub(super) fn suspect(&self) -> bool {
        self.count >= 2 && self.count * 10 >= self.recent
    }

    /// Enough of the requests sent since the last cut are overdue to cut
    /// again: two or more, and a quarter or more of those sent since then
    /// long enough ago. (A platform's answers are seldom more than twice
    /// as slow as the slowest recent one.)
    pub(super) fn suspect_since_cut(&self) -> bool {
        self.since_cut >= 2 && self.since_cut * 4 >= self.old_enough_since_cut
    }
}

impl State {
    /// Whether other processes are expected on the key (`--shard K/N`).
    pub(super) fn shard(&self) -> bool {
        self.part < 1.0
    }

    /// The slowest recent accepted answer, decayed to `now`.
    pub(super) fn slowest(&self, now: Instant) -> Option<Duration> {
        self.slowest.map(|(d, at)| {
            let halvings =
                now.saturating_duration_since(at).as_secs_f64() / LATENCY_HALF_LIFE.as_secs_f64();
            d.mul_f64(0.5f64.powf(halvings))
        })
    }

    pub(super) fn note_latency(&mut self, latency: Duration, now: Instant) {
        if self.slowest(now).is_none_or(|d| latency >= d) {
            self.slowest = Some((latency, now));
        }
    }

    /// How long a request may be pending at `now` before it is overdue;
    /// `None` before an accepted answer has set it.
    pub(super) fn overdue_after(&self, now: Instant) -> Option<Duration> {
        self.slowest(now)
            .map(|slowest| slowest * OVERDUE_FACTOR + OVERDUE_SLACK)
    }

    /// The requests pending past the overdue threshold at `now`; none
    /// before an accepted answer has set the threshold.
    pub(super) fn overdue(&self, now: Instant) -> Overdue {
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

    pub(super) fn entry(&mut self, seq: u64) -> Option<&mut (Instant, Reception)> {
        let i = seq.checked_sub(self.first_seq)?;
        self.log.get_mut(usize::try_from(i).ok()?)
    }

    /// Requests sent before request `seq`, in the second before it, that
    /// were not answered 429 and are not overdue at `now` (an overdue
    /// request is most likely a 429 on its way).
    pub(super) fn not_throttled_before(&self, seq: u64, sent: Instant, now: Instant) -> usize {
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

    /// Whether a 429 to a request sent at `sent` comes right after a cut
    /// at the estimate: sent after that cut and less than a [`WINDOW`]
    /// after it, with no request sent since the cut accepted.
    pub(super) fn refused_again(&self, sent: Instant) -> bool {
        let Some(c) = self
            .curve
            .filter(|c| c.cut_for == CutFor::Estimate && sent >= c.at)
        else {
            return false;
        };
        let from = self.log.partition_point(|(at, _)| *at < c.at);
        sent.saturating_duration_since(c.at) < WINDOW
            && !self
                .log
                .range(from..)
                .any(|(_, a)| *a == Reception::Accepted)
    }

    /// Set the estimate to `limit` at `now`, for what `cut_for` says. A
    /// cut that finds the limit no higher than the estimate before it
    /// doubles the hold before the next probe; one that finds it higher
    /// starts again from [`HOLD`]. A shard's 429, its probe's too (the
    /// step found the other shards' parts, not the limit), makes it
    /// contended for [`CONTENDED`]: no growth past the first step until
    /// none has come for that long, so none grows past the others.
    pub(super) fn cut(&mut self, now: Instant, limit: f64, cut_for: CutFor) {
        let contended_until = match cut_for {
            CutFor::Probe | CutFor::Estimate if self.shard() => Some(now + CONTENDED),
            _ => self.curve.and_then(|c| c.contended_until),
        };
        match self.curve {
            Some(c) if limit <= c.limit + RISE => self.streak = self.streak.saturating_add(1),
            _ => self.streak = 0,
        }
        // The highest rate the platform accepted over a few seconds
        // lately (not a burst a bucket lets through): what a fall is
        // measured against.
        if let Some(sustained) = self.sustained(now) {
            if !recent(self.high, now).is_some_and(|high| high > sustained) {
                self.high = Some((sustained, now));
            }
        }
        let high = recent(self.high, now).unwrap_or(limit);
        // A shard's estimate falls as other shards come: not a limit that
        // may come back.
        let growth = if self.shard() {
            Growth::Shard
        } else if limit < RECOVER_UNDER * high {
            Growth::Recovering
        } else {
            Growth::Alone
        };
        let longest = if growth == Growth::Recovering {
            HOLD_BACK_MAX
        } else if contended_until.is_some_and(|t| now < t) {
            // N × 3 s for N shards, at most 8 s.
            HOLD_MAX.div_f64(self.part).min(HOLD_CONTENDED_MAX)
        } else if self.ceiling(now).is_some_and(|c| c - limit <= NEAR_CEILING) {
            HOLD_NEAR_MAX
        } else {
            HOLD_MAX
        };
        let hold = HOLD
            .saturating_mul(1u32 << self.streak.min(16))
            .min(longest)
            .mul_f64(self.rng.random_range(1.0 - JITTER..1.0 + JITTER));
        self.curve = Some(Curve {
            at: now,
            limit,
            hold,
            contended_until,
            growth,
            cut_for,
        });
        self.cuts += 1;
    }

    /// The rate of accepted requests over the [`SUSTAINED`] before `now`,
    /// once the log spans it.
    fn sustained(&self, now: Instant) -> Option<f64> {
        let from = now.checked_sub(SUSTAINED)?;
        if self.log.front().is_none_or(|(t, _)| *t > from) && self.first_seq == 0 {
            return None;
        }
        let accepted = self
            .log
            .iter()
            .filter(|(t, a)| *t >= from && *a == Reception::Accepted)
            .count();
        Some(accepted as f64 / SUSTAINED.as_secs_f64())
    }

    /// Note a 429 to a request sent at `pace`, on the estimate or a
    /// probe's first step, when the pace `held` (if any) was accepted
    /// since any ceiling was noted; the ceiling in force after it. (A
    /// ceiling no higher than a pace that held since is out of date.)
    pub(super) fn note_ceiling(&mut self, pace: f64, held: Option<f64>, now: Instant) -> f64 {
        let ceiling = match self.ceiling(now) {
            Some(c) if held.is_none_or(|held| c > held) => c.min(pace),
            _ => pace,
        };
        self.ceiling = Some((ceiling, now));
        ceiling
    }

    /// The ceiling, if one was noted in the last [`HIGH_MEMORY`].
    pub(super) fn ceiling(&self, now: Instant) -> Option<f64> {
        recent(self.ceiling, now)
    }

    pub(super) fn forget_before(&mut self, t: Instant) {
        while self.log.front().is_some_and(|(at, _)| *at < t) {
            if let Some((_, Reception::Pending)) = self.log.pop_front() {
                self.pending.remove(&self.first_seq);
            }
            self.first_seq += 1;
        }
    }

    /// Record the answer to the request of `ticket`; whether it was
    /// overdue (its answer may then lift a hold).
    pub(super) fn answer(&mut self, ticket: &Ticket, answer: Reception, now: Instant) -> bool {
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
