//! The scenario vectors through the Rust crate on the in-memory store.

use passcode_core::{Engine, ERROR_TABLE};
use passcode_vectors::engine_surface::EngineSurface;

#[test]
fn every_vector_passes_on_the_memory_store() {
    passcode_vectors::run_all_or_panic(&mut || Box::new(EngineSurface::new(|c| Ok(Engine::builder(c)))), ERROR_TABLE);
}
