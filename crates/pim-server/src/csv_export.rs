//! CSV downloads: formula-neutralized cells and the document (header line, then rows).

use crate::error::ApiError;
use crate::handlers::reports::internal;

/// The first characters that make a spreadsheet read a cell as a formula; a cell of free text
/// starting with one of them is prefixed with `'` (OWASP CSV injection advice).
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Neutralizes spreadsheet formulas in free text: `'` before a leading [`FORMULA_STARTS`] character.
pub fn cell(s: &str) -> String {
    if s.starts_with(FORMULA_STARTS) { format!("'{s}") } else { s.to_owned() }
}

/// A CSV document: the header line, then the rows (quoted where a cell needs it).
pub fn csv_bytes(header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(internal)?;
    for r in rows {
        w.write_record(r).map_err(internal)?;
    }
    w.into_inner().map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralized_and_other_text_kept() {
        for f in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(f), format!("'{f}"));
        }
        for t in ["", "alice", "a=b", " =x", "'=x", "\n=x"] {
            assert_eq!(cell(t), t);
        }
    }

    #[test]
    fn cells_that_need_quotes_are_quoted_and_read_back() {
        let rows = vec![vec!["a,b".to_owned(), "say \"hi\"".to_owned(), "two\nlines".to_owned(), String::new()]];
        let body = csv_bytes(&["x", "y", "z", "w"], rows.clone()).expect("csv");
        assert_eq!(String::from_utf8_lossy(&body), "x,y,z,w\n\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\n");
        let mut r = csv::ReaderBuilder::new().from_reader(body.as_slice());
        let back: Vec<Vec<String>> =
            r.records().map(|rec| rec.expect("record").iter().map(str::to_owned).collect()).collect();
        assert_eq!(back, rows);
    }
}
