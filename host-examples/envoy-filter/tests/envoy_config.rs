//! `envoy.yaml` against Envoy's own v3 API: parsed into `Bootstrap` by the PyPI package
//! `envoy-data-plane` (Envoy's protos as Python classes), which refuses unknown fields and
//! reports deprecated ones. Envoy itself cannot be installed here; its API can.

mod support;

use std::path::Path;

use serde_json::Value;

/// Parses a config file: the deprecation lines and the Bootstrap, or the parser's error.
fn check(path: &Path) -> Result<(Vec<String>, Value), String> {
    let out = std::process::Command::new(support::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_envoy_config.py"))
        .arg(path)
        .output()
        .expect("run python");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let deprecated = text.lines().filter(|l| l.starts_with("deprecated:")).map(String::from).collect();
    let bootstrap = text.lines().find_map(|l| l.strip_prefix("bootstrap: ")).expect("the parsed Bootstrap");
    Ok((deprecated, serde_json::from_str(bootstrap).unwrap()))
}

#[test]
fn envoy_yaml_is_a_valid_v3_bootstrap_without_deprecated_fields() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("envoy.yaml");
    let (deprecated, bootstrap) = check(&path).unwrap_or_else(|e| panic!("envoy.yaml does not parse: {e}"));
    assert!(deprecated.is_empty(), "{deprecated:?}");
    let hcm = &bootstrap["staticResources"]["listeners"][0]["filterChains"][0]["filters"][0]["typedConfig"];
    assert_eq!(hcm["useRemoteAddress"], true, "Envoy appends the address it saw to X-Forwarded-For");
    assert!(hcm["xffNumTrustedHops"].is_null() || hcm["xffNumTrustedHops"] == 0, "Envoy trusts no client entry");
    assert_eq!(hcm["commonHttpProtocolOptions"]["headersWithUnderscoresAction"], "REJECT_REQUEST");
    let authz = &hcm["httpFilters"][0]["typedConfig"];
    assert_eq!(authz["@type"], "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz");
    let allowed: Vec<&str> =
        authz["allowedHeaders"]["patterns"].as_array().unwrap().iter().map(|p| p["exact"].as_str().unwrap()).collect();
    assert_eq!(allowed, ["cookie", "origin", "sec-fetch-site"], "what the gateway's check reads");
    assert_eq!(authz["httpService"]["pathPrefix"], "/ext_authz");
    assert!(authz["httpService"]["authorizationRequest"].is_null(), "the deprecated place is empty");
}

#[test]
fn the_checker_refuses_unknown_fields_and_reports_deprecated_ones() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("envoy.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An unknown field inside a typed_config (the HTTP connection manager) is refused.
    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(
        &unknown,
        text.replace("stat_prefix: ingress", "stat_prefix: ingress\n                use_remote_adress: true"),
    )
    .unwrap();
    let e = check(&unknown).expect_err("an unknown field is refused");
    assert!(e.contains("use_remote_adress"), "{e}");
    // The deprecated place of allowed_headers is reported.
    let old = dir.path().join("old.yaml");
    std::fs::write(
        &old,
        text.replace(
            "                        path_prefix: /ext_authz\n",
            "                        path_prefix: /ext_authz\n                        authorization_request:\n                          allowed_headers:\n                            patterns:\n                              - exact: cookie\n",
        ),
    )
    .unwrap();
    let (deprecated, _) = check(&old).unwrap();
    assert!(deprecated.iter().any(|d| d.contains("allowed_headers")), "{deprecated:?}");
}
