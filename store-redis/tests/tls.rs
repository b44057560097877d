//! TLS: a `rediss://` store URL connects over TLS (rustls) and checks the server's
//! certificate against the trusted roots, here a test CA given by `SSL_CERT_FILE`.
//!
//! This file holds one test on purpose: it sets `SSL_CERT_FILE` for its whole process.
//! Certificates are made with the `openssl` command (Debian's package `openssl`).

mod support;

use std::path::Path;
use std::process::Command;

use passcode_core::{Channel, Config, IssueRequest, Purpose};
use support::{config_toml, free_port, KeyFile, RedisServer};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("the TLS test needs the `openssl` command (Debian package `openssl`): {e}"));
    assert!(status.success(), "openssl {args:?}");
}

fn make_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        dir,
        &[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Passcode test CA"],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat(),
    );
    // A second CA that signed nothing here: trusting only it must not let the server in.
    openssl(
        dir,
        &[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "other.key", "-out", "other.crt", "-days", "2", "-subj", "/CN=Other CA"],
        ]
        .concat(),
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[test]
fn rediss_connects_over_tls_and_checks_the_certificate() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let file = |n: &str| certs.path().join(n).to_str().unwrap().to_string();
    let tls_port = free_port();
    let server = RedisServer::start_with(&[
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &file("server.crt"),
        "--tls-key-file",
        &file("server.key"),
        "--tls-ca-cert-file",
        &file("ca.crt"),
        "--tls-auth-clients",
        "no",
    ]);
    let key = KeyFile::new();
    let url = format!("rediss://localhost:{tls_port}/0");
    let config = || Config::parse(&config_toml(&url, "tls:", "connect_timeout_ms = 500", &key.path, "")).unwrap();

    // Without the test CA among the trusted roots, the server's certificate is refused.
    std::env::set_var("SSL_CERT_FILE", file("other.crt"));
    let e = passcode_redis::open_engine(config()).unwrap_err();
    let passcode_core::Error::StoreUnavailable { message } = e else { panic!("an untrusted certificate: {e:?}") };
    assert!(message.contains("TLS handshake failed"), "{message}");

    std::env::set_var("SSL_CERT_FILE", file("ca.crt"));
    let engine = passcode_redis::open_engine(config()).expect("TLS with the test CA trusted");
    let issued = engine
        .issue(&IssueRequest {
            channel: Channel::Email,
            identifier: "jane@example.com",
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        })
        .unwrap();
    engine.verify(&issued.token, &issued.code).unwrap();
    // The store's connections are the ones on the TLS port.
    let clients: String = server.query(&["CLIENT", "LIST"]);
    assert!(clients.lines().any(|l| l.contains(&format!("laddr=127.0.0.1:{tls_port}"))), "{clients}");
}
