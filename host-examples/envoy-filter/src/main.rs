//! `passcode-envoy-filter`: the sign-in gateway.
//!
//! `cargo run -p passcode-envoy-filter --release` builds the component (through the same
//! cargo), loads it, and starts the gateway on embedded defaults; it prints the URL to open.
//! SIGTERM (or Ctrl-C) shuts it down gracefully.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use passcode_envoy_filter::gateway::{Gateway, GatewayConfig, LogFormat};
use passcode_envoy_filter::host::{require_wasm, BUILD_COMMAND};
use passcode_envoy_filter::options::{apply, help, parse_args};

const USAGE: &str = "passcode-envoy-filter: a sign-in gateway that hosts the Passcode WASI component

USAGE: cargo run -p passcode-envoy-filter --release -- [OPTIONS]

  --config FILE                        the engine config (TOML or JSON in core's schema), with the
                                       gateway's options in its [gateway] table (flags override it)
  -h, --help                           this text

OPTIONS (each also a key of the config file's [gateway] table, with underscores):
";

const ENVIRONMENT: &str = "
ENVIRONMENT:
  PASSCODE_KEY_1        the engine's key (64 hex digits), given to the component; random if unset
  PASSCODE_SESSION_KEY  the session cookie's HMAC key (64 hex digits); random if unset
  RUST_LOG              a tracing filter, over --log-level
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
    tracing::info!("building the component ({BUILD_COMMAND})");
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

/// Log lines on standard error, as text or JSON, filtered by `RUST_LOG` or the level option.
fn init_logs(config: &GatewayConfig) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log_level))
        .map_err(|e| format!("log_level: {e}"))?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.with_ansi(false).init(),
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}{}{ENVIRONMENT}", help());
        return Ok(());
    }
    let (options, engine_config) = parse_args(&args)?;
    // The component's default path is only a default: --wasm (or the file's wasm) replaces it.
    let mut config = GatewayConfig::development(PathBuf::new());
    if let Some(text) = engine_config {
        config.engine_config = text;
    }
    for (key, value) in &options {
        apply(&mut config, key, value)?;
    }
    init_logs(&config)?;
    if config.wasm.as_os_str().is_empty() {
        build_component()?;
        config.wasm = require_wasm()?;
    }
    // Nodes sharing a store must derive the same keys, or each would see its own subjects and
    // refuse the others' tokens and cookies.
    if config.store_url.is_some() {
        for var in ["PASSCODE_KEY_1", "PASSCODE_SESSION_KEY"] {
            if std::env::var_os(var).is_none() {
                return Err(format!("--store: set {var} (64 hex digits) to the same value on every node"));
            }
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
    if let Some(admin) = gateway.admin_addr() {
        println!("Metrics at http://{admin}/metrics; probes at /healthz and /readyz.");
    }
    println!("Open {} to sign in.", gateway.url());
    gateway.serve_until_signal();
    Ok(())
}
