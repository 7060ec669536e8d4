//! The query sent for every customer: the API's time window and filters.
//!
//! Times are accepted as `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or RFC 3339 and
//! sent in the platform's usual `YYYY-MM-DD HH:MM:SS` form.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Serialize;

/// The platform's time format.
pub const WIRE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Which chats to ask for; the same for every customer of a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Look back this many days; `None` sends `""`.
    pub days: Option<u32>,
    /// Start of the window; `None` sends `""`.
    pub start: Option<NaiveDateTime>,
    /// End of the window; `None` sends `""`.
    pub end: Option<NaiveDateTime>,
    /// Channel filter.
    pub chat_source: Vec<String>,
    /// AI assistant filter.
    pub chat_robot: Vec<String>,
    /// Human agent filter.
    pub seat_member: Vec<String>,
}

/// The JSON body of one request, exactly the seven documented fields.
#[derive(Debug, Serialize)]
pub struct RequestBody<'a> {
    pub customer_id: &'a str,
    pub days: String,
    pub start_time: String,
    pub end_time: String,
    pub chat_source: &'a [String],
    pub chat_robot: &'a [String],
    pub seat_member: &'a [String],
}

impl Query {
    /// The request body for one customer.
    pub fn body<'a>(&'a self, customer_id: &'a str) -> RequestBody<'a> {
        RequestBody {
            customer_id,
            days: self.days.map(|d| d.to_string()).unwrap_or_default(),
            start_time: fmt_time(self.start),
            end_time: fmt_time(self.end),
            chat_source: &self.chat_source,
            chat_robot: &self.chat_robot,
            seat_member: &self.seat_member,
        }
    }
}

fn fmt_time(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format(WIRE_TIME_FORMAT).to_string())
        .unwrap_or_default()
}

/// Parse a `--start`/`--end` value. A bare date means midnight at its start;
/// RFC 3339 keeps its wall-clock time (the offset is dropped, since the
/// platform's format has none).
pub fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    let s = s.trim();
    if let Ok(t) = NaiveDateTime::parse_from_str(s, WIRE_TIME_FORMAT) {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.naive_local());
    }
    Err(format!(
        "{s:?} is not a time: use YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" or RFC 3339"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_time_forms() {
        let want = "2026-03-01 08:30:00";
        assert_eq!(
            fmt_time(Some(parse_time("2026-03-01 08:30:00").unwrap())),
            want
        );
        assert_eq!(
            fmt_time(Some(parse_time("2026-03-01T08:30:00+08:00").unwrap())),
            want
        );
        assert_eq!(
            fmt_time(Some(parse_time("2026-03-01").unwrap())),
            "2026-03-01 00:00:00"
        );
        assert!(parse_time("yesterday-ish").is_err());
        assert!(parse_time("2026-02-30").is_err());
    }

    #[test]
    fn body_has_the_seven_fields_with_strings() {
        let q = Query {
            days: Some(30),
            chat_source: vec!["抖音".into()],
            ..Query::default()
        };
        let v = serde_json::to_value(q.body("abc")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "customer_id": "abc", "days": "30", "start_time": "", "end_time": "",
                "chat_source": ["抖音"], "chat_robot": [], "seat_member": []
            })
        );
    }
}
