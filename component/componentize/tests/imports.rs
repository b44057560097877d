//! The built component (`passcode.wasm`) imports what `world passcode` declares and nothing
//! else: read from the component itself with wit-parser's decoder, as `wasm-tools component
//! wit` does. Build it first: `cargo run --release -p passcode-componentize`.

use passcode_componentize::{component_imports, component_path, extra_imports, workspace_root, world_imports};

#[test]
fn the_built_component_imports_its_world_and_nothing_else() {
    let path = component_path();
    let component = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the component is missing at {}: {e}\nBuild it first: cargo run --release -p passcode-componentize",
            path.display()
        )
    });
    let wit = workspace_root().join("wit");
    let mut imports = component_imports(&component).expect("a component");
    eprintln!("{} imports: {imports:?}", path.display());
    let extra = extra_imports(&component, &wit).unwrap();
    assert!(extra.is_empty(), "imports beyond `world passcode`: {extra:?}");
    let mut declared = world_imports(&wit).unwrap();
    imports.sort();
    declared.sort();
    assert_eq!(imports, declared, "every import of the world, and only those");
}
