//! Two gateways (two nodes) on one Redis, opened by the host from `--store`: a code requested
//! on one node verifies on the other, the session cookie works on both, and signing out on one
//! revokes it on both; `/readyz` follows Redis. The same on Redis Sentinel and Redis Cluster,
//! named by `redis+sentinel://` and `redis+cluster://` URLs.

mod support;

#[path = "../../../store-redis/tests/support/mod.rs"]
mod redis_support;

use redis_support::deployments::{ClusterDeployment, SentinelDeployment};
use redis_support::RedisServer;
use support::gateway;

#[test]
fn two_gateways_share_one_redis() {
    let redis = RedisServer::start();
    let key: String = (0u8..32).map(|i| format!("{:02x}", i.wrapping_mul(89).wrapping_add(17))).collect();
    let session = "a1".repeat(32);
    let configure = |c: &mut passcode_envoy_filter::gateway::GatewayConfig| {
        c.guest_env = vec![("PASSCODE_KEY_1".into(), key.clone())];
        c.session_key = passcode_envoy_filter::gateway::parse_hex32(&session).unwrap();
        c.store_url = Some(redis.url());
    };
    let (a, b) = (gateway(configure), gateway(configure));
    let (r, challenge) = a.start_email("jane@example.com");
    assert_eq!(r.status, 202, "{}", r.body);
    let code = a.code_for("jane@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let w = b.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{wrong}"}}"#));
    assert_eq!((w.status, w.json()["attempts_left"].as_u64()), (401, Some(4)), "{}", w.body);
    let v = b.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(v.status, 200, "{}", v.body);
    let again = a.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!((again.status, again.json()["error"].as_str()), (410, Some("not-found")), "used up on node b");
    let cookie = v.cookie_pair("passcode_session").unwrap();
    let home = a.send("GET", "/", &[("Cookie", &cookie), ("Accept", "text/html")], None);
    assert_eq!(home.status, 200);
    let keys: i64 = redis.query(&["DBSIZE"]);
    assert!(keys >= 1, "the records are in Redis");
}

#[test]
fn a_cookie_replayed_after_sign_out_is_refused_by_the_proxy_and_by_ext_authz_on_another_node() {
    let mut redis = RedisServer::start();
    let (a, b) = two_nodes(&redis.url());
    let (r, challenge) = a.start_email("jane@example.com");
    assert_eq!(r.status, 202, "{}", r.body);
    let code = a.code_for("jane@example.com");
    let v = a.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(v.status, 200, "{}", v.body);
    let session = v.cookie_pair("passcode_session").unwrap();
    let copy = session.clone();
    assert_eq!(b.send("GET", "/ext_authz/orders", &[("Cookie", &copy)], None).status, 200, "valid on node b");

    let out = a.send("POST", "/passcode/signout", &[("Cookie", &session)], Some(""));
    assert_eq!(out.status, 303);
    for node in [&a, &b] {
        let proxy = node.send("GET", "/orders", &[("Cookie", &copy), ("Accept", "text/html")], None);
        assert_eq!((proxy.status, proxy.header("location")), (302, Some("/signin")), "the proxy refuses the copy");
    }
    let authz = b.send("GET", "/ext_authz/orders", &[("Cookie", &copy)], None);
    assert_eq!((authz.status, authz.json()["error"].as_str()), (401, Some("session-revoked")), "and so does node b");

    // Readiness follows the store: Redis gone, both nodes say not ready (and fail closed).
    assert_eq!(b.send("GET", "/readyz", &[], None).status, 204);
    redis.stop();
    let r = b.send("GET", "/readyz", &[], None);
    assert_eq!((r.status, r.json()["error"].as_str()), (503, Some("store-unavailable")));
    let again = sign_in_fails_closed(&a);
    assert_eq!(again, 503);
}

