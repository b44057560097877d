//! `cargo run --release -p passcode-componentize`: builds the guest for
//! `wasm32-unknown-unknown`, makes it a component, checks its imports against `world
//! passcode`, and writes `target/wasm32-unknown-unknown/release/passcode.wasm`.
//! `--no-build` encodes the module already built.

#![forbid(unsafe_code)]

use std::process::{Command, ExitCode};

use passcode_componentize::{component_imports, component_path, encode, extra_imports, module_path, workspace_root};

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
