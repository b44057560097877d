//! `passcode-envoy-filter`: the sign-in gateway on loopback.
//!
//! `cargo run -p passcode-envoy-filter --release` builds the component (through the same
//! cargo), loads it, and starts the gateway on embedded defaults; it prints the URL to open.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use passcode_envoy_filter::gateway::{Gateway, GatewayConfig};
use passcode_envoy_filter::host::{require_wasm, BUILD_COMMAND};

const HELP: &str = "passcode-envoy-filter: a sign-in gateway that hosts the Passcode WASI component

USAGE: cargo run -p passcode-envoy-filter --release -- [OPTIONS]

OPTIONS:
  --listen ADDR        where to listen (default 127.0.0.1:8080)
  --wasm PATH          the component (default: target/wasm32-unknown-unknown/release/passcode.wasm,
                       built first when run through cargo)
  --config FILE        the engine config, TOML or JSON in core's schema (default: embedded)
  --key-dir DIR        a folder the host may read key files named in --config from
  --upstream URL       the protected upstream, http://host:port (default: a built-in page)
  --outbox DIR         the DEVELOPMENT outbox folder, used when the config's [delivery] names no
                       sender (default ./outbox)
  --quiet-outbox       write outbox files without printing them
  --accounts FILE      only these addresses/numbers (one per line, normalised) get codes
  --workers N          worker threads, one component instance each
  --store URL          a shared store for several gateways (redis://host:port/db); every node
                       then needs the same PASSCODE_KEY_1 and PASSCODE_SESSION_KEY
  --trust-forwarded    take the client address from X-Forwarded-For (behind a proxy only)
  -h, --help           this text

ENVIRONMENT:
  PASSCODE_KEY_1        the engine's key (64 hex digits), given to the component; random if unset
  PASSCODE_SESSION_KEY  the session cookie's HMAC key (64 hex digits); random if unset
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passcode-envoy-filter: {e}");
            ExitCode::FAILURE
        }
    }
}

/// When run through `cargo run`, builds the component with the same cargo first, so one
/// command builds everything. The outer cargo has released its lock by now.
fn build_component() -> Result<(), String> {
    let Some(cargo) = std::env::var_os("CARGO") else { return Ok(()) };
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    eprintln!("passcode-envoy-filter: building the component ({BUILD_COMMAND})");
    let status = std::process::Command::new(cargo)
        .args(["run", "--release", "-p", "passcode-componentize", "--manifest-path"])
        .arg(manifest)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(
            "building the component failed (is the target installed? rustup target add wasm32-unknown-unknown)".into(),
        );
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut wasm: Option<PathBuf> = None;
    let mut options = Vec::new();
    while let Some(a) = args.next() {
        if a == "-h" || a == "--help" {
            print!("{HELP}");
            return Ok(());
        }
        if a == "--quiet-outbox" || a == "--trust-forwarded" {
            options.push((a, String::new()));
            continue;
        }
        let value = args.next().ok_or(format!("{a} needs a value (see --help)"))?;
        if a == "--wasm" {
            wasm = Some(PathBuf::from(value));
        } else {
            options.push((a, value));
        }
    }
    let wasm = match wasm {
        Some(w) => w,
        None => {
            build_component()?;
            require_wasm()?
        }
    };
    let mut config = GatewayConfig::development(wasm);
    for (name, value) in options {
        match name.as_str() {
            "--listen" => config.listen = value.parse().map_err(|_| format!("--listen: not an address: {value}"))?,
            "--config" => {
                config.engine_config =
                    std::fs::read_to_string(&value).map_err(|e| format!("--config: cannot read {value}: {e}"))?
            }
            "--key-dir" => config.guest_dirs.push(PathBuf::from(value)),
            "--upstream" => config.upstream = Some(value),
            "--store" => {
                // Nodes sharing a store must derive the same keys, or each would see its own
                // subjects and refuse the others' tokens and cookies.
                for var in ["PASSCODE_KEY_1", "PASSCODE_SESSION_KEY"] {
                    if std::env::var_os(var).is_none() {
                        return Err(format!("--store: set {var} (64 hex digits) to the same value on every node"));
                    }
                }
                config.store_url = Some(value)
            }
            "--outbox" => config.outbox = PathBuf::from(value),
            "--quiet-outbox" => config.print_outbox = false,
            "--trust-forwarded" => config.trust_forwarded = true,
            "--workers" => config.workers = value.parse().map_err(|_| format!("--workers: not a number: {value}"))?,
            "--accounts" => {
                let text =
                    std::fs::read_to_string(&value).map_err(|e| format!("--accounts: cannot read {value}: {e}"))?;
                config.accounts = Some(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from)
                        .collect(),
                );
            }
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    let workers = config.workers;
    let gateway = Gateway::start(config)?;
    println!("Passcode gateway: {workers} workers, one component instance each.");
    match gateway.outbox() {
        Some(outbox) => println!(
            "DEVELOPMENT ONLY: messages are not sent; they are written to {} (and printed here unless --quiet-outbox).",
            outbox.display()
        ),
        None => println!("Messages are sent by the senders of the config's [delivery] section."),
    }
    println!("Open {} to sign in.", gateway.url());
    gateway.wait();
    Ok(())
}
