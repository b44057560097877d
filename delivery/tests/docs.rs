//! The README's error table is the one users read: its 8000s must be delivery's numbers.

use passcode_delivery::DELIVERY_ERROR_TABLE;

#[test]
fn readme_error_table_has_the_delivery_numbers() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let rows: Vec<(u32, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let n = cells.get(1)?.parse::<u32>().ok()?;
            (8000..9000).contains(&n).then(|| Some((n, cells.get(2)?.to_string())))?
        })
        .collect();
    let table: Vec<(u32, String)> = DELIVERY_ERROR_TABLE.iter().map(|(n, s)| (*n, s.to_string())).collect();
    assert_eq!(rows, table, "README.md's 8000s differ from passcode_delivery::DELIVERY_ERROR_TABLE");
}
