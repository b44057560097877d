//! `passcode keygen` run as the operator runs it: the key file's mode, the refusal to
//! overwrite, a key the engine loads, and no key on a terminal.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{passcode, Run};

#[test]
fn keygen_writes_a_new_key_with_mode_0600_that_the_engine_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = passcode(dir.path(), &["keygen", "--out", "key1"]).expect(0);
    let path = dir.path().join("key1");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key file is the owner's alone");
    let key = std::fs::read_to_string(&path).unwrap();
    let hex = key.strip_suffix('\n').expect("one line");
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "32 bytes as hex");
    assert!(!out.all().contains(hex), "the key itself is never printed");

    // The lines it prints are a config the engine loads, key and all.
    let absolute = std::fs::canonicalize(&path).unwrap();
    assert!(out.stdout.contains(&format!("file = {:?}", absolute.display().to_string())), "{}", out.stdout);
    let toml: String = out.stdout.lines().skip_while(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("passcode.toml"), &toml).unwrap();
    let check = passcode(dir.path(), &["check", "--json", "passcode.toml"]).expect(0).json();
    assert_eq!(check["keys"][0]["id"], 1);
    assert_eq!(check["keys"][0]["source"], "file");

    let json = passcode(dir.path(), &["keygen", "--json", "--id", "2", "--out", "key2"]).expect(0).json();
    assert_eq!((json["id"].as_u64(), json["mode"].as_str()), (Some(2), Some("0600")));
    assert!(json["keys_toml"].as_str().unwrap().contains("id = 2"));
    assert_ne!(std::fs::read(dir.path().join("key2")).unwrap(), key.as_bytes(), "every key is new");
}

#[test]
fn keygen_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key1");
    std::fs::write(&path, "the old key\n").unwrap();
    let out = passcode(dir.path(), &["keygen", "--out", "key1"]).expect(1);
    assert!(out.stderr.contains("key1") && out.stderr.contains("never overwritten"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "the old key\n", "the file is untouched");
    let json = passcode(dir.path(), &["keygen", "--json", "--out", "key1"]).expect(1).json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"]["file"], "key1");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "the old key\n");
    passcode(dir.path(), &["keygen", "--out", "no/such/folder/key"]).expect(1);
    passcode(dir.path(), &["keygen", "--id", "0", "--out", "k"]).expect(2);
    assert!(!dir.path().join("k").exists(), "a refused command line writes nothing");
}

#[test]
fn keygen_without_out_writes_to_a_pipe_but_never_to_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let piped = passcode(dir.path(), &["keygen", "--id", "3", "--env", "MY_KEY"]).expect(0);
    let hex = piped.stdout.trim_end();
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "stdout carries the key alone");
    assert!(piped.stderr.contains("env = \"MY_KEY\"") && piped.stderr.contains("id = 3"), "{}", piped.stderr);

    // util-linux's `script` gives the command a terminal, as an operator's shell would.
    let cmd = format!("{} keygen", support::binary().display());
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("this test needs util-linux's `script` (Debian package bsdutils)");
    let run = Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let run = run.expect(2);
    assert!(run.stdout.contains("refusing to print a key to a terminal"), "{}", run.stdout);
    assert!(!run.stdout.lines().any(|l| l.trim().len() == 64 && l.trim().bytes().all(|b| b.is_ascii_hexdigit())));
}
