//! Makes the Passcode component, `passcode.wasm`, and holds it to its world.
//!
//! The guest (`component/`) is built for `wasm32-unknown-unknown`, whose standard library
//! reaches no operating system, so the core module imports only what the guest's bindings
//! import: the four interfaces of `world passcode`. [`encode`] turns that module into a
//! component with `wit-component` (the encoder `wasm-tools component new` uses), and
//! [`extra_imports`] compares what a built component imports with what the world in `wit/`
//! declares: the binary refuses to write a component that imports more, and the tests read
//! the written one the same way.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wit_parser::decoding::DecodedWasm;
use wit_parser::Resolve;

/// The world the component implements, in `wit/`.
pub const WORLD: &str = "passcode";

/// Interface families a component hosted by a proxy must not reach, whatever the WIT says.
pub const FORBIDDEN: [&str; 5] = ["wasi:cli/", "wasi:filesystem/", "wasi:io/", "wasi:sockets/", "wasi:http/"];

/// The workspace's root (this crate lives in `component/componentize/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap_or(Path::new(".")).to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The core module `cargo build -p passcode-component --target wasm32-unknown-unknown
/// --release` writes.
pub fn module_path() -> PathBuf {
    target_dir().join("wasm32-unknown-unknown").join("release").join("passcode_component.wasm")
}

/// The component: `PASSCODE_WASM` if set, else `passcode.wasm` beside the core module.
pub fn component_path() -> PathBuf {
    std::env::var_os("PASSCODE_WASM").map_or_else(|| module_path().with_file_name("passcode.wasm"), PathBuf::from)
}

/// The core module as a component: its imports and exports are those the bindings embedded
/// (the `component-type` custom section wit-bindgen writes), validated.
pub fn encode(module: &[u8]) -> Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .context("reading the core module and the world its bindings embedded")?
        .encode()
        .context("encoding the component")
}

/// The names of what a built component imports (`wasi:clocks/wall-clock@0.2.12`, ...).
pub fn component_imports(component: &[u8]) -> Result<Vec<String>> {
    match wit_parser::decoding::decode(component).context("decoding the component")? {
        DecodedWasm::Component(resolve, world) => {
            Ok(resolve.worlds[world].imports.keys().map(|k| resolve.name_world_key(k)).collect())
        }
        DecodedWasm::WitPackage(..) => anyhow::bail!("this is a WIT package, not a component"),
    }
}

/// The names of what the world declares it imports, from the WIT source in `wit_dir`
/// (interfaces its exports `use` count as imports, as in every component of the world).
pub fn world_imports(wit_dir: &Path) -> Result<Vec<String>> {
    let mut resolve = Resolve::default();
    let (package, _) =
        resolve.push_dir(wit_dir).with_context(|| format!("reading the WIT in {}", wit_dir.display()))?;
    let world = resolve.select_world(&[package], Some(WORLD))?;
    Ok(resolve.worlds[world].imports.keys().map(|k| resolve.name_world_key(k)).collect())
}

/// What `component` imports beyond the world in `wit_dir`, and anything it imports from the
/// interface families no proxy host should have to grant ([`FORBIDDEN`]). Empty: it
/// imports its world and nothing else.
pub fn extra_imports(component: &[u8], wit_dir: &Path) -> Result<Vec<String>> {
    Ok(beyond(component_imports(component)?, &world_imports(wit_dir)?))
}

/// The names in `imports` that `declared` lacks or that belong to a [`FORBIDDEN`] family.
pub fn beyond(imports: Vec<String>, declared: &[String]) -> Vec<String> {
    imports
        .into_iter()
        .filter(|name| !declared.contains(name) || FORBIDDEN.iter().any(|f| name.starts_with(f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the component imported when it was built for wasm32-wasip2 (issue 12).
    const WASIP2_IMPORTS: [&str; 21] = [
        "wasi:cli/environment@0.2.12",
        "wasi:cli/exit@0.2.12",
        "wasi:cli/stdin@0.2.12",
        "wasi:cli/stdout@0.2.12",
        "wasi:cli/stderr@0.2.12",
        "wasi:cli/terminal-input@0.2.12",
        "wasi:cli/terminal-output@0.2.12",
        "wasi:cli/terminal-stdin@0.2.12",
        "wasi:cli/terminal-stdout@0.2.12",
        "wasi:cli/terminal-stderr@0.2.12",
        "wasi:io/error@0.2.12",
        "wasi:io/poll@0.2.12",
        "wasi:io/streams@0.2.12",
        "wasi:filesystem/types@0.2.12",
        "wasi:filesystem/preopens@0.2.12",
        "wasi:clocks/monotonic-clock@0.2.12",
        "wasi:random/insecure-seed@0.2.12",
        "wasi:clocks/wall-clock@0.2.12",
        "wasi:random/random@0.2.12",
        "passcode:engine/types@0.1.0",
        "passcode:engine/store@0.1.0",
    ];

    #[test]
    fn the_world_declares_the_store_the_keys_the_wall_clock_and_random_and_nothing_else() {
        let mut declared = world_imports(&workspace_root().join("wit")).unwrap();
        declared.sort();
        assert_eq!(
            declared,
            [
                "passcode:engine/keys@0.1.0",
                "passcode:engine/store@0.1.0",
                "passcode:engine/types@0.1.0",
                "wasi:clocks/wall-clock@0.2.12",
                "wasi:random/random@0.2.12",
            ]
        );
    }

    #[test]
    fn the_check_names_every_import_beyond_the_world() {
        let declared = world_imports(&workspace_root().join("wit")).unwrap();
        let extra = beyond(WASIP2_IMPORTS.map(String::from).to_vec(), &declared);
        assert_eq!(extra.len(), 17, "the wasip2 build's extra imports, each named: {extra:?}");
        assert!(extra.iter().all(|e| !declared.contains(e)));
        // A forbidden family is refused even if a future WIT declared it.
        let with_sockets = vec!["wasi:sockets/tcp@0.2.12".to_string()];
        assert_eq!(beyond(with_sockets.clone(), &with_sockets), with_sockets);
        assert!(beyond(declared.clone(), &declared).is_empty());
    }
}
