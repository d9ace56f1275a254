//! The CSV writer of the reports, review results and audit export: whatever the cells hold
//! (commas, quotes, newlines, CR, formulas), the `csv` crate reads the document back as the same
//! rows and columns, each cell exactly as given except that free text starting with a formula
//! character (`= + - @ \t \r`) gets one leading `'`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pim_server::csv_export::{FORMULA_STARTS, cell, csv_bytes};

fuzz_target!(|input: (u8, Vec<Vec<String>>)| {
    let (width, raw_rows) = input;
    let columns = 1 + usize::from(width % 8);
    let header: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    // Rows of exactly `columns` cells of free text, as the handlers build them.
    let given: Vec<Vec<String>> = raw_rows
        .into_iter()
        .map(|mut r| {
            r.resize(columns, String::new());
            r
        })
        .collect();
    let written: Vec<Vec<String>> = given.iter().map(|r| r.iter().map(|c| cell(c)).collect()).collect();
    let body = csv_bytes(&header_refs, written).expect("writing CSV to memory cannot fail");

    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body.as_slice());
    let read_header: Vec<String> = reader.headers().expect("a header").iter().map(str::to_owned).collect();
    assert_eq!(read_header, header);
    let read: Vec<Vec<String>> =
        reader.records().map(|r| r.expect("every record reads back").iter().map(str::to_owned).collect()).collect();
    assert_eq!(read.len(), given.len(), "same number of rows");
    for (got, want) in read.iter().zip(&given) {
        assert_eq!(got.len(), columns, "same number of columns");
        for (g, w) in got.iter().zip(want) {
            if w.starts_with(FORMULA_STARTS) {
                assert_eq!(g.strip_prefix('\''), Some(w.as_str()), "a formula is neutralized with one quote");
            } else {
                assert_eq!(g, w, "a cell reads back as given");
            }
            assert!(!g.starts_with(FORMULA_STARTS), "no cell reads as a formula: {g:?}");
        }
    }
});
