#!/usr/bin/env bash
# Benchmark: verify through JNA (Java) against verify through the C ABI from C, in one run.
# Builds libpasscode (release) and installs it into a scratch prefix, builds the jars and the C
# program, then runs C, Java, and Java on the realm-style store (JNA store callbacks) three times
# in turn, and prints the time per verify of each (best round) and the JNA/C ratio.
# Usage: host-examples/keycloak/bench.sh     (takes about a minute; run on a quiet machine)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
work="$target/keycloak-bench"
rm -rf "$work" && mkdir -p "$work"

cargo build --release -p passcode-ffi --lib --manifest-path "$repo/Cargo.toml" >&2
PASSCODE_NO_BUILD=1 PASSCODE_LIB_DIR="$target/release" bash "$repo/ffi/install.sh" "$work/prefix" >&2
bash "$here/build.sh" "$work/jars" >&2
cc -std=c11 -O2 -Wall -Wextra -Werror "$here/bench/verify_bench.c" -I"$work/prefix/include" \
   -L"$work/prefix/lib" -lpasscode -o "$work/verify_bench"

lib="$work/prefix/lib"
cp="$(cat "$work/jars/classpath")"
# Each program prints "NAME best NS median NS"; keep the best round of each run, then the best run:
# on a machine shared with other work, the least disturbed figure is the one that repeats.
best() { sort -n | head -n1; }
c=(); j=(); r=()
for _ in 1 2 3; do
  c+=("$(LD_LIBRARY_PATH="$lib" "$work/verify_bench" | awk '{print $3}')")
  j+=("$(java -cp "$cp" -Djna.library.path="$lib" passcode.keycloak.tests.VerifyBench | awk '{print $3}')")
  r+=("$(java -cp "$cp" -Djna.library.path="$lib" passcode.keycloak.tests.VerifyBench realm-store | awk '{print $3}')")
done
cb="$(printf '%s\n' "${c[@]}" | best)"; jb="$(printf '%s\n' "${j[@]}" | best)"; rb="$(printf '%s\n' "${r[@]}" | best)"
echo "verify through the C ABI from C:        ${cb} ns (best rounds of 3 runs: ${c[*]})"
echo "verify through JNA from Java:           ${jb} ns (${j[*]})"
echo "verify through JNA, realm-style store:  ${rb} ns (${r[*]})"
awk -v j="$jb" -v c="$cb" -v r="$rb" 'BEGIN { printf "JNA/C ratio: %.2fx (realm-style store behind JNA callbacks: %.2fx)\n", j / c, r / c }'
