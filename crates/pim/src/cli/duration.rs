//! Durations (`30m`, `2h`, `1d`, `1h30m`, `2w`), instants (RFC 3339, a date, `now`, `+2h`, `-1d`) and
//! ticket references (`system:number`) given on the command line.

use pim_api::{ScopePath, Ticket, Timestamp};
use time::OffsetDateTime;

/// Milliseconds in a minute.
const MINUTE_MS: i64 = 60_000;

/// Parses a duration such as `30m`, `2h`, `1d`, `1h30m` or `2w` into whole minutes.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("a duration must not be empty (e.g. 30m, 2h, 1d, 1h30m)".to_owned());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            'm' => 1,
            'h' => 60,
            'd' => 24 * 60,
            'w' => 7 * 24 * 60,
            _ => return Err(format!("'{s}' is not a duration: unknown unit '{c}' (use m, h, d or w)")),
        };
        if digits.is_empty() {
            return Err(format!("'{s}' is not a duration: a number must come before '{c}'"));
        }
        let n: u64 = digits.parse().map_err(|_| format!("'{s}' is too long a duration"))?;
        total = n
            .checked_mul(unit)
            .and_then(|m| total.checked_add(m))
            .ok_or_else(|| format!("'{s}' is too long a duration"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!("'{s}' is not a duration: '{digits}' needs a unit (m, h, d or w), e.g. {digits}m"));
    }
    if total == 0 {
        return Err(format!("'{s}' is not a duration: it must be longer than zero"));
    }
    if total > 100 * 365 * 24 * 60 {
        return Err(format!("'{s}' is too long a duration"));
    }
    Ok(total)
}

/// Formats minutes compactly: `90` is `1h30m`, `1440` is `1d`.
pub fn format_minutes(minutes: u64) -> String {
    if minutes == 0 {
        return "0m".to_owned();
    }
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut s = String::new();
    for (n, unit) in [(d, 'd'), (h, 'h'), (m, 'm')] {
        if n > 0 {
            s.push_str(&format!("{n}{unit}"));
        }
    }
    s
}

/// The current instant.
pub fn now() -> Timestamp {
    Timestamp::from_datetime(OffsetDateTime::now_utc())
}

/// `at` plus `minutes`.
pub fn add_minutes(at: Timestamp, minutes: u64) -> Timestamp {
    at.plus_millis(i64::try_from(minutes).unwrap_or(i64::MAX / MINUTE_MS).saturating_mul(MINUTE_MS))
}

/// Parses an instant: RFC 3339 (`2026-11-22T09:00:00Z`), a date (`2026-11-22`, midnight UTC), `now`,
/// or a duration from now (`+2h`) or before now (`-1d`).
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    parse_time_at(s, now())
}

fn parse_time_at(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(d) = t.strip_prefix('+') {
        return Ok(add_minutes(now, parse_duration(d)?));
    }
    if let Some(d) = t.strip_prefix('-') {
        let minutes = i64::try_from(parse_duration(d)?).map_err(|e| e.to_string())?;
        return Ok(now.plus_millis(-minutes.saturating_mul(MINUTE_MS)));
    }
    if let Ok(ts) = Timestamp::parse_rfc3339(t) {
        return Ok(ts);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(t, &date_format) {
        return Ok(Timestamp::from_datetime(d.midnight().assume_utc()));
    }
    Err(format!("'{s}' is not a time: use RFC 3339 (2026-11-22T09:00:00Z), a date (2026-11-22), now, +2h or -1d"))
}

/// Parses a ticket reference `system:number`, e.g. `jira:OPS-1`.
pub fn parse_ticket(s: &str) -> Result<Ticket, String> {
    let Some((system, number)) = s.split_once(':') else {
        return Err(format!("'{s}' is not a ticket: use system:number, e.g. jira:OPS-123"));
    };
    let (system, number) = (system.trim(), number.trim());
    if system.is_empty() || number.is_empty() {
        return Err(format!("'{s}' is not a ticket: both the system and the number are needed, e.g. jira:OPS-123"));
    }
    Ok(Ticket { system: system.to_owned(), number: number.to_owned() })
}

/// Parses a scope path such as `/subscriptions/prod`.
pub fn parse_scope(s: &str) -> Result<ScopePath, String> {
    ScopePath::parse(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_into_minutes() {
        assert_eq!(parse_duration("30m"), Ok(30));
        assert_eq!(parse_duration("2h"), Ok(120));
        assert_eq!(parse_duration("1d"), Ok(1440));
        assert_eq!(parse_duration("1h30m"), Ok(90));
        assert_eq!(parse_duration("2w"), Ok(20160));
        assert_eq!(parse_duration("1D2H"), Ok(1560));
        assert_eq!(parse_duration(" 45m "), Ok(45));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("90").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("1h30").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("2x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("h").unwrap_err().contains("number must come before"));
        assert!(parse_duration("0m").unwrap_err().contains("longer than zero"));
        assert!(parse_duration("-1h").is_err());
        assert!(parse_duration("99999999999999999999m").unwrap_err().contains("too long"));
        assert!(parse_duration("999999999w").unwrap_err().contains("too long"));
    }

    #[test]
    fn minutes_format_back() {
        assert_eq!(format_minutes(90), "1h30m");
        assert_eq!(format_minutes(1440), "1d");
        assert_eq!(format_minutes(480), "8h");
        assert_eq!(format_minutes(30), "30m");
        for s in ["1d2h3m", "45m", "3d"] {
            assert_eq!(format_minutes(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn times_parse_absolute_and_relative() {
        let now = Timestamp(1_767_225_600_000);
        assert_eq!(parse_time_at("now", now), Ok(now));
        assert_eq!(parse_time_at("+2h", now), Ok(now.plus_millis(2 * 3_600_000)));
        assert_eq!(parse_time_at("-1d", now), Ok(now.plus_millis(-86_400_000)));
        assert_eq!(parse_time_at("2026-01-01T00:00:00Z", now), Ok(now));
        assert_eq!(parse_time_at("2026-01-01T01:00:00+01:00", now), Ok(now));
        assert_eq!(parse_time_at("2026-01-01", now), Ok(now));
        assert!(parse_time_at("tomorrow", now).unwrap_err().contains("RFC 3339"));
        assert!(parse_time_at("+2", now).is_err());
    }

    #[test]
    fn tickets_are_system_colon_number() {
        assert_eq!(parse_ticket("jira:OPS-1"), Ok(Ticket { system: "jira".into(), number: "OPS-1".into() }));
        assert_eq!(parse_ticket(" snow : INC:42 "), Ok(Ticket { system: "snow".into(), number: "INC:42".into() }));
        assert!(parse_ticket("OPS-1").unwrap_err().contains("system:number"));
        assert!(parse_ticket("jira:").unwrap_err().contains("both"));
        assert!(parse_ticket(":1").is_err());
    }

    #[test]
    fn scopes_are_validated() {
        assert_eq!(parse_scope("/a/b").map(|s| s.to_string()), Ok("/a/b".to_owned()));
        assert!(parse_scope("a/b").is_err());
    }
}
