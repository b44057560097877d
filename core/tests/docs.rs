//! The README's error table is the one users read: it must match the engine's.

use passcode_core::ERROR_TABLE;

#[test]
fn readme_error_table_matches_the_engine() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let rows: Vec<(u32, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let n = cells.get(1)?.parse::<u32>().ok()?;
            // The 8000s below it are passcode-delivery's, checked by that crate's tests.
            (n < 7000).then(|| Some((n, cells.get(2)?.to_string())))?
        })
        .collect();
    let table: Vec<(u32, String)> = ERROR_TABLE.iter().map(|(n, s)| (*n, s.to_string())).collect();
    assert_eq!(rows, table, "README.md's error table differs from passcode_core::ERROR_TABLE");
}
