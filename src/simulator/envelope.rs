//! Faults told inside a 200 answer's envelope, by customer ID prefix, for
//! the tests of how the client classifies `Code`s
//! ([`crate::api::codes`]):
//!
//! | ID prefix             | answer                                                               |
//! |-----------------------|----------------------------------------------------------------------|
//! | `code-busy-forever…`  | always `Code` 5000, `Msg` 系统繁忙，请稍后再试 (busy, try later)       |
//! | `code-busy…`          | that answer to its first [`FAULTY_FIRST`] requests, then its chats    |
//! | `code-throttled…`     | `Code` 4290, `Msg` Too Many Requests in one second, to its first [`FAULTY_FIRST`] requests, then its chats |
//! | `code-500…`           | `Code` 500, `Msg` 服务器内部错误 (internal error), to its first [`FAULTY_FIRST`] requests, then its chats |
//! | `code-unknown…`       | always `Code` [`UNKNOWN_CODE`], a code nothing classifies            |
//! | `code-odd…`           | `Code` [`ODD_CODE`] to its first [`ODD_FIRST`] requests, then its chats: a code that passes, once declared transient |
//!
//! (`unknown…` answers the documented `Code` 4000, see [`super`].)

/// Requests of `code-busy…`, `code-throttled…` and `code-500…` customers
/// answered with the fault before their chats.
pub const FAULTY_FIRST: u64 = 2;

/// The code `code-unknown…` customers always get.
pub const UNKNOWN_CODE: i64 = 4004;

/// The code `code-odd…` customers get first.
pub const ODD_CODE: i64 = 4100;

/// Requests of a `code-odd…` customer answered [`ODD_CODE`]: more than the
/// one retry an unknown code gets, fewer than the default `--retries`.
pub const ODD_FIRST: u64 = 3;

/// The envelope fault for request number `nth` (1-based) of customer `id`,
/// as `(Code, Msg)`; `None` lets the request be answered with its chats.
pub fn fault(id: &str, nth: u64) -> Option<(i64, &'static str)> {
    const BUSY: (i64, &str) = (5000, "系统繁忙，请稍后再试");
    if id.starts_with("code-busy-forever") {
        return Some(BUSY);
    }
    if id.starts_with("code-unknown") {
        return Some((UNKNOWN_CODE, "记录状态异常"));
    }
    let (fault, first) = if id.starts_with("code-busy") {
        (BUSY, FAULTY_FIRST)
    } else if id.starts_with("code-throttled") {
        ((4290, "Too Many Requests in one second"), FAULTY_FIRST)
    } else if id.starts_with("code-500") {
        ((500, "服务器内部错误"), FAULTY_FIRST)
    } else if id.starts_with("code-odd") {
        ((ODD_CODE, "处理中"), ODD_FIRST)
    } else {
        return None;
    };
    (nth <= first).then_some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_pass_after_their_count_or_never() {
        assert_eq!(fault("code-busy-a", 2).map(|f| f.0), Some(5000));
        assert_eq!(fault("code-busy-a", 3), None);
        assert_eq!(fault("code-busy-forever-a", 300).map(|f| f.0), Some(5000));
        assert_eq!(fault("code-throttled-a", 1).map(|f| f.0), Some(4290));
        assert_eq!(fault("code-odd-a", ODD_FIRST).map(|f| f.0), Some(ODD_CODE));
        assert_eq!(fault("code-odd-a", ODD_FIRST + 1), None);
        assert_eq!(fault("code-unknown-a", 9).map(|f| f.0), Some(UNKNOWN_CODE));
        assert_eq!(fault("0123abcd", 1), None);
    }
}
