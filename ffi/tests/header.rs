//! The committed include/passcode.h is exactly what the pinned cbindgen makes of this crate,
//! it declares every export, every export's body runs inside the panic boundary, and a
//! `#[deprecated]` export would reach C as a compiler warning.
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

/// Every `extern "C"` function in ffi/src: its name and the source after its body's `{`.
fn exports() -> Vec<(String, String)> {
    let src = repo().join("ffi/src");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&src).expect("ffi/src") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        for prefix in ["pub unsafe extern \"C\" fn ", "pub extern \"C\" fn "] {
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + prefix.len()..];
                let name = rest.split(['(', '<']).next().expect("a name").to_string();
                // The signature has no braces: the body starts at the first one.
                let body = rest.split_once('{').map_or("", |(_, body)| body).to_string();
                found.push((name, body));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn header_carries_the_banner_guard_and_every_export() {
    let h = std::fs::read_to_string(repo().join("include/passcode.h")).expect("include/passcode.h exists");
    assert!(h.contains("do not edit"), "the generated banner");
    assert!(h.contains("#ifndef PASSCODE_H"), "the include guard");
    assert!(h.contains(&format!("#define PASSCODE_ABI_VERSION {}", passcode::PASSCODE_ABI_VERSION)));
    // Every exported symbol of the crate's sources is declared, and starts with passcode_.
    let exports = exports();
    for (name, _) in &exports {
        assert!(name.starts_with("passcode_"), "{name} must start with passcode_");
        assert!(h.contains(&format!(" {name}(")), "{name} is not in the header");
    }
    assert!(exports.len() >= 25, "found only {} exports", exports.len());
}

/// No unwinding may cross into C: each export's first statement (after comments) is the
/// panic boundary, which turns a panic into the export's documented answer.
#[test]
fn every_export_starts_with_the_panic_boundary() {
    let mut outside = Vec::new();
    for (name, body) in exports() {
        let first = body.lines().map(str::trim).find(|line| !line.is_empty() && !line.starts_with("//")).unwrap_or("");
        if !first.starts_with("ffi_panic_boundary!") {
            outside.push(format!("{name} (starts with `{first}`)"));
        }
    }
    assert!(outside.is_empty(), "exports whose body does not start with ffi_panic_boundary!: {}", outside.join(", "));
}

/// The deprecation attribute is set up before the first deprecation: a probe export marked
/// `#[deprecated]`, run through the project's cbindgen.toml (never into include/passcode.h),
/// comes out with `PASSCODE_DEPRECATED`, and a C program calling it gets the compiler's warning.
#[test]
fn a_deprecated_export_reaches_c_as_a_compiler_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let probe = dir.path().join("probe.rs");
    std::fs::write(
        &probe,
        "/// Old.\n#[no_mangle]\n#[deprecated(note = \"use passcode_probe_new\")]\n\
         pub extern \"C\" fn passcode_probe_old() -> u32 { 0 }\n\
         /// Older.\n#[no_mangle]\n#[deprecated]\npub extern \"C\" fn passcode_probe_older() -> u32 { 0 }\n",
    )
    .expect("probe source");
    let header = dir.path().join("probe.h");
    let out = Command::new(cbindgen())
        .current_dir(repo())
        .args(["--config", "ffi/cbindgen.toml", "--output"])
        .arg(&header)
        .arg(&probe)
        .output()
        .expect("cbindgen runs");
    assert!(out.status.success(), "cbindgen failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let h = std::fs::read_to_string(&header).expect("probe header");
    assert!(h.contains("PASSCODE_DEPRECATED(\"use passcode_probe_new\") uint32_t passcode_probe_old(void);"), "{h}");
    assert!(h.contains("PASSCODE_DEPRECATED(\"deprecated\") uint32_t passcode_probe_older(void);"), "{h}");

    let program = dir.path().join("probe.c");
    std::fs::write(&program, "#include \"probe.h\"\nint main(void) { return (int)passcode_probe_old(); }\n")
        .expect("probe program");
    let cc = Command::new("cc")
        .current_dir(dir.path())
        .args(["-fsyntax-only", "-Wall", "-Wdeprecated-declarations"])
        .arg(&program)
        .output()
        .unwrap_or_else(|e| {
            panic!("`cc` is needed to check the deprecation attribute and did not run ({e}); run scripts/setup")
        });
    let said = String::from_utf8_lossy(&cc.stderr);
    assert!(cc.status.success(), "the probe program does not compile:\n{said}");
    assert!(said.contains("deprecated") && said.contains("use passcode_probe_new"), "no deprecation warning:\n{said}");
}
