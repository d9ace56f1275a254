//! Instants as milliseconds since the Unix epoch, and half-open time windows.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// 9000-01-01T00:00:00Z: times given to pim must be earlier.
pub const LATEST: Timestamp = Timestamp(221_845_392_000_000);

/// An instant, in whole milliseconds since 1970-01-01T00:00:00Z (UTC).
///
/// On the wire it is an RFC 3339 string with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = DateTime))]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The earliest representable instant used as "since always".
    pub const MIN: Timestamp = Timestamp(i64::MIN);

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This instant plus `ms` milliseconds, saturating.
    pub fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant as an [`OffsetDateTime`], if it is within the calendar's range.
    pub fn to_datetime(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).ok()
    }

    /// The instant of an [`OffsetDateTime`], truncated to the millisecond.
    pub fn from_datetime(dt: OffsetDateTime) -> Timestamp {
        Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// Parses an RFC 3339 date-time between 1970 and the year 9000 (the range pim accepts).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map(Timestamp::from_datetime)
            .map_err(|e| format!("'{s}' is not an RFC 3339 date-time: {e}"))?;
        if t < Timestamp(0) || t >= LATEST {
            return Err(format!("'{s}' is outside the accepted range (1970 to 8999)"));
        }
        Ok(t)
    }

    /// Formats as RFC 3339 in UTC with milliseconds, e.g. `2026-01-02T03:04:05.678Z`.
    pub fn to_rfc3339(self) -> String {
        match self.to_datetime() {
            Some(dt) => {
                let (y, mo, d) = (dt.year(), u8::from(dt.month()), dt.day());
                let (h, mi, s, ms) = (dt.hour(), dt.minute(), dt.second(), dt.millisecond());
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
            }
            None => self.0.to_string(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// A half-open window `[start, end)`; `end == None` means permanent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// When it starts to be in effect.
    pub start: Timestamp,
    /// When it stops being in effect; absent for permanent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

impl Window {
    /// A window from `start`, open-ended.
    pub fn permanent_from(start: Timestamp) -> Window {
        Window { start, end: None }
    }

    /// Whether `now` is inside the window: `start <= now < end`.
    pub fn contains(&self, now: Timestamp) -> bool {
        self.start <= now && self.end.is_none_or(|e| now < e)
    }

    /// Whether the window has ended at `now`.
    pub fn has_ended(&self, now: Timestamp) -> bool {
        self.end.is_some_and(|e| e <= now)
    }

    /// Whether the window is permanent.
    pub fn is_permanent(&self) -> bool {
        self.end.is_none()
    }

    /// Whether `inner` lies entirely within this window.
    pub fn covers(&self, inner: &Window) -> bool {
        inner.start >= self.start
            && match (self.end, inner.end) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => b <= a,
            }
    }

    /// Whether the window is empty (ends at or before it starts).
    pub fn is_empty(&self) -> bool {
        self.end.is_some_and(|e| e <= self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3339_round_trip_keeps_milliseconds() {
        let t = Timestamp(1_767_225_600_123);
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
        assert_eq!(Timestamp::parse_rfc3339("2026-01-01T01:00:00+01:00"), Ok(Timestamp(1_767_225_600_000)));
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert!(Timestamp::parse_rfc3339("9000-01-01T00:00:00Z").is_err());
        assert!(Timestamp::parse_rfc3339("8999-12-31T23:59:59.999Z").is_ok());
        assert!(Timestamp::parse_rfc3339("1969-12-31T23:59:59Z").is_err());
        assert_eq!(LATEST.to_rfc3339(), "9000-01-01T00:00:00.000Z");
    }

    #[test]
    fn window_is_half_open() {
        let w = Window { start: Timestamp(10), end: Some(Timestamp(20)) };
        assert!(!w.contains(Timestamp(9)));
        assert!(w.contains(Timestamp(10)));
        assert!(w.contains(Timestamp(19)));
        assert!(!w.contains(Timestamp(20)));
        assert!(w.has_ended(Timestamp(20)));
        assert!(!w.has_ended(Timestamp(19)));
        assert!(Window::permanent_from(Timestamp(0)).contains(Timestamp(i64::MAX)));
    }

    proptest! {
        #[test]
        fn contains_matches_definition(start in -1000i64..1000, len in 0i64..1000, now in -2000i64..2000) {
            let w = Window { start: Timestamp(start), end: Some(Timestamp(start + len)) };
            prop_assert_eq!(w.contains(Timestamp(now)), start <= now && now < start + len);
            prop_assert_eq!(w.is_empty(), len == 0);
        }

        #[test]
        fn rfc3339_round_trips(ms in 0i64..221_845_392_000_000) {
            let t = Timestamp(ms);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
        }

        #[test]
        fn covers_is_consistent_with_contains(a in 0i64..100, alen in 1i64..100, b in 0i64..100, blen in 1i64..100, now in 0i64..300) {
            let outer = Window { start: Timestamp(a), end: Some(Timestamp(a + alen)) };
            let inner = Window { start: Timestamp(b), end: Some(Timestamp(b + blen)) };
            if outer.covers(&inner) && inner.contains(Timestamp(now)) {
                prop_assert!(outer.contains(Timestamp(now)));
            }
        }
    }
}
