//! What a non-2000 `Code` inside a 200 answer means, in one place.
//!
//! The contract knows one such code: 4000, an unknown customer or a bad
//! parameter, which no retry will change. Platforms of this kind also
//! report their own trouble in the envelope (`{"Code": 5000, "Msg":
//! "系统繁忙，请稍后再试"}`), so "not 2000" is not proof that no data
//! exists. Every code gets one of four classes:
//!
//! | class        | which codes                                                      | what the run does |
//! |--------------|------------------------------------------------------------------|-------------------|
//! | `definitive` | 4000; codes declared with `--definitive-codes`                   | the customer fails at once; the `--state` watermark may move |
//! | `transient`  | codes declared with `--transient-codes`; a `Msg` that reads as busy, overloaded, timed out or "try later"; any code from 500 to 599 or 5000 to 5999 | retried with backoff like a 5xx; holds the watermark if it persists |
//! | `throttled`  | a `Msg` that reads as a rate limit                               | a 429 to the rate limiter and to the retry allowance |
//! | `unknown`    | any other code, or a `Code` that is not an integer               | retried once; then the customer fails as `unknown_code`, which holds the watermark |
//!
//! A declared code wins over everything else (a code declared transient
//! is retried even if it is 4000); the built-in 4000 wins over the `Msg`
//! heuristics; a rate-limit `Msg` wins over a busy one ("请求过于频繁，请稍后
//! 再试" is a throttle).

use std::collections::BTreeSet;

use serde::Serialize;

/// The code that means success.
pub use super::envelope::CODE_OK;

/// The one code the contract documents as final: an unknown customer or
/// a bad parameter.
pub const CODE_BAD_REQUEST: i64 = 4000;

/// How much of a `Msg` the heuristics read: the telling words come first,
/// and a server controls how long the text is.
const MSG_SCAN_BYTES: usize = 512;

/// Words of a `Msg` that mean the request was throttled (matched in the
/// text lowercased).
const THROTTLE_WORDS: [&str; 9] = [
    "too many requests",
    "rate limit",
    "ratelimit",
    "rate-limit",
    "throttl",
    "频繁",
    "限流",
    "请求过快",
    "访问过快",
];

/// Words of a `Msg` that mean the platform is busy or failed for now.
const BUSY_WORDS: [&str; 16] = [
    "系统繁忙",
    "服务繁忙",
    "繁忙",
    "请稍后",
    "稍后再试",
    "稍后重试",
    "超时",
    "busy",
    "overload",
    "timeout",
    "timed out",
    "try again",
    "try later",
    "temporarily",
    "temporary",
    "unavailable",
];

/// The class of a non-2000 `Code` (see the module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeClass {
    /// The platform's final answer for this request.
    Definitive,
    /// A fault of the platform that may pass.
    Transient,
    /// The key's rate limit, told in the envelope.
    Throttled,
    /// Nobody has classified it: retried once, never taken as final.
    Unknown,
}

impl CodeClass {
    pub fn name(self) -> &'static str {
        match self {
            CodeClass::Definitive => "definitive",
            CodeClass::Transient => "transient",
            CodeClass::Throttled => "throttled",
            CodeClass::Unknown => "unknown",
        }
    }
}

/// The codes an operator declared, over the built-in rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodePolicy {
    definitive: BTreeSet<i64>,
    transient: BTreeSet<i64>,
}

impl CodePolicy {
    /// Declare `definitive` and `transient` codes. 2000 cannot be declared,
    /// nor one code in both lists; the error names the code.
    pub fn new(definitive: &[i64], transient: &[i64]) -> Result<CodePolicy, String> {
        if definitive.contains(&CODE_OK) || transient.contains(&CODE_OK) {
            return Err(format!(
                "{CODE_OK} is the success code and cannot be declared"
            ));
        }
        let policy = CodePolicy {
            definitive: definitive.iter().copied().collect(),
            transient: transient.iter().copied().collect(),
        };
        if let Some(both) = policy.definitive.intersection(&policy.transient).next() {
            return Err(format!(
                "code {both} is declared both definitive and transient"
            ));
        }
        Ok(policy)
    }

