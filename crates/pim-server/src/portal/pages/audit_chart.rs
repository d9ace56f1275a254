//! The Audit section's chart: activations per UTC day over a range, from the engine's activation
//! report, laid out as an inline SVG bar chart (presentation attributes only: the CSP forbids
//! inline styles) with the same numbers for a table beside it.

use pim_domain::Timestamp;
use pim_domain::message::count;

/// The longest range drawn, in days; longer ranges show the table only.
pub const MAX_DAYS: usize = 366;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 750.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 200.0;

/// One day's bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Activations that day.
    pub count: u64,
    /// `2026-01-05: 3 activations`.
    pub title: String,
    /// Geometry, as SVG attribute values.
    pub x: String,
    /// Top of the bar.
    pub y: String,
    /// Its width.
    pub width: String,
    /// Its height.
    pub height: String,
    /// Where its count is written (centre, above the bar).
    pub label_x: String,
    /// Baseline of the count.
    pub label_y: String,
}

/// A label under the horizontal axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Centre.
    pub x: String,
    /// `MM-DD`.
    pub label: String,
}

/// The chart and its numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// `0 0 W H`.
    pub view_box: String,
    /// Every day of the range with its count, in order (bars are drawn for days with activations).
    pub days: Vec<(String, u64)>,
    /// Bars of the days with activations.
    pub bars: Vec<Bar>,
    /// Day labels.
    pub ticks: Vec<Tick>,
    /// The most activations in one day.
    pub max: u64,
    /// Activations in the range.
    pub total: u64,
    /// First and last day.
    pub first: String,
    /// Last day.
    pub last: String,
    /// Axis geometry: left, top, right, bottom.
    pub axis: (f64, f64, f64, f64),
}

fn day_of(t: Timestamp) -> Option<time::Date> {
    t.to_datetime().map(|d| d.date())
}

fn day_text(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// The days of `[from, to)` with their counts from `by_day` (`YYYY-MM-DD`, count); `None` when the
/// range is empty or longer than [`MAX_DAYS`].
pub fn days_in(by_day: &[(String, u64)], from: Timestamp, to: Timestamp) -> Option<Vec<(String, u64)>> {
    if to <= from {
        return None;
    }
    let (mut d, last) = (day_of(from)?, day_of(Timestamp(to.0 - 1))?);
    let mut out = vec![];
    while d <= last {
        if out.len() >= MAX_DAYS {
            return None;
        }
        let key = day_text(d);
        let n = by_day.iter().find(|(k, _)| *k == key).map_or(0, |(_, n)| *n);
        out.push((key, n));
        d = d.next_day()?;
    }
    Some(out)
}

/// The start of the UTC day after `t`: the default end of the chart's range (today included).
pub fn end_of_day(t: Timestamp) -> Timestamp {
    match t.to_datetime().and_then(|d| d.date().next_day()) {
        Some(next) => Timestamp::from_datetime(next.midnight().assume_utc()),
        None => t,
    }
}

/// Lays out the bars of `days` (as [`days_in`] gives them).
pub fn chart(days: Vec<(String, u64)>) -> Option<Chart> {
    let n = days.len();
    let (first, last) = (days.first()?.0.clone(), days.last()?.0.clone());
    let max = days.iter().map(|(_, c)| *c).max().unwrap_or(0);
    let total = days.iter().map(|(_, c)| *c).sum();
    let slot = (RIGHT - LEFT) / n as f64;
    let width = (slot * 0.7).max(1.0);
    let scale = if max == 0 { 0.0 } else { (BOTTOM - TOP) / max as f64 };
    let bars = days
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| *c > 0)
        .map(|(i, (day, c))| {
            let h = *c as f64 * scale;
            let x = LEFT + slot * i as f64 + (slot - width) / 2.0;
            Bar {
                day: day.clone(),
                count: *c,
                title: format!("{day}: {}", count(*c, "activation", "activations")),
                x: num(x),
                y: num(BOTTOM - h),
                width: num(width),
                height: num(h),
                label_x: num(x + width / 2.0),
                label_y: num(BOTTOM - h - 4.0),
            }
        })
        .collect();
    let step = n.div_ceil(8).max(1);
    let ticks = days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0)
        .map(|(i, (day, _))| Tick {
            x: num(LEFT + slot * i as f64 + slot / 2.0),
            label: day.get(5..).unwrap_or(day).to_owned(),
        })
        .collect();
    Some(Chart {
        view_box: format!("0 0 {WIDTH} {HEIGHT}"),
        days,
        bars,
        ticks,
        max,
        total,
        first,
        last,
        axis: (LEFT, TOP, RIGHT, BOTTOM),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_of_the_range_is_counted_and_only_busy_days_get_bars() {
        let from = Timestamp::parse_rfc3339("2026-01-03T10:00:00Z").unwrap();
        let to = Timestamp::parse_rfc3339("2026-01-06T00:00:00Z").unwrap();
        let days = days_in(&[("2026-01-04".into(), 3), ("2026-01-05".into(), 1)], from, to).unwrap();
        assert_eq!(
            days,
            vec![("2026-01-03".into(), 0), ("2026-01-04".into(), 3), ("2026-01-05".into(), 1)],
            "the range ends before 2026-01-06"
        );
        let c = chart(days).unwrap();
        assert_eq!((c.total, c.max, c.bars.len()), (4, 3, 2));
        assert_eq!(c.bars[0].y, num(TOP), "the busiest day reaches the top");
        assert_eq!(
            (c.bars[0].title.as_str(), c.bars[1].title.as_str()),
            ("2026-01-04: 3 activations", "2026-01-05: 1 activation")
        );
        assert_eq!(c.ticks[0].label, "01-03");
        assert!(days_in(&[], to, from).is_none());
        assert_eq!(end_of_day(from), Timestamp::parse_rfc3339("2026-01-04T00:00:00Z").unwrap());
        let long = Timestamp(from.0 + 400 * pim_domain::time::DAY_MS);
        assert!(days_in(&[], from, long).is_none(), "too long to draw");
    }
}
