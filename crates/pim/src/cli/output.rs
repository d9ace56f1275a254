//! Printing: aligned tables and `key: value` listings by default, JSON with `--output json`.

use std::io::Write;

use pim_api::{Timestamp, Window};
use pim_domain::message::count;
use serde::Serialize;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables and `key: value` listings for people.
    Table,
    /// The API's JSON, pretty-printed, for scripts.
    Json,
}

/// Parses `csv` or `json` (a file format of the exports and reports).
pub fn parse_export_format(s: &str) -> Result<pim_api::ExportFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "csv" => Ok(pim_api::ExportFormat::Csv),
        "json" => Ok(pim_api::ExportFormat::Json),
        _ => Err(format!("'{s}' is not a file format: use csv or json")),
    }
}

/// Writes `bytes` to the file `path` and says so on standard error.
pub fn save(bytes: &[u8], path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    note(&format!("Wrote {} to {}.", count(bytes.len(), "byte", "bytes"), path.display()));
    Ok(())
}

/// Writes a downloaded file to `out`, or to standard output.
pub fn write_file(bytes: &[u8], out: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    match out {
        Some(path) => save(bytes, &path),
        None => print(String::from_utf8_lossy(bytes).trim_end_matches('\n')),
    }
}

/// Writes `text` and a newline to standard output; a closed pipe (`pim ... | head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let r = if text.ends_with('\n') { out.write_all(text.as_bytes()) } else { writeln!(out, "{text}") };
    match r.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Writes a note for people to standard error (never part of the result).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Prints `value` as pretty JSON.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    print(&serde_json::to_string_pretty(value)?)
}

/// Prints `value` as JSON in JSON mode, else the text `render` makes.
pub fn show<T: Serialize + ?Sized>(format: Format, value: &T, render: impl FnOnce() -> String) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(value),
        Format::Table => print(&render()),
    }
}

/// A table with a header row; columns are aligned on the widest cell.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    /// Adds a row (missing cells are empty, extra cells are dropped).
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text: the header, then one line per row, without trailing spaces; `(none)` when empty.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    s.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = line(&self.headers);
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        if self.rows.is_empty() {
            out.push_str("\n(none)");
        }
        out
    }
}

/// `key: value` lines with the values aligned; pairs whose value is empty are left out.
pub fn listing(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}:{}{v}", " ".repeat(width - k.chars().count() + 1)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An instant for people: RFC 3339 in UTC to the second (JSON output keeps the milliseconds).
pub fn time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match s.rsplit_once('.') {
        Some((whole, ms)) if ms.len() == 4 && ms.ends_with('Z') => format!("{whole}Z"),
        _ => s,
    }
}

/// An optional instant; empty when absent.
pub fn opt_time(t: Option<Timestamp>) -> String {
    t.map(time).unwrap_or_default()
}

/// The end of a window, or `permanent`.
pub fn end(w: &Window) -> String {
    w.end.map(time).unwrap_or_else(|| "permanent".to_owned())
}

/// `yes` or `no`.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// A hint on standard error that more results exist (table mode only).
pub fn more_hint(format: Format, next_cursor: Option<&str>) {
    if let (Format::Table, Some(c)) = (format, next_cursor) {
        note(&format!("more results: pass --cursor {c}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let mut t = Table::new(&["NAME", "KIND", "ID"]);
        t.row(vec!["alice".into(), "user".into(), "1".into()]);
        t.row(vec!["ops-admins".into(), "group".into()]);
        assert_eq!(t.render(), "NAME        KIND   ID\nalice       user   1\nops-admins  group");
        let empty = Table::new(&["A", "B"]);
        assert_eq!(empty.render(), "A  B\n(none)");
    }

    #[test]
    fn tables_count_characters_not_bytes() {
        let mut t = Table::new(&["N", "X"]);
        t.row(vec!["é".into(), "1".into()]);
        t.row(vec!["ab".into(), "2".into()]);
        assert_eq!(t.render(), "N   X\né   1\nab  2");
    }

    #[test]
    fn listings_align_and_skip_empty_values() {
        let s = listing(&[("id", "7".into()), ("email", String::new()), ("display name", "Alice".into())]);
        assert_eq!(s, "id:           7\ndisplay name: Alice");
    }

    #[test]
    fn times_are_shown_to_the_second() {
        assert_eq!(time(Timestamp(1_767_225_600_000)), "2026-01-01T00:00:00Z");
        assert_eq!(time(Timestamp(1_767_225_600_999)), "2026-01-01T00:00:00Z");
        assert_eq!(end(&Window { start: Timestamp(0), end: None }), "permanent");
    }
}