#[test]
fn ext_authz_forbids_a_live_session_whose_subject_is_no_longer_an_account() {
    // Sessions live in the store, so a node restarted with a shorter account list (same keys,
    // same Redis) still knows the session, and refuses its subject.
    let redis = RedisServer::start();
    let configure = |c: &mut passcode_envoy_filter::gateway::GatewayConfig| {
        c.session_key = [9; 32];
        c.guest_env =
            vec![("PASSCODE_KEY_1".into(), (0u8..32).map(|i| format!("{:02x}", i.wrapping_mul(71) ^ 0x3c)).collect())];
        c.store_url = Some(redis.url());
    };
    let g = gateway(configure);
    let (_, challenge) = g.start_email("bob@example.com");
    let code = g.code_for("bob@example.com");
    let session = g
        .post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#))
        .cookie_pair("passcode_session")
        .unwrap();
    drop(g);
    let g = gateway(|c| {
        configure(c);
        c.accounts = Some(vec!["jane@example.com".into()]);
    });
    let r = g.send("GET", "/ext_authz/x", &[("Cookie", &session)], None);
    assert_eq!((r.status, r.json()["error"].as_str()), (403, Some("not-allowed")));
}

/// A start while the store is down: the status.
fn sign_in_fails_closed(g: &support::TestGateway) -> u16 {
    g.start_email("jane@example.com").0.status
}

#[test]
fn an_unreachable_store_fails_the_start_with_a_clear_error() {
    let wasm = passcode_envoy_filter::host::require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let mut config = passcode_envoy_filter::gateway::GatewayConfig::development(wasm);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.store_url = Some(format!("redis://127.0.0.1:{}/0", redis_support::free_port()));
    let e = passcode_envoy_filter::gateway::Gateway::start(config).err().expect("refused");
    assert!(e.starts_with("the store: store unavailable"), "{e}");
}

/// Two gateways (nodes) on the store a `--store` URL names, with the same engine and session
/// keys, as every node sharing a store needs.
fn two_nodes(store_url: &str) -> (support::TestGateway, support::TestGateway) {
    let key: String = (0u8..32).map(|i| format!("{:02x}", i.wrapping_mul(31).wrapping_add(5))).collect();
    let configure = |c: &mut passcode_envoy_filter::gateway::GatewayConfig| {
        c.guest_env = vec![("PASSCODE_KEY_1".into(), key.clone())];
        c.session_key = [0x5a; 32];
        c.store_url = Some(store_url.to_string());
    };
    (gateway(configure), gateway(configure))
}

/// Two gateways on the deployment a `--store` URL names: a code issued on one verifies on the
/// other, and a sign-out on that one is seen by the first's proxy and ext_authz.
fn two_gateways_share(url: &str) {
    let (a, b) = two_nodes(url);
    assert_eq!(a.send("GET", "/readyz", &[], None).status, 204, "{url}");
    let (r, challenge) = a.start_email("jane@example.com");
    assert_eq!(r.status, 202, "{}", r.body);
    let code = a.code_for("jane@example.com");
    let v = b.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(v.status, 200, "{}", v.body);
    let session = v.cookie_pair("passcode_session").unwrap();
    assert_eq!(a.send("GET", "/ext_authz/orders", &[("Cookie", &session)], None).status, 200, "valid on node a");
    assert_eq!(b.send("POST", "/passcode/signout", &[("Cookie", &session)], Some("")).status, 303);
    let proxy = a.send("GET", "/orders", &[("Cookie", &session), ("Accept", "text/html")], None);
    assert_eq!((proxy.status, proxy.header("location")), (302, Some("/signin")));
    let authz = a.send("GET", "/ext_authz/orders", &[("Cookie", &session)], None);
    assert_eq!((authz.status, authz.json()["error"].as_str()), (401, Some("session-revoked")));
}

#[test]
fn gateways_share_a_sentinel_deployment_named_by_a_url() {
    let d = SentinelDeployment::start();
    let sentinels: Vec<String> = d.sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port)).collect();
    two_gateways_share(&format!("redis+sentinel://{}/{}", sentinels.join(","), SentinelDeployment::MASTER));
}

#[test]
fn gateways_share_a_cluster_named_by_a_url() {
    let d = ClusterDeployment::start();
    // Two seeds; the store finds the other nodes.
    two_gateways_share(&format!("redis+cluster://127.0.0.1:{},127.0.0.1:{}", d.nodes[0].port, d.nodes[3].port));
}
