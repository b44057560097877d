//! `cargo run --release -p passcode-componentize`: builds the guest for
//! `wasm32-unknown-unknown` (with LTO, one codegen unit and wasm SIMD: `GUEST_PROFILE`),
//! makes it a component, checks its imports against `world
//! passcode`, and writes `target/wasm32-unknown-unknown/release/passcode.wasm`.
//! `--no-build` encodes the module already built.

#![forbid(unsafe_code)]

use std::process::{Command, ExitCode};

use passcode_componentize::{component_imports, component_path, encode, extra_imports, module_path, workspace_root};

/// How the guest is compiled, beyond the release profile. In wasm, SHA-256 and ChaCha20 run in
/// portable code, and these were measured on verify through wasmtime (p10 of 4,000 verifies,
/// one run, README.md): whole-program LTO with one codegen unit took 4.15 µs to 3.97 and the
/// component from 3,515,066 bytes to 3,217,304; wasm SIMD (which sha2 0.10 and chacha20 0.9
/// have no backend for, so only LLVM's autovectoriser uses it) to 3.93 µs and 3,173,719 bytes.
/// Given as `--config` so that only the guest's build changes: the host's crates keep the
/// workspace's release profile. Every host the project tests (wasmtime, Node) runs wasm SIMD.
const GUEST_PROFILE: [&str; 3] = [
    "profile.release.lto=true",
    "profile.release.codegen-units=1",
    r#"target.wasm32-unknown-unknown.rustflags=["-C", "target-feature=+simd128"]"#,
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passcode-componentize: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let build = !std::env::args().skip(1).any(|a| a == "--no-build");
    let root = workspace_root();
    if build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "passcode-component", "--target", "wasm32-unknown-unknown", "--release"])
            .args(GUEST_PROFILE.iter().flat_map(|setting| ["--config", setting]))
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .status()?;
        anyhow::ensure!(
            status.success(),
            "building the guest failed (is the target installed? rustup target add wasm32-unknown-unknown)"
        );
    }
    let module_path = module_path();
    let module = std::fs::read(&module_path).map_err(|e| anyhow::anyhow!("reading {}: {e}", module_path.display()))?;
    let component = encode(&module)?;
    let extra = extra_imports(&component, &root.join("wit"))?;
    anyhow::ensure!(extra.is_empty(), "the component imports more than `world passcode` declares: {extra:?}");
    let out = component_path();
    std::fs::write(&out, &component).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    eprintln!(
        "passcode-componentize: wrote {} ({} bytes), importing {}",
        out.display(),
        component.len(),
        component_imports(&component)?.join(", ")
    );
    Ok(())
}
