//! Runs the token cipher candidates (`bench/ciphers`, built for wasm32-wasip2) inside
//! wasmtime, configured as the gateway configures it, so that their cost in the component
//! is measured and not guessed: a guest has no AES instructions, only what the cipher crates
//! do in portable code. Prints the guest's JSON lines unchanged.
//!
//! `cargo build --release -p passcode-bench-ciphers --target wasm32-wasip2`, then
//! `cargo bench -p passcode-envoy-filter --bench wasm-ciphers [-- BUDGET_MS]`.

use std::path::PathBuf;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct Guest {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Guest {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn main() -> wasmtime::Result<()> {
    let wasm = std::env::var_os("PASSCODE_CIPHERS_WASM").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/wasm32-wasip2/release/passcode-bench-ciphers.wasm"
        ))
    });
    // Criterion-style arguments (`--bench`) are ignored; a number is the budget per figure.
    let budget = std::env::args().skip(1).find(|a| a.parse::<u32>().is_ok()).unwrap_or_else(|| "400".into());
    let engine = Engine::default();
    let component = Component::from_file(&engine, &wasm).map_err(|e| {
        e.context(format!(
            "cannot load {}: build it with cargo build --release -p passcode-bench-ciphers --target wasm32-wasip2",
            wasm.display()
        ))
    })?;
    let mut linker = Linker::<Guest>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    let wasi = WasiCtx::builder().inherit_stdout().inherit_stderr().args(&["ciphers", &budget]).build();
    let mut store = Store::new(&engine, Guest { wasi, table: ResourceTable::new() });
    let command = Command::instantiate(&mut store, &component, &linker)?;
    command.wasi_cli_run().call_run(&mut store)?.map_err(|()| wasmtime::format_err!("the guest failed"))
}