    /// The class of a non-2000 `code` (`None`: not an integer) answered
    /// with `msg`.
    pub fn classify(&self, code: Option<i64>, msg: &str) -> CodeClass {
        if let Some(code) = code {
            if self.transient.contains(&code) {
                return CodeClass::Transient;
            }
            if self.definitive.contains(&code) || code == CODE_BAD_REQUEST {
                return CodeClass::Definitive;
            }
        }
        let msg = scanned(msg);
        if THROTTLE_WORDS.iter().any(|w| msg.contains(w)) {
            return CodeClass::Throttled;
        }
        if BUSY_WORDS.iter().any(|w| msg.contains(w)) {
            return CodeClass::Transient;
        }
        match code {
            Some(500..=599 | 5000..=5999) => CodeClass::Transient,
            _ => CodeClass::Unknown,
        }
    }
}

/// The start of `msg` the heuristics read, ASCII lowercased.
fn scanned(msg: &str) -> String {
    let mut end = msg.len().min(MSG_SCAN_BYTES);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    msg[..end].to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(code: i64, msg: &str) -> CodeClass {
        CodePolicy::default().classify(Some(code), msg)
    }

    #[test]
    fn the_three_answers_of_the_issue_are_not_final() {
        assert_eq!(class(5000, "系统繁忙，请稍后再试"), CodeClass::Transient);
        assert_eq!(
            class(4290, "Too Many Requests in one second"),
            CodeClass::Throttled
        );
        assert_eq!(class(500, "服务器内部错误"), CodeClass::Transient);
    }

    #[test]
    fn only_4000_is_definitive_without_a_declaration() {
        assert_eq!(class(4000, "客户不存在"), CodeClass::Definitive);
        // The contract's code wins over a Msg that reads otherwise.
        assert_eq!(class(4000, "系统繁忙"), CodeClass::Definitive);
        assert_eq!(class(4004, "记录不存在"), CodeClass::Unknown);
        assert_eq!(class(1, ""), CodeClass::Unknown);
        assert_eq!(
            CodePolicy::default().classify(None, "x"),
            CodeClass::Unknown,
            "a Code that is not an integer"
        );
    }

    #[test]
    fn code_ranges_and_msg_words_make_a_fault_transient() {
        for code in [500, 503, 599, 5000, 5999] {
            assert_eq!(class(code, "错误"), CodeClass::Transient, "{code}");
        }
        for code in [499, 600, 4999, 6000, -1] {
            assert_eq!(class(code, "错误"), CodeClass::Unknown, "{code}");
        }
        for msg in [
            "服务繁忙",
            "请稍后",
            "请求超时",
            "Service BUSY",
            "gateway timeout",
            "please try again",
            "temporarily unavailable",
            "upstream overloaded",
        ] {
            assert_eq!(class(1234, msg), CodeClass::Transient, "{msg}");
        }
    }

    #[test]
    fn a_rate_limit_msg_is_a_throttle_whatever_the_code() {
        for msg in [
            "Too Many Requests",
            "请求过于频繁，请稍后再试",
            "接口限流",
            "请求过快",
            "rate limit exceeded",
        ] {
            assert_eq!(class(5000, msg), CodeClass::Throttled, "{msg}");
            assert_eq!(class(4290, msg), CodeClass::Throttled, "{msg}");
        }
    }

    #[test]
    fn a_declared_code_wins_over_the_heuristics() {
        let p = CodePolicy::new(&[4004, 5001], &[4000, 4100]).unwrap();
        assert_eq!(p.classify(Some(4004), "busy"), CodeClass::Definitive);
        assert_eq!(p.classify(Some(5001), "系统繁忙"), CodeClass::Definitive);
        assert_eq!(p.classify(Some(4000), "客户不存在"), CodeClass::Transient);
        assert_eq!(
            p.classify(Some(4100), "Too Many Requests"),
            CodeClass::Transient
        );
        assert_eq!(p.classify(Some(4101), "x"), CodeClass::Unknown);
    }

    #[test]
    fn declarations_that_contradict_are_refused_by_code() {
        let e = CodePolicy::new(&[4004, 7], &[7]).unwrap_err();
        assert!(e.contains("code 7"), "{e}");
        let e = CodePolicy::new(&[2000], &[]).unwrap_err();
        assert!(e.contains("2000"), "{e}");
    }

    #[test]
    fn only_the_start_of_a_long_msg_is_read() {
        let long = format!("{}busy", "数".repeat(MSG_SCAN_BYTES));
        assert_eq!(class(1234, &long), CodeClass::Unknown);
        // A cut inside a character is moved back to its start.
        assert_eq!(scanned(&"数".repeat(400)).len() % 3, 0);
    }
}
