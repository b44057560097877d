//! The committed include/passcode.h is exactly what the pinned cbindgen makes of this crate.
//!
//! cbindgen is looked for in `$CBINDGEN`, then `target/tools/bin/cbindgen` (where
//! scripts/setup installs it), then on the PATH. A missing or differently versioned
//! cbindgen fails the test: the header check is never skipped.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cbindgen version the header is generated with. Install it with
/// `cargo install cbindgen --version =0.29.4 --locked --root target/tools`.
const PINNED: &str = "0.29.4";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("ffi/ is in the repository").to_path_buf()
}

fn cbindgen() -> PathBuf {
    let candidates: Vec<PathBuf> = std::env::var_os("CBINDGEN")
        .map(PathBuf::from)
        .into_iter()
        .chain([repo().join("target/tools/bin/cbindgen"), PathBuf::from("cbindgen")])
        .collect();
    for c in &candidates {
        if let Ok(out) = Command::new(c).arg("--version").output() {
            let version = String::from_utf8_lossy(&out.stdout);
            assert!(
                version.trim() == format!("cbindgen {PINNED}"),
                "{} is `{}`, but the header is pinned to cbindgen {PINNED}; install it with \
                 `cargo install cbindgen --version ={PINNED} --locked --root target/tools`",
                c.display(),
                version.trim()
            );
            return c.clone();
        }
    }
    panic!(
        "cbindgen {PINNED} is needed to check include/passcode.h and was not found (looked at $CBINDGEN, \
         target/tools/bin/cbindgen and the PATH); install it with \
         `cargo install cbindgen --version ={PINNED} --locked --root target/tools` (scripts/setup does)"
    );
}

#[test]
fn committed_header_matches_the_generated_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = dir.path().join("passcode.h");
    let out = Command::new(cbindgen())
        .current_dir(repo())
        .args(["--config", "ffi/cbindgen.toml", "--crate", "passcode-ffi", "--output"])
        .arg(&fresh)
        .arg("ffi")
        .output()
        .expect("cbindgen runs");
    assert!(out.status.success(), "cbindgen failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let fresh = std::fs::read_to_string(&fresh).expect("generated header");
    let committed = std::fs::read_to_string(repo().join("include/passcode.h")).expect("include/passcode.h exists");
    if fresh != committed {
        let line = fresh.lines().zip(committed.lines()).position(|(a, b)| a != b).map_or_else(
            || format!("the files differ in length ({} vs {} lines)", fresh.lines().count(), committed.lines().count()),
            |i| {
                format!(
                    "first difference at line {}:\n  generated: {}\n  committed: {}",
                    i + 1,
                    fresh.lines().nth(i).unwrap_or(""),
                    committed.lines().nth(i).unwrap_or("")
                )
            },
        );
        panic!(
            "include/passcode.h is stale: regenerate it with\n  target/tools/bin/cbindgen --config ffi/cbindgen.toml \
             --crate passcode-ffi --output include/passcode.h ffi\n{line}"
        );
    }
}

#[test]
fn header_carries_the_banner_guard_and_every_export() {
    let h = std::fs::read_to_string(repo().join("include/passcode.h")).expect("include/passcode.h exists");
    assert!(h.contains("do not edit"), "the generated banner");
    assert!(h.contains("#ifndef PASSCODE_H"), "the include guard");
    assert!(h.contains(&format!("#define PASSCODE_ABI_VERSION {}", passcode::PASSCODE_ABI_VERSION)));
    // Every exported symbol of the crate's sources is declared, and starts with passcode_.
    let src = repo().join("ffi/src");
    let mut count = 0;
    for entry in std::fs::read_dir(&src).expect("ffi/src") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        for line in text.lines() {
            let Some(rest) = line
                .trim()
                .strip_prefix("pub unsafe extern \"C\" fn ")
                .or_else(|| line.trim().strip_prefix("pub extern \"C\" fn "))
            else {
                continue;
            };
            let name = rest.split('(').next().expect("a name");
            assert!(name.starts_with("passcode_"), "{name} must start with passcode_");
            assert!(h.contains(&format!(" {name}(")), "{name} is not in the header");
            count += 1;
        }
    }
    assert!(count >= 25, "found only {count} exports");
}
