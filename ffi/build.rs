//! Gives libpasscode.so the SONAME of its ABI major version, so programs record
//! `NEEDED libpasscode.so.1` and keep working across compatible releases.

fn main() {
    // Keep in step with `PASSCODE_ABI_VERSION` in src/lib.rs (a test checks it).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpasscode.so.1");
    println!("cargo:rerun-if-changed=build.rs");
}
