//! What operators read and install: the README's "Operating Passcode" commands run as written
//! (against a real Redis and a real SMTP server), the bash completions completing in bash, the
//! man pages rendered by groff, and `ffi/install.sh` laying out the command line.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use passcode_test_servers::{SmtpOptions, SmtpServer};
use support::{binary, passcode, RedisServer};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README's section, up to the next `## ` heading.
fn section() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("\n## Operating Passcode\n").expect("README.md has an \"Operating Passcode\" section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

/// The fenced blocks of a language in `text`, in order.
fn blocks(text: &str, language: &str) -> Vec<String> {
    let fence = format!("```{language}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&fence) {
        let body = &rest[i + fence.len()..];
        let end = body.find("```").expect("a closed block");
        out.push(body[..end].to_string());
        rest = &body[end..];
    }
    out
}

/// Runs one line of the README through `sh`, with the built `passcode` first on the PATH.
fn shell(dir: &Path, line: &str) -> std::process::Output {
    let bin_dir = binary().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("sh").args(["-c", line]).current_dir(dir).env("PATH", path).output().expect("run sh")
}

/// Every `passcode ...` line of the section runs as written, in order, in a folder holding its
/// config. The only changes: the ports of Redis (6379) and of the SMTP relay (25) become those
/// of the servers this test started. The install lines are checked by
/// `install_sh_lays_out_the_command_line_its_man_pages_and_completions`.
#[test]
fn the_readme_commands_run_as_written() {
    let text = section();
    let redis = RedisServer::start(None);
    let smtp = SmtpServer::start(SmtpOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let tomls = blocks(&text, "toml");
    assert_eq!(tomls.len(), 1, "one config in the section");
    let config = tomls[0].replacen("127.0.0.1:6379", &format!("127.0.0.1:{}", redis.port), 1).replacen(
        "port = 25\n",
        &format!("port = {}\n", smtp.port()),
        1,
    );
    assert!(!config.contains(":6379") && !config.contains("port = 25\n"), "both ports were found and replaced");
    std::fs::write(d.join("passcode.toml"), config).unwrap();

    let sh = blocks(&text, "sh").join("");
    assert!(sh.contains("cargo install --path cli") && sh.contains("ffi/install.sh"), "the install lines");
    let commands: Vec<&str> = sh.lines().filter(|l| l.starts_with("passcode ")).collect();
    assert!(commands.len() >= 8, "{commands:?}");
    let mut outputs = Vec::new();
    for line in &commands {
        let out = shell(d, line);
        assert!(
            out.status.success(),
            "`{line}` exited {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((line.to_string(), String::from_utf8(out.stdout).unwrap()));
    }

    // What the commands did.
    let key = d.join("key1");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let mail = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(mail[0].rcpt_tos, vec!["jane@example.com"]);
    assert!(String::from_utf8_lossy(&mail[0].raw).contains("Subject: [TEST]"));
    let check: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("check.json")).unwrap()).unwrap();
    assert_eq!((check["ok"].as_bool(), check["store"]["kind"].as_str()), (Some(true), Some("redis")));
    let strict = outputs.iter().find(|(l, _)| l.contains("--strict --connect")).expect("the deploy check");
    assert!(strict.1.contains("the store answered a read") && strict.1.contains("no warnings"), "{}", strict.1);

    // The output the section shows is the output the command gives.
    let shown = blocks(&text, "text");
    let preview = outputs.iter().find(|(l, _)| l.contains("--channel sms --locale fr")).expect("the SMS preview");
    assert_eq!(shown.first().map(String::as_str), Some(preview.1.as_str()), "the README's preview output is stale");
}

#[test]
fn bash_completes_commands_and_values() {
    let script = passcode(Path::new("."), &["completions", "bash"]).expect(0).stdout;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("passcode.bash"), &script).unwrap();
    let complete = |words: &str, cword: usize| {
        let program = format!(
            "source ./passcode.bash; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
             COMP_POINT=${{#COMP_LINE}}; _passcode passcode \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             echo \"${{COMPREPLY[*]}}\""
        );
        let out = Command::new("bash").args(["-c", &program]).current_dir(dir.path()).output().expect("bash");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(complete("passcode ch", 1), "check");
    assert_eq!(complete("passcode se", 1), "send-test");
    assert_eq!(complete("passcode preview x.toml --channel ''", 4), "email sms");
    assert!(complete("passcode preview x.toml --purpose ''", 4).contains("second-factor"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = passcode(Path::new("."), &["completions", shell]).expect(0);
        assert!(out.stdout.contains("send-test"), "{shell}");
    }
}

#[test]
fn the_man_pages_render_without_warnings() {
    let page = passcode(Path::new("."), &["man"]).expect(0).stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passcode.1");
    std::fs::write(&file, &page).unwrap();
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-c", "-P-b", "-P-u"])
        .arg(&file)
        .output()
        .expect("this test needs groff (Debian package groff-base; scripts/setup installs it)");
    assert!(out.status.success() && out.stderr.is_empty(), "groff: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in ["passcode(1)", "keygen", "check", "preview", "send-test", "status", "unlock", "Exit status"] {
        assert!(text.contains(expected), "the rendered page has no {expected:?}:\n{text}");
    }

    let pages = dir.path().join("pages");
    let json = passcode(Path::new("."), &["man", "--json", "--dir", pages.to_str().unwrap()]).expect(0).json();
    let names: Vec<&str> = json["pages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for cmd in ["passcode.1", "passcode-check.1", "passcode-send-test.1", "passcode-unlock.1"] {
        assert!(names.contains(&cmd), "{names:?}");
    }
}

/// `ffi/install.sh` with a build in place installs the command line beside the library. The
/// library files here are stand-ins: passcode-ffi's own tests install and link the real one.
#[test]
fn install_sh_lays_out_the_command_line_its_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib-build");
    std::fs::create_dir(&lib).unwrap();
    for f in ["libpasscode.so", "libpasscode.a"] {
        std::fs::write(lib.join(f), "stand-in").unwrap();
    }
    let prefix = dir.path().join("prefix");
    let out = Command::new("bash")
        .arg(repo().join("ffi/install.sh"))
        .arg(&prefix)
        .env("PASSCODE_NO_BUILD", "1")
        .env("PASSCODE_LIB_DIR", &lib)
        .env("PASSCODE_BIN_DIR", binary().parent().unwrap())
        .output()
        .expect("bash runs ffi/install.sh");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{log}");
    assert!(log.contains("installed passcode"), "{log}");
    let installed = prefix.join("bin/passcode");
    assert_eq!(std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777, 0o755);
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8(version.stdout).unwrap(), format!("passcode {}\n", env!("CARGO_PKG_VERSION")));
    for f in [
        "share/man/man1/passcode.1",
        "share/man/man1/passcode-check.1",
        "share/man/man1/passcode-unlock.1",
        "share/bash-completion/completions/passcode",
        "share/zsh/site-functions/_passcode",
        "share/fish/vendor_completions.d/passcode.fish",
        "lib/libpasscode.so.1",
    ] {
        assert!(prefix.join(f).is_file(), "install.sh did not lay out {f}:\n{log}");
    }
    // `man` finds the installed page through the prefix.
    let man = Command::new("man")
        .args(["-M", prefix.join("share/man").to_str().unwrap(), "-P", "cat", "passcode-unlock"])
        .env("MANWIDTH", "80")
        .output()
        .expect("man (Debian package man-db)");
    assert!(String::from_utf8_lossy(&man.stdout).contains("unlock"), "{}", String::from_utf8_lossy(&man.stderr));

    // Without a built command line, the library is installed alone and it says so.
    let empty = dir.path().join("no-bin");
    std::fs::create_dir(&empty).unwrap();
    let out = Command::new("bash")
        .arg(repo().join("ffi/install.sh"))
        .arg(dir.path().join("prefix2"))
        .env("PASSCODE_NO_BUILD", "1")
        .env("PASSCODE_LIB_DIR", &lib)
        .env("PASSCODE_BIN_DIR", &empty)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not installed: the passcode command line"));
    assert!(!dir.path().join("prefix2/bin/passcode").exists());
}
