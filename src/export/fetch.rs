//! One customer's fetch: in-flight permit, rate-limiter slot, request,
//! verdict, retry. The task encodes the rows itself (so parsing and
//! encoding use every core) and hands the finished bytes to the writer.
//!
//! What an answer teaches the run — the limiter, the retry budget and the
//! platform's health — is recorded in one place, [`Fetcher::on_answer`].

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::control::Control;
use super::health::Health;
use super::outcome::{Failure, FailureKind, Outcome, StopCause};
use super::stats::RequestStats;
use crate::api::bufpool::BufPool;
use crate::api::client::Answer;
use crate::api::{ApiClient, Cause, CodeAnswer, CodeClass, CodePolicy, StopReason, Verdict};
use crate::pace::ratelimit::{RateLimiter, Ticket};
use crate::pace::retry::{Decision, GiveUp, RetryBudget, RetryPolicy};
use crate::record::{RowEncoder, Source};

/// Everything a fetch task needs, shared by all of them.
pub struct Fetcher {
    pub client: ApiClient,
    pub limiter: RateLimiter,
    pub policy: RetryPolicy,
    pub budget: RetryBudget,
    pub health: Health,
    /// Requests in flight: `--concurrency` permits.
    pub inflight: Arc<Semaphore>,
    pub encoder: Box<dyn RowEncoder>,
    /// What is fetched for each item, and how an answer becomes rows.
    pub source: Box<dyn Source>,
    /// Buffers for answers and encoded rows, reused (the writer gives the
    /// row buffers back).
    pub buffers: Arc<BufPool>,
    pub stats: RequestStats,
    /// How a non-2000 `Code` is judged.
    pub codes: CodePolicy,
    concurrency: usize,
}

/// One customer's attempts so far.
struct Attempts {
    /// The in-flight permit of the first request, taken by the dispatcher.
    first: Option<OwnedSemaphorePermit>,
    /// Retries decided after faults other than a 429.
    retry: u32,
    /// Retries decided after 429s, which have their own allowance.
    throttled: u32,
    /// Retries decided after codes nobody has classified (one allowed).
    unknown: u32,
    /// Retry-budget tokens spent on this customer.
    spent: u32,
    /// The cause of the retry about to be sent.
    retrying: Option<Cause>,
}

