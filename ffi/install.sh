#!/usr/bin/env bash
# Builds libpasscode in release mode and installs it under PREFIX (default /usr/local):
#   $PREFIX/lib/libpasscode.so.1 (SONAME libpasscode.so.1), $PREFIX/lib/libpasscode.so -> .so.1,
#   $PREFIX/lib/libpasscode.a, $PREFIX/include/passcode.h, $PREFIX/lib/pkgconfig/passcode.pc.
# Usage: PREFIX=/opt/passcode ffi/install.sh   (or: ffi/install.sh /opt/passcode)
# Honours CARGO_TARGET_DIR. Set PASSCODE_NO_BUILD=1 to install an existing build, and
# PASSCODE_LIB_DIR to the folder holding libpasscode.so/.a if it is not $CARGO_TARGET_DIR/release.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
prefix="${1:-${PREFIX:-/usr/local}}"
abi=1

if [ "${PASSCODE_NO_BUILD:-0}" != 1 ]; then
  cargo build --release -p passcode-ffi --manifest-path "$repo/Cargo.toml"
fi
target="${CARGO_TARGET_DIR:-$repo/target}"
release="${PASSCODE_LIB_DIR:-$target/release}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)"

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$release/libpasscode.so" "$prefix/lib/libpasscode.so.$abi"
ln -sfn "libpasscode.so.$abi" "$prefix/lib/libpasscode.so"
install -m 0644 "$release/libpasscode.a" "$prefix/lib/libpasscode.a"
install -m 0644 "$repo/include/passcode.h" "$prefix/include/passcode.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$here/passcode.pc.in" > "$prefix/lib/pkgconfig/passcode.pc"
echo "installed libpasscode $version (ABI $abi) under $prefix"
