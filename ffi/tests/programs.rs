//! The C, C++ and Go programs of host-examples/, built against the installed library.
//!
//! The library this test run built is installed with ffi/install.sh into a scratch PREFIX
//! under the target directory (never /usr/local); the programs are compiled with the flags
//! pkg-config gives for it and run: normally, under valgrind (no errors, nothing definitely lost), and built with
//! AddressSanitizer and UndefinedBehaviorSanitizer. The Go package runs `go test -race`.
//! A missing tool (cc, c++, pkg-config, valgrind, go) fails the test, naming the tool.
//! Each program also issues a code and sends it through delivery: to a real SMTP server on
//! loopback (aiosmtpd, started here) in most runs, to a development outbox in the static one.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("ffi/ is in the repository").to_path_buf()
}

/// Fails the test, naming the tool, unless `tool` runs.
fn need(tool: &str) {
    let ok = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
        || Command::new(tool).arg("version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "`{tool}` is needed to build and check the host examples and was not found; run scripts/setup");
}

struct Prefix {
    path: PathBuf,
}

impl Prefix {
    fn lib(&self) -> PathBuf {
        self.path.join("lib")
    }
    fn pkg_config_path(&self) -> PathBuf {
        self.path.join("lib/pkgconfig")
    }
}

/// The library of this checkout, built now: `cargo test` builds only the rlib for the tests,
/// not the cdylib and staticlib. The test binary is <target>/<profile>/deps/programs-*, so
/// the build goes to the same target directory and profile (with or without
/// CARGO_TARGET_DIR), where it is a no-op when they are fresh.
fn built_lib_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test's path");
            let dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>").to_path_buf();
            let target = dir.parent().expect("<target>");
            let profile = dir.file_name().and_then(|n| n.to_str()).expect("a profile name");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--lib", "-p", "passcode-ffi"]).current_dir(repo()).env("CARGO_TARGET_DIR", target);
            match profile {
                "debug" => {}
                "release" => {
                    cmd.arg("--release");
                }
                other => {
                    cmd.args(["--profile", other]);
                }
            }
            let out = cmd.output().expect("cargo runs");
            assert!(out.status.success(), "cargo build -p passcode-ffi failed:\n{}", show(&out));
            assert!(
                dir.join("libpasscode.so").is_file() && dir.join("libpasscode.a").is_file(),
                "libpasscode.so and libpasscode.a were not built in {}",
                dir.display()
            );
            dir
        })
        .clone()
}

fn prefix() -> &'static Prefix {
    static PREFIX: OnceLock<Prefix> = OnceLock::new();
    PREFIX.get_or_init(|| {
        need("pkg-config");
        // A scratch prefix next to the build, wiped at the start of each run (a process-wide
        // temporary directory would never be dropped from a static, and would pile up in /tmp).
        let path = built_lib_dir().join("ffi-test-prefix");
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove the previous test prefix");
        }
        let out = Command::new("bash")
            .arg(repo().join("ffi/install.sh"))
            .arg(&path)
            .env("PASSCODE_NO_BUILD", "1")
            .env("PASSCODE_LIB_DIR", built_lib_dir())
            .output()
            .expect("bash runs ffi/install.sh");
        assert!(out.status.success(), "ffi/install.sh failed:\n{}", show(&out));
        for f in [
            "lib/libpasscode.so.1",
            "lib/libpasscode.so",
            "lib/libpasscode.a",
            "include/passcode.h",
            "lib/pkgconfig/passcode.pc",
        ] {
            assert!(path.join(f).exists(), "install.sh did not lay out {f}");
        }
        assert_eq!(
            std::fs::read_link(path.join("lib/libpasscode.so")).expect("a symlink"),
            PathBuf::from("libpasscode.so.1")
        );
        Prefix { path }
    })
}

/// One SMTP server for every program run (its process ends with this test process).
fn smtp() -> &'static passcode_test_servers::SmtpServer {
    static SMTP: OnceLock<passcode_test_servers::SmtpServer> = OnceLock::new();
    SMTP.get_or_init(|| passcode_test_servers::SmtpServer::start(Default::default()))
}

