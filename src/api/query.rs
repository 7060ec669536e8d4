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

/// The zone relative times are resolved in (`--tz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The machine's local zone.
    Local,
    /// An IANA zone, e.g. `Asia/Shanghai`.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `local` or an IANA zone name.
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("local") {
            return Ok(Zone::Local);
        }
        name.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!("{name:?} is not an IANA time zone (e.g. Asia/Shanghai, UTC) or \"local\"")
        })
    }

    /// The wall-clock time of an instant in this zone.
    pub fn wall(&self, instant: DateTime<chrono::Utc>) -> NaiveDateTime {
        match self {
            Zone::Local => instant.with_timezone(&chrono::Local).naive_local(),
            Zone::Named(tz) => instant.with_timezone(tz).naive_local(),
        }
    }

    /// The instant a wall-clock time of this zone names, with the zone's
    /// offset (for RFC 3339). A time repeated by a DST change is its first
    /// occurrence; a time skipped by one is taken an hour later.
    pub fn instant(&self, wall: NaiveDateTime) -> DateTime<chrono::FixedOffset> {
        use chrono::{LocalResult, TimeZone};
        fn first<Z: TimeZone>(zone: &Z, wall: NaiveDateTime) -> DateTime<chrono::FixedOffset> {
            let pick = |r: LocalResult<DateTime<Z>>| match r {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.fixed_offset()),
                LocalResult::None => None,
            };
            pick(zone.from_local_datetime(&wall))
                .or_else(|| pick(zone.from_local_datetime(&(wall + chrono::Duration::hours(1)))))
                .unwrap_or_else(|| wall.and_utc().fixed_offset())
        }
        match self {
            Zone::Local => first(&chrono::Local, wall),
            Zone::Named(tz) => first(tz, wall),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Zone::Local => "local".into(),
            Zone::Named(tz) => tz.name().into(),
        }
    }
}

/// Whether a `--start`/`--end` value depends on the moment it is read
/// (`now`, `today`, `yesterday`, `-7d`...), so that a later run resolves it
/// to another time.
pub fn is_relative(s: &str) -> bool {
    let s = s.trim();
    matches!(s, "now" | "today" | "yesterday") || s.starts_with('-')
}

/// Parse a `--start`/`--end` value, with `now` the current wall-clock time
/// in `zone`:
/// - `now`, `today` (midnight at its start), `yesterday` (midnight at its
///   start), `-7d`, `-24h`, `-30m` (that long before now);
/// - `YYYY-MM-DD` (midnight), `YYYY-MM-DD HH:MM:SS` (as given);
/// - RFC 3339 (the instant, as wall-clock time in `zone`).
pub fn parse_time(s: &str, zone: Zone, now: NaiveDateTime) -> Result<NaiveDateTime, String> {
    let s = s.trim();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
    match s {
        "now" => return Ok(now),
        "today" => return Ok(midnight(now.date())),
        "yesterday" => return Ok(midnight(now.date() - chrono::Days::new(1))),
        _ => {}
    }
    if let Some(ago) = s.strip_prefix('-') {
        let d = humantime::parse_duration(ago)
            .map_err(|e| format!("{s:?}: {e} (expected e.g. -7d, -24h, -30m)"))?;
        let d = chrono::Duration::from_std(d).map_err(|_| format!("{s:?} is too long ago"))?;
        return now
            .checked_sub_signed(d)
            .ok_or_else(|| format!("{s:?} is too long ago"));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, WIRE_TIME_FORMAT) {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(midnight(d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(zone.wall(t.with_timezone(&chrono::Utc)));
    }
    Err(format!(
        "{s:?} is not a time: use YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\", RFC 3339, now, today, yesterday or -7d/-24h"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2026-11-26 03:10:00", WIRE_TIME_FORMAT).unwrap()
    }

    #[test]
    fn parses_the_absolute_forms() {
        let sh = Zone::parse("Asia/Shanghai").unwrap();
        let p = |s| fmt_time(Some(parse_time(s, sh, now()).unwrap()));
        assert_eq!(p("2026-03-01 08:30:00"), "2026-03-01 08:30:00");
        assert_eq!(p("2026-03-01T08:30:00+08:00"), "2026-03-01 08:30:00");
        assert_eq!(p("2026-03-01T00:30:00Z"), "2026-03-01 08:30:00");
        assert_eq!(p("2026-03-01"), "2026-03-01 00:00:00");
        assert!(parse_time("yesterday-ish", sh, now()).is_err());
        assert!(parse_time("2026-02-30", sh, now()).is_err());
    }

    #[test]
    fn parses_the_relative_forms() {
        let p = |s| fmt_time(Some(parse_time(s, Zone::Local, now()).unwrap()));
        assert_eq!(p("now"), "2026-11-26 03:10:00");
        assert_eq!(p("today"), "2026-11-26 00:00:00");
        assert_eq!(p("yesterday"), "2026-11-25 00:00:00");
        assert_eq!(p("-7d"), "2026-11-19 03:10:00");
        assert_eq!(p("-24h"), "2026-11-25 03:10:00");
        assert!(parse_time("-7 fortnights", Zone::Local, now()).is_err());
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert_eq!(Zone::parse("UTC").unwrap().name(), "UTC");
    }

    #[test]
    fn wall_times_and_instants_convert_both_ways() {
        let sh = Zone::parse("Asia/Shanghai").unwrap();
        let t = sh.instant(now());
        assert_eq!(t.to_rfc3339(), "2026-11-26T03:10:00+08:00");
        assert_eq!(sh.wall(t.to_utc()), now());
        // 02:30 does not exist in New York on 2026-03-08.
        let ny = Zone::parse("America/New_York").unwrap();
        let gap = NaiveDateTime::parse_from_str("2026-03-08 02:30:00", WIRE_TIME_FORMAT).unwrap();
        assert_eq!(ny.instant(gap).to_rfc3339(), "2026-03-08T03:30:00-04:00");
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
