//! The sign-in page in a real browser: headless Chromium (Debian's `chromium`) driven by
//! `playwright-core` from npm (`browser-test/`, installed by scripts/setup with `npm ci`).
//! It requests a code, reads it from the DEVELOPMENT outbox, types a wrong code (and sees the
//! error), then the right one, and lands on the protected page. Screenshots go under the
//! target directory. Missing node, chromium or playwright-core FAILS the test, naming it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    std::env::var_os("PASSCODE_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What the browser test needs, or a message naming what is missing and how to get it.
fn prerequisites(dir: &Path) -> Result<(), String> {
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().map_or(true, |o| !o.status.success()) {
        missing.push("node (Debian package `nodejs`)".to_string());
    }
    if !chromium().is_file() {
        missing.push(format!("chromium at {} (Debian package `chromium`)", chromium().display()));
    }
    if !dir.join("node_modules/playwright-core/package.json").is_file() {
        missing.push(format!("playwright-core (run `npm ci` in {})", dir.display()));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("the browser test cannot run; missing: {}. scripts/setup installs them all.", missing.join(", ")))
    }
}

#[test]
fn a_browser_signs_in_with_the_code_from_the_outbox() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser-test");
    if let Err(m) = prerequisites(&dir) {
        panic!("{m}");
    }
    let g = support::gateway(|_| {});
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = std::env::temp_dir().join(format!("passcode-chromium-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();

    let out = Command::new("node")
        .arg(dir.join("signin.js"))
        .current_dir(&dir)
        .env("GATEWAY_URL", format!("http://{}", g.addr()))
        .env("OUTBOX", &g.outbox)
        .env("SCREENSHOT_DIR", &shots)
        .env("USER_DATA_DIR", &profile)
        .env("CHROMIUM", chromium())
        .output()
        .expect("run node");
    let _ = std::fs::remove_dir_all(&profile);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser test failed:\n{stderr}\n{stdout}");

    let seen: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).expect("JSON");
    assert_eq!(seen["ok"], true);
    assert_eq!(seen["greeting"], "Hello, jane@example.com");
    assert!(seen["wrong_message"].as_str().unwrap().contains("4 attempts left"));
    for shot in ["signin-wrong-code.png", "signed-in.png"] {
        let p = shots.join(shot);
        let len = std::fs::metadata(&p).map_or(0, |m| m.len());
        assert!(len > 1000, "{} was saved", p.display());
        eprintln!("screenshot: {}", p.display());
    }
}