/// The program's delivery goes to the test SMTP server.
fn with_smtp(mut cmd: Command) -> Command {
    cmd.env("PASSCODE_EXAMPLE_SMTP_PORT", smtp().port().to_string());
    cmd
}

fn show(out: &Output) -> String {
    format!("--- stdout\n{}--- stderr\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `pkg-config --cflags --libs passcode` against the temporary prefix.
fn pkg_config_flags(p: &Prefix) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "passcode"])
        .env("PKG_CONFIG_PATH", p.pkg_config_path())
        .output()
        .expect("pkg-config runs");
    assert!(out.status.success(), "pkg-config does not find passcode:\n{}", show(&out));
    let flags: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect();
    assert!(flags.iter().any(|f| f == &format!("-I{}", p.path.join("include").display())), "{flags:?}");
    flags
}

/// Compiles `source` with `compiler` and `std`, the warnings as errors, and `extra` flags.
fn compile(compiler: &str, std: &str, source: &Path, output: &Path, extra: &[&str]) {
    need(compiler);
    let p = prefix();
    let out = Command::new(compiler)
        .args([std, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-g"])
        .args(extra)
        .arg(source)
        .args(pkg_config_flags(p))
        .arg("-pthread")
        .arg("-o")
        .arg(output)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} runs: {e}"));
    assert!(out.status.success(), "{compiler} {} failed:\n{}", source.display(), show(&out));
}

/// Runs a program against the installed library; it must exit 0 and print PASSED.
fn run(what: &str, mut cmd: Command) -> String {
    let out = cmd.env("LD_LIBRARY_PATH", prefix().lib()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = show(&out);
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    assert!(text.contains("PASSED: 0 failed"), "{what} did not report success:\n{text}");
    text
}

/// Builds each example once per test run (tests run in parallel and share the binaries).
fn build(lang: &str, sanitize: bool) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, bool, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, _, path)) = built.iter().find(|(l, s, _)| l == lang && *s == sanitize) {
        return path.clone();
    }
    let path = build_now(lang, sanitize);
    built.push((lang.to_string(), sanitize, path.clone()));
    path
}