impl Fetcher {
    /// `customers`: how many this run fetches (see [`Health::new`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: ApiClient,
        source: Box<dyn Source>,
        limiter: RateLimiter,
        policy: RetryPolicy,
        concurrency: usize,
        encoder: Box<dyn RowEncoder>,
        buffers: Arc<BufPool>,
        codes: CodePolicy,
        customers: usize,
    ) -> Fetcher {
        Fetcher {
            client,
            limiter,
            budget: RetryBudget::new(policy.budget),
            policy,
            health: Health::new(customers),
            inflight: Arc::new(Semaphore::new(concurrency)),
            encoder,
            source,
            buffers,
            stats: RequestStats::default(),
            codes,
            concurrency,
        }
    }

    /// Most requests in flight at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Wait for a request to be allowed in flight.
    pub async fn permit(&self) -> OwnedSemaphorePermit {
        self.inflight
            .clone()
            .acquire_owned()
            .await
            .expect("the in-flight semaphore is never closed")
    }

    /// Fetch customer `id` until it succeeds, fails or the run stops.
    /// `first` is the in-flight permit of the first request.
    pub async fn fetch(&self, control: &Control, id: &str, first: OwnedSemaphorePermit) -> Outcome {
        match self.attempts(control, id, first).await {
            // A failure's text may quote the platform's Msg: it is scrubbed
            // as the rows are (`--mask`) before the failed file sees it.
            Outcome::Failed(mut failure) => {
                failure.message = self.source.scrub(&failure.message);
                Outcome::Failed(failure)
            }
            outcome => outcome,
        }
    }

    /// The attempts of customer `id`, to its outcome.
    async fn attempts(&self, control: &Control, id: &str, first: OwnedSemaphorePermit) -> Outcome {
        let mut attempts = Attempts {
            first: Some(first),
            retry: 0,
            throttled: 0,
            unknown: 0,
            spent: 0,
            retrying: None,
        };
        loop {
            let Some((ticket, answer)) = self.attempt(control, id, &mut attempts).await else {
                return Outcome::NotDone;
            };
            let verdict = match answer.map(|body| self.accept(id, &ticket, attempts.spent, body)) {
                Ok(Ok(outcome)) => return outcome,
                Ok(Err(verdict)) | Err(verdict) => verdict,
            };
            let fault = match self.judge(control, &ticket, attempts.spent, verdict) {
                Judged::Done(outcome) => return outcome,
                Judged::Retry(fault) => fault,
            };
            if let Some(outcome) = self.after_fault(control, id, &mut attempts, fault).await {
                return outcome;
            }
        }
    }

    /// What a verdict on an attempt means for the customer: an outcome,
    /// or a fault to retry. The limiter, the budget and the platform's
    /// health learn from it here.
    fn judge(&self, control: &Control, ticket: &Ticket, spent: u32, verdict: Verdict) -> Judged {
        match verdict {
            Verdict::Code(answer) => self.judge_code(ticket, spent, answer),
            Verdict::Rejected { status, location } => {
                // Something answered, so the limiter counts the request as
                // accepted; what answered is not the platform, so it says
                // nothing of the customer: retried once.
                self.limiter.on_success(ticket);
                let detail = match location.map(|l| self.client.shown(&l)) {
                    Some(to) => format!("HTTP {status}, redirected to {to}"),
                    None => format!("HTTP {status}"),
                };
                Judged::Retry(FaultSeen {
                    cause: Cause::HttpStatus,
                    detail,
                    retry_after: None,
                    status: Some(status),
                })
            }
            Verdict::Unusable { detail } => {
                self.on_answer(ticket, Some(spent));
                Judged::Done(failed(
                    FailureKind::UnexpectedShape,
                    format!("unexpected shape: {}", self.client.shown(&detail)),
                ))
            }
            Verdict::TooLarge { limit } => {
                self.on_answer(ticket, Some(spent));
                Judged::Done(failed(
                    FailureKind::TooLarge,
                    format!(
                        "the answer is larger than --max-response-bytes ({limit} bytes, \
                         counted decompressed)"
                    ),
                ))
            }
            Verdict::Certificate { detail } => {
                self.limiter.on_other(ticket);
                tracing::error!("{}", self.client.shown(&detail));
                control.stop(StopCause::Api(StopReason::Certificate), true);
                Judged::Done(Outcome::NotDone)
            }
            Verdict::Stop(reason) => {
                self.limiter.on_other(ticket);
                control.stop(StopCause::Api(reason), true);
                Judged::Done(Outcome::NotDone)
            }
            Verdict::Transient {
                cause,
                detail,
                retry_after,
            } => {
                if cause.is_throttle() {
                    self.limiter.on_throttled(ticket);
                } else {
                    self.limiter.on_other(ticket);
                }
                Judged::Retry(FaultSeen {
                    cause,
                    detail: self.client.shown(&detail),
                    retry_after,
                    status: None,
                })
            }
        }
    }

    /// A non-2000 `Code`, by its class (see [`crate::api::codes`]): a
    /// definitive one fails the customer; the others are retried, a
    /// throttle as a 429 to the limiter.
    fn judge_code(&self, ticket: &Ticket, spent: u32, answer: CodeAnswer) -> Judged {
        let text = self.client.shown(&answer.describe());
        let code = self.client.shown(&answer.text);
        self.stats.code_seen(&code, answer.class, &text);
        let cause = match answer.class {
            CodeClass::Definitive => {
                self.on_answer(ticket, Some(spent));
                return Judged::Done(failed(FailureKind::Api, text));
            }
            CodeClass::Throttled => {
                self.limiter.on_throttled(ticket);
                Cause::CodeThrottled
            }
            CodeClass::Transient => {
                self.limiter.on_other(ticket);
                Cause::CodeTransient
            }
            CodeClass::Unknown => {
                self.limiter.on_other(ticket);
                Cause::CodeUnknown
            }
        };
        Judged::Retry(FaultSeen {
            cause,
            detail: text,
            retry_after: None,
            status: None,
        })
    }

    /// Send one request; `None` when the run stops first.
    async fn attempt(
        &self,
        control: &Control,
        id: &str,
        a: &mut Attempts,
    ) -> Option<(Ticket, Result<Answer, Verdict>)> {
        let permit = match a.first.take() {
            Some(p) => p,
            None => tokio::select! {
                biased;
                _ = control.drain.cancelled() => return None,
                p = self.permit() => p,
            },
        };
        let ticket = tokio::select! {
            biased;
            _ = control.drain.cancelled() => return None,
            t = self.limiter.acquire() => t,
        };
        self.stats.sent(a.retrying.take());
        let answer = tokio::select! {
            biased;
            _ = control.abort.cancelled() => return None,
            answer = self.client.send(self.source.request(), id, &self.buffers) => answer,
        };
        drop(permit);
        Some((ticket, answer))
    }

    /// Judge a 200 body; a success becomes the customer's rows.
    fn accept(
        &self,
        id: &str,
        ticket: &Ticket,
        spent: u32,
        mut answer: Answer,
    ) -> Result<Outcome, Verdict> {
        let body = std::mem::take(&mut answer.body);
        // Rows take about as many bytes as the JSON they came from.
        let mut bytes = self.buffers.take(body.len() + body.len() / 4);
        let encoded = match self
            .source
            .encode(id, &body, &self.codes, &*self.encoder, &mut bytes)
        {
            Ok(encoded) => encoded,
            Err(verdict) => {
                self.buffers.give(body);
                self.buffers.give(bytes);
                return Err(verdict);
            }
        };
        self.on_answer(ticket, Some(spent));
        self.buffers.give(body);
        // The rows are made: another answer may grow large now.
        drop(answer);
        Ok(if encoded.rows == 0 {
            self.buffers.give(bytes);
            Outcome::Empty {
                chats: encoded.chats,
                drift: encoded.drift,
            }
        } else {
            Outcome::Rows { bytes, encoded }
        })
    }

    /// The platform answered (anything but a transient fault): the limiter
    /// counts an accepted request, the platform is up, and the retries of
    /// an answered customer (`refund`, their cost) go back to the budget.
    fn on_answer(&self, ticket: &Ticket, refund: Option<u32>) {
        self.limiter.on_success(ticket);
        if let Some(spent) = refund {
            self.budget.on_success(spent);
        }
        self.health.on_answer();
    }

    /// After a transient fault: wait and retry (`None`), or the outcome.
    async fn after_fault(
        &self,
        control: &Control,
        id: &str,
        a: &mut Attempts,
        fault: FaultSeen,
    ) -> Option<Outcome> {
        if control.drain.is_cancelled() {
            return Some(Outcome::NotDone);
        }
        let retry = a.count(fault.cause);
        let decision = self.policy.decide(
            retry,
            fault.cause,
            fault.retry_after,
            &self.budget,
            &mut rand::rng(),
        );
        match decision {
            Decision::Retry(wait) => {
                a.retrying = Some(fault.cause);
                a.spent += self.policy.cost(fault.cause);
                tracing::debug!(
                    customer = id,
                    retry,
                    cause = fault.cause.name(),
                    wait_ms = wait.as_millis() as u64,
                    "transient fault, retrying: {}",
                    fault.detail
                );
                if wait.is_zero() {
                    return None;
                }
                tokio::select! {
                    biased;
                    _ = control.drain.cancelled() => Some(Outcome::NotDone),
                    _ = tokio::time::sleep(wait) => None,
                }
            }
            Decision::GiveUp(why) => Some(self.give_up(control, a, fault, why)),
        }
    }

    /// The outcome of a customer whose retries ended for `why`.
    fn give_up(&self, control: &Control, a: &Attempts, fault: FaultSeen, why: GiveUp) -> Outcome {
        if why == GiveUp::RetriesExhausted {
            if let Some(outcome) = self.answered_oddly(control, a, &fault) {
                return outcome;
            }
        }
        if let Some(reason) = self.health.on_give_up(why) {
            control.stop(StopCause::Api(reason), false);
        }
        match why {
            // Not this customer's failure: the run stops, and it is
            // fetched again by --resume.
            GiveUp::BudgetExhausted => Outcome::NotDone,
            GiveUp::RetryAfterTooLong => failed(
                FailureKind::RetryAfterTooLong,
                format!(
                    "{}; the platform asked to wait {}s, over --max-retry-after",
                    fault.detail,
                    fault.retry_after.unwrap_or_default().as_secs()
                ),
            ),
            GiveUp::RetriesExhausted => failed(
                FailureKind::Transient(fault.cause),
                format!(
                    "{} (gave up after {} attempts)",
                    fault.detail,
                    // The first try and the retries made; the count that
                    // ran out includes the retry refused.
                    a.retry + a.throttled + a.unknown
                ),
            ),
        }
    }

    /// A customer asked twice that got, twice, a code nobody has
    /// classified or a status the platform does not answer with: not an
    /// outage's fault, and not proof of no data either (`None` for any
    /// other fault).
    fn answered_oddly(
        &self,
        control: &Control,
        a: &Attempts,
        fault: &FaultSeen,
    ) -> Option<Outcome> {
        if fault.cause == Cause::CodeUnknown {
            self.budget.on_success(a.spent);
            self.health.on_answer();
            return Some(failed(
                FailureKind::UnknownCode,
                format!(
                    "{} (a code nobody has classified; declare it with --definitive-codes \
                     or --transient-codes)",
                    fault.detail
                ),
            ));
        }
        let status = fault.status?;
        // One status for every customer means the address is wrong.
        self.budget.on_success(a.spent);
        if let Some(reason) = self.health.on_rejected(status) {
            tracing::error!("{}", fault.detail);
            control.stop(StopCause::Api(reason), true);
        }
        Some(failed(
            FailureKind::Http { status },
            format!(
                "{} (not an answer of the platform's, which answers in its envelope; \
                 asked twice)",
                fault.detail
            ),
        ))
    }
}

impl Attempts {
    /// Count a retry after a fault of `cause` among its kind (429s, codes
    /// and statuses nobody classified, the other faults): its number.
    fn count(&mut self, cause: Cause) -> u32 {
        let counter = if cause.is_throttle() {
            &mut self.throttled
        } else if matches!(cause, Cause::CodeUnknown | Cause::HttpStatus) {
            &mut self.unknown
        } else {
            &mut self.retry
        };
        *counter += 1;
        *counter
    }
}

/// What an attempt's verdict leads to.
enum Judged {
    /// The customer is done (or not, the run stopping).
    Done(Outcome),
    /// A fault worth a retry, if the policy allows.
    Retry(FaultSeen),
}

/// A transient fault, as classified.
struct FaultSeen {
    cause: Cause,
    detail: String,
    retry_after: Option<std::time::Duration>,
    /// The foreign HTTP status, for [`Cause::HttpStatus`].
    status: Option<u16>,
}

fn failed(kind: FailureKind, message: String) -> Outcome {
    Outcome::Failed(Failure { kind, message })
}
