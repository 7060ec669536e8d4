//! How fast and how often the run asks: the rate limiter that finds the
//! platform's per-second limit ([`ratelimit`]) and the retry policy and
//! budget ([`retry`]).

pub mod ratelimit;
pub mod retry;