fn build_now(lang: &str, sanitize: bool) -> PathBuf {
    let dir = prefix().path.join("bin");
    std::fs::create_dir_all(&dir).expect("bin dir");
    let (compiler, std, source) = match lang {
        "c" => ("cc", "-std=c11", repo().join("host-examples/c/passcode_example.c")),
        _ => ("c++", "-std=c++17", repo().join("host-examples/cpp/passcode_example.cpp")),
    };
    let output = dir.join(format!("{lang}-example{}", if sanitize { "-asan" } else { "" }));
    let mut extra = vec![];
    if sanitize {
        extra.extend(["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]);
    }
    let include = format!("-I{}", repo().join("host-examples/cpp").display());
    if lang == "cpp" {
        extra.push(&include);
    }
    compile(compiler, std, &source, &output, &extra);
    output
}

fn valgrind(binary: &Path) -> Command {
    need("valgrind");
    let mut cmd = Command::new("valgrind");
    cmd.args(["--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite", "-q"]).arg(binary);
    cmd
}

#[test]
fn c_example_runs() {
    run("the C example", with_smtp(Command::new(build("c", false))));
}

#[test]
fn the_c_example_sends_its_code_over_smtp() {
    let server = passcode_test_servers::SmtpServer::start(Default::default());
    let mut cmd = Command::new(build("c", false));
    cmd.env("PASSCODE_EXAMPLE_SMTP_PORT", server.port().to_string());
    run("the C example with its own SMTP server", cmd);
    let mail = server.wait_for(1, std::time::Duration::from_secs(20));
    assert_eq!(mail.len(), 1, "one message: the unknown account's call sent nothing");
    assert_eq!(mail[0].rcpt_tos, vec!["ana.example@example.org"]);
    let text = String::from_utf8_lossy(&mail[0].raw);
    assert!(
        text.split(|c: char| !c.is_ascii_digit()).any(|run| run.len() == 6),
        "the mail carries a six-digit code:\n{text}"
    );
}

#[test]
fn programs_depend_on_the_abi_major_soname() {
    need("readelf");
    let binary = build("c", false);
    let out = Command::new("readelf").arg("-d").arg(&binary).output().expect("readelf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let soname = format!("libpasscode.so.{}", passcode::PASSCODE_ABI_VERSION);
    assert!(text.contains(&format!("Shared library: [{soname}]")), "the C example does not need {soname}:\n{text}");
    let out = Command::new("readelf").arg("-d").arg(prefix().lib().join(&soname)).output().expect("readelf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("Library soname: [{soname}]")), "the library's SONAME is not {soname}:\n{text}");
}

#[test]
fn c_example_is_clean_under_valgrind() {
    run("the C example under valgrind", with_smtp(valgrind(&build("c", false))));
}

#[test]
fn c_example_is_clean_under_address_and_undefined_behaviour_sanitizers() {
    let mut cmd = with_smtp(Command::new(build("c", true)));
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0").env("UBSAN_OPTIONS", "halt_on_error=1");
    run("the C example with ASan/UBSan", cmd);
}

#[test]
fn the_static_library_links_too() {
    need("cc");
    let p = prefix();
    let out_bin = p.path.join("c-example-static");
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg(repo().join("host-examples/c/passcode_example.c"))
        .arg(format!("-I{}", p.path.join("include").display()))
        .arg(p.lib().join("libpasscode.a"))
        .args(["-pthread", "-ldl", "-lm", "-o"])
        .arg(&out_bin)
        .output()
        .expect("cc runs");
    assert!(out.status.success(), "static link failed:\n{}", show(&out));
    let text = run("the statically linked C example", Command::new(&out_bin));
    assert!(text.contains(&format!("libpasscode {}", env!("CARGO_PKG_VERSION"))), "{text}");
}

#[test]
fn cpp_example_runs() {
    run("the C++ example", with_smtp(Command::new(build("cpp", false))));
}

#[test]
fn cpp_example_is_clean_under_valgrind() {
    run("the C++ example under valgrind", with_smtp(valgrind(&build("cpp", false))));
}

#[test]
fn cpp_example_is_clean_under_address_and_undefined_behaviour_sanitizers() {
    let mut cmd = with_smtp(Command::new(build("cpp", true)));
    cmd.env("ASAN_OPTIONS", "detect_leaks=1").env("UBSAN_OPTIONS", "halt_on_error=1");
    run("the C++ example with ASan/UBSan", cmd);
}

/// `go` in host-examples/go, against the temporary prefix, with no module downloads.
fn go(args: &[&str]) -> Command {
    need("go");
    let p = prefix();
    // The package finds the library with `#cgo pkg-config: passcode`, but the go build cache
    // does not key on pkg-config's answer: the same flags in CGO_CFLAGS/CGO_LDFLAGS (which it
    // does key on) keep it from reusing a build linked against another prefix.
    let flags = pkg_config_flags(p);
    let (cflags, ldflags): (Vec<String>, Vec<String>) = flags.into_iter().partition(|f| f.starts_with("-I"));
    let mut cmd = Command::new("go");
    cmd.args(args)
        .current_dir(repo().join("host-examples/go"))
        .env("PKG_CONFIG_PATH", p.pkg_config_path())
        .env("CGO_CFLAGS", cflags.join(" "))
        .env("CGO_LDFLAGS", ldflags.join(" "))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("CGO_ENABLED", "1");
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        cmd.env("GOCACHE", p.path.join("go-cache"));
    }
    cmd
}

#[test]
fn go_package_passes_its_tests_under_the_race_detector() {
    let out = with_smtp(go(&["test", "-race", "-count=1", "-v", "./..."]))
        .env("LD_LIBRARY_PATH", prefix().lib())
        .output()
        .expect("go runs");
    let text = show(&out);
    assert!(out.status.success(), "go test -race failed:\n{text}");
    for t in [
        "TestSignUpFlow",
        "TestConcurrentVerifiesExactlyOneSucceeds",
        "TestBadInputIsAValue",
        "TestIssueAndSendDelivers",
    ] {
        assert!(text.contains(&format!("--- PASS: {t}")), "{t} did not pass:\n{text}");
    }
    assert!(!text.contains("--- SKIP"), "no Go test may be skipped:\n{text}");
}

#[test]
fn go_example_runs() {
    run("the Go example", go(&["run", "./cmd/example"]));
}
