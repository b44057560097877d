//! The quick start's main job: the demo issues a code, shows the message, and accepts the code
//! typed back, refusing a wrong one first.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn demo_binary() -> std::path::PathBuf {
    // Integration tests live in target/<profile>/deps; cargo builds examples next to it.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = profile_dir.join("examples").join("demo");
    assert!(path.exists(), "the demo example was not built at {}", path.display());
    path
}

#[test]
fn demo_issues_shows_the_message_and_verifies_what_is_typed() {
    let mut child =
        Command::new(demo_binary()).arg("+14155552671").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let code = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "the demo ended early: {seen}");
        seen.push_str(&line);
        if let Some(code) = line.trim().strip_prefix("@localhost.example #") {
            break code.to_string();
        }
    };
    assert!(seen.contains("DEVELOPMENT ONLY"));
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    writeln!(stdin, "{wrong}\n{code}").unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("wrong code; 4 attempts left (error 3001)"), "{rest}");
    assert!(rest.contains("verified: +14155552671 by sms for sign-in"), "{rest}");
}
