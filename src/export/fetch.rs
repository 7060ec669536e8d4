//! One customer's fetch: permit, rate-limiter slot, request, verdict, retry.
//!
//! The task encodes the rows itself (so parsing and encoding use every core)
//! and hands the finished bytes to the writer.

use std::sync::atomic::Ordering::Relaxed;

use tokio::sync::OwnedSemaphorePermit;

use super::{Ctx, Failure, FailureKind, Outcome, StopCause};
use crate::api::classify::classify_body;
use crate::api::{Cause, StopReason, Verdict};
use crate::output::encode_customer;
use crate::retry::{Decision, GiveUp};

/// Fetch customer `index` until it succeeds, fails or the run stops.
/// `first` is the in-flight permit of the first request, taken by the
/// dispatcher.
pub async fn fetch_customer(ctx: &Ctx, index: usize, first: OwnedSemaphorePermit) -> Outcome {
    let mut first = Some(first);
    let id = ctx.ids.get(index);
    let mut retry = 0u32;
    let mut spent = 0u32;
    // The cause of the retry about to be sent: counted when it is sent, not
    // when it is decided (a stop during the backoff cancels it).
    let mut retrying: Option<Cause> = None;
    loop {
        let permit = match first.take() {
            Some(p) => p,
            None => tokio::select! {
                biased;
                _ = ctx.control.drain.cancelled() => return Outcome::NotDone,
                p = ctx.inflight.clone().acquire_owned() => {
                    p.expect("the in-flight semaphore is never closed")
                }
            },
        };
        let ticket = tokio::select! {
            biased;
            _ = ctx.control.drain.cancelled() => return Outcome::NotDone,
            t = ctx.limiter.acquire() => t,
        };
        ctx.stats.requests.fetch_add(1, Relaxed);
        if let Some(cause) = retrying.take() {
            ctx.stats.add_retry(cause);
        }
        let answer = tokio::select! {
            biased;
            _ = ctx.control.abort.cancelled() => return Outcome::NotDone,
            a = ctx.client.post(id, &ctx.buffers) => a,
        };
        drop(permit);

        let verdict = match &answer {
            Ok(body) => match classify_body(body) {
                Ok(envelope) => {
                    ctx.limiter.on_success(&ticket);
                    ctx.budget.on_success(spent);
                    ctx.health.on_answer();
                    // Rows take about as many bytes as the JSON they came from.
                    let mut bytes = ctx.buffers.take(body.len() + body.len() / 4);
                    let encoded = encode_customer(&*ctx.encoder, id, &envelope, &mut bytes);
                    drop(envelope);
                    if let Ok(body) = answer {
                        ctx.buffers.give(body);
                    }
                    return if encoded.rows == 0 {
                        ctx.buffers.give(bytes);
                        Outcome::Empty {
                            chats: encoded.chats,
                            drift: encoded.drift,
                        }
                    } else {
                        Outcome::Rows { bytes, encoded }
                    };
                }
                Err(verdict) => verdict,
            },
            Err(verdict) => verdict.clone(),
        };
        drop(answer);

        match verdict {
            Verdict::Success => unreachable!("classify_body returns success as Ok"),
            Verdict::Business { code, msg } => {
                ctx.limiter.on_success(&ticket);
                ctx.budget.on_success(spent);
                ctx.health.on_answer();
                let message = match code {
                    Some(code) => format!("API Code {code}: {msg}"),
                    None => format!("API error: {msg}"),
                };
                return Outcome::Failed(Failure {
                    kind: FailureKind::Api,
                    message,
                });
            }
            Verdict::Unusable { detail } => {
                ctx.limiter.on_success(&ticket);
                ctx.budget.on_success(spent);
                ctx.health.on_answer();
                return Outcome::Failed(Failure {
                    kind: FailureKind::UnexpectedShape,
                    message: format!("unexpected shape: {detail}"),
                });
            }
            Verdict::Rejected { status } => {
                ctx.limiter.on_success(&ticket);
                ctx.health.on_answer();
                return Outcome::Failed(Failure {
                    kind: FailureKind::Http,
                    message: format!("HTTP {status}"),
                });
            }
            Verdict::Stop(reason) => {
                ctx.control.stop(StopCause::Api(reason), true);
                return Outcome::NotDone;
            }
            Verdict::Transient {
                cause,
                detail,
                retry_after,
            } => {
                if cause == Cause::RateLimited {
                    ctx.limiter.on_throttled(&ticket);
                }
                if ctx.control.drain.is_cancelled() {
                    return Outcome::NotDone;
                }
                retry += 1;
                let decision =
                    ctx.policy
                        .decide(retry, cause, retry_after, &ctx.budget, &mut rand::rng());
                match decision {
                    Decision::Retry(wait) => {
                        retrying = Some(cause);
                        spent += ctx.policy.cost(cause);
                        tracing::debug!(
                            customer = id,
                            retry,
                            cause = cause.name(),
                            wait_ms = wait.as_millis() as u64,
                            "transient fault, retrying: {detail}"
                        );
                        tokio::select! {
                            biased;
                            _ = ctx.control.drain.cancelled() => return Outcome::NotDone,
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                    Decision::GiveUp(GiveUp::BudgetExhausted) => {
                        ctx.control
                            .stop(StopCause::Api(StopReason::PlatformDown), false);
                        return Outcome::NotDone;
                    }
                    Decision::GiveUp(why) => {
                        if ctx.health.on_transient_failure() {
                            ctx.control
                                .stop(StopCause::Api(StopReason::PlatformDown), false);
                        }
                        let (kind, message) = match why {
                            GiveUp::RetryAfterTooLong => (
                                FailureKind::RetryAfterTooLong,
                                format!(
                                    "{detail}; the platform asked to wait {}s, over --max-retry-after",
                                    retry_after.unwrap_or_default().as_secs()
                                ),
                            ),
                            _ => (
                                FailureKind::Transient(cause),
                                format!("{detail} (gave up after {} attempts)", retry),
                            ),
                        };
                        return Outcome::Failed(Failure { kind, message });
                    }
                }
            }
        }
    }
}
