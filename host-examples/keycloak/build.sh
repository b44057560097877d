#!/usr/bin/env bash
# Builds the Keycloak example with javac and jar, offline (no Maven, no network):
#   OUT/passcode-keycloak.jar         the provider to deploy: the JNA binding, the authenticators,
#                                     META-INF/services and the theme resources
#   OUT/keycloak-standin.jar          the stand-ins of Keycloak's SPI types (never deployed)
#   OUT/passcode-keycloak-runner.jar  the runner playing Keycloak's flow engine, and the HTTP demo
#   OUT/passcode-keycloak-tests.jar   the JUnit 5 tests, the vector driver and the benchmark
# Usage: host-examples/keycloak/build.sh [OUT]   (default OUT: target/keycloak at the repository root)
# Needs a JDK 17 (javac, jar) and Debian's libjna-java and junit5 (scripts/setup installs them);
# JNA_JAR and JUNIT_JAR point elsewhere if they are not under /usr/share/java.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/keycloak}"
jna="${JNA_JAR:-/usr/share/java/jna.jar}"
junit="${JUNIT_JAR:-/usr/share/java/junit-platform-console-standalone.jar}"

for tool in javac jar; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found: install a JDK 17 (Debian: openjdk-17-jdk-headless)" >&2; exit 1; }
done
[ -f "$jna" ] || { echo "build.sh: $jna not found: install Debian's libjna-java (scripts/setup)" >&2; exit 1; }
[ -f "$junit" ] || { echo "build.sh: $junit not found: install Debian's junit5 (scripts/setup)" >&2; exit 1; }

classes="$out/classes"
rm -rf "$classes"
mkdir -p "$classes"/{standin,main,runner,tests}
compile() { # compile DEST CLASSPATH SOURCE_DIR
  find "$3" -name '*.java' > "$out/sources.txt"
  javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d "$1" -cp "$2" @"$out/sources.txt"
}
compile "$classes/standin" "" "$here/standin/src"
compile "$classes/main" "$jna:$classes/standin" "$here/src/main/java"
compile "$classes/runner" "$jna:$classes/standin:$classes/main" "$here/src/runner/java"
compile "$classes/tests" "$jna:$junit:$classes/standin:$classes/main:$classes/runner" "$here/src/test/java"

jar --create --file "$out/keycloak-standin.jar" -C "$classes/standin" .
jar --create --file "$out/passcode-keycloak.jar" -C "$classes/main" . -C "$here/src/main/resources" .
jar --create --file "$out/passcode-keycloak-runner.jar" --main-class passcode.keycloak.runner.Demo -C "$classes/runner" .
jar --create --file "$out/passcode-keycloak-tests.jar" -C "$classes/tests" .
rm -f "$out/sources.txt"
# The classpath of the runner and tests, for `java -cp "$(cat OUT/classpath)"`.
echo "$out/passcode-keycloak-tests.jar:$out/passcode-keycloak-runner.jar:$out/passcode-keycloak.jar:$out/keycloak-standin.jar:$jna:$junit" > "$out/classpath"
echo "built $out/passcode-keycloak.jar"
