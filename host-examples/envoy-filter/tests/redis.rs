//! Two gateways (two nodes) on one Redis, opened by the host from `--store`: a code requested
//! on one node verifies on the other, and the session cookie works on both.

mod support;

#[path = "../../../store-redis/tests/support/mod.rs"]
mod redis_support;

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
fn an_unreachable_store_fails_the_start_with_a_clear_error() {
    let wasm = passcode_envoy_filter::host::require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let mut config = passcode_envoy_filter::gateway::GatewayConfig::development(wasm);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.store_url = Some(format!("redis://127.0.0.1:{}/0", redis_support::free_port()));
    let e = passcode_envoy_filter::gateway::Gateway::start(config).err().expect("refused");
    assert!(e.starts_with("the store: store unavailable"), "{e}");
}
