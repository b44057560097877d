#!/usr/bin/env bash
# Builds libpasscode and the `passcode` command line in release mode and installs them under
# PREFIX (default /usr/local):
#   $PREFIX/lib/libpasscode.so.1 (SONAME libpasscode.so.1), $PREFIX/lib/libpasscode.so -> .so.1,
#   $PREFIX/lib/libpasscode.a, $PREFIX/include/passcode.h, $PREFIX/lib/pkgconfig/passcode.pc,
#   $PREFIX/bin/passcode, its man pages in $PREFIX/share/man/man1, and its bash, zsh and fish
#   completions under $PREFIX/share.
# Usage: PREFIX=/opt/passcode ffi/install.sh   (or: ffi/install.sh /opt/passcode)
# Honours CARGO_TARGET_DIR. Set PASSCODE_NO_BUILD=1 to install an existing build, and
# PASSCODE_LIB_DIR to the folder holding libpasscode.so/.a if it is not $CARGO_TARGET_DIR/release
# (and PASSCODE_BIN_DIR to the one holding `passcode`, by default the same). With
# PASSCODE_NO_BUILD=1 and no `passcode` built, the library is installed alone, and it says so.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
prefix="${1:-${PREFIX:-/usr/local}}"
abi=1

if [ "${PASSCODE_NO_BUILD:-0}" != 1 ]; then
  cargo build --release -p passcode-ffi -p passcode-cli --manifest-path "$repo/Cargo.toml"
fi
target="${CARGO_TARGET_DIR:-$repo/target}"
release="${PASSCODE_LIB_DIR:-$target/release}"
bin_dir="${PASSCODE_BIN_DIR:-$release}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)"

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$release/libpasscode.so" "$prefix/lib/libpasscode.so.$abi"
ln -sfn "libpasscode.so.$abi" "$prefix/lib/libpasscode.so"
install -m 0644 "$release/libpasscode.a" "$prefix/lib/libpasscode.a"
install -m 0644 "$repo/include/passcode.h" "$prefix/include/passcode.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$here/passcode.pc.in" > "$prefix/lib/pkgconfig/passcode.pc"
echo "installed libpasscode $version (ABI $abi) under $prefix"

if [ ! -x "$bin_dir/passcode" ]; then
  echo "not installed: the passcode command line ($bin_dir/passcode was not built; cargo build --release -p passcode-cli)" >&2
  exit 0
fi
install -d "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0755 "$bin_dir/passcode" "$prefix/bin/passcode"
# The man pages and completions come from the binary itself, so they match what it accepts.
pages="$(mktemp -d)"
trap 'rm -rf "$pages"' EXIT
"$prefix/bin/passcode" man --dir "$pages" >/dev/null
install -m 0644 "$pages"/*.1 "$prefix/share/man/man1/"
"$prefix/bin/passcode" completions bash > "$prefix/share/bash-completion/completions/passcode"
"$prefix/bin/passcode" completions zsh > "$prefix/share/zsh/site-functions/_passcode"
"$prefix/bin/passcode" completions fish > "$prefix/share/fish/vendor_completions.d/passcode.fish"
echo "installed passcode $version (the command line, its man pages and completions) under $prefix"
