//! `passcode check`: loads a config as the engine and delivery load it (keys read and
//! checked, templates rendered against the SMS limits, the store's options and password read,
//! each sender built with its secrets, certificates and DKIM key) and reports what is in
//! force, where each value came from, and the choices an operator should look at twice.
//!
//! Nothing is contacted unless `--connect` asks for the store: a config can be checked on a
//! build machine that reaches neither Redis nor the providers.

use std::fmt::Write as _;

use passcode_core::config::StoreConfig;
use passcode_core::delivery_config::{DeliveryConfig, SecretSource, SmtpTls};
use passcode_core::message::MessagesConfig;
use passcode_core::policy::{SendBucket, COSTLY_NUMBER_TYPES};
use passcode_core::{Alphabet, Channel, Clock, Config, Engine, OsRandom, Policy, Purpose, Random, SystemClock};
use passcode_redis::{Deployment, NodeAddress, RedisOptions};
use serde_json::{json, Value};

use crate::args::CheckArgs;
use crate::output::{mask_url_user_info, Exit, Failure, Location, Redactor, Report};
use crate::source::{steps, ConfigFile};

/// A value in force, for the report.
struct Row {
    /// The dotted field.
    field: String,
    /// For `--json`.
    value: Value,
    /// For people.
    shown: String,
}

fn row(section: &str, name: &str, value: Value, shown: impl Into<String>) -> Row {
    Row { field: format!("{section}.{name}"), value, shown: shown.into() }
}

fn bucket(b: SendBucket) -> (Value, String) {
    (json!({ "max": b.max, "window_seconds": b.window_seconds }), format!("{} per {} s", b.max, b.window_seconds))
}

fn alphabet_name(a: Alphabet) -> &'static str {
    match a {
        Alphabet::Digits => "digits",
        Alphabet::Alphanumeric => "alphanumeric",
    }
}

/// Every `[policy]` field (a test holds this list to the engine's).
fn policy_rows(p: &Policy) -> Vec<Row> {
    let n = |name: &str, v: u64, unit: &str| row("policy", name, json!(v), format!("{v}{unit}"));
    let b = |name: &str, v: SendBucket| {
        let (value, shown) = bucket(v);
        row("policy", name, value, shown)
    };
    let countries = &p.sms_countries;
    let types = &p.sms_number_types;
    let list = |l: &[String]| if l.is_empty() { "none".to_string() } else { l.join(", ") };
    let every = |l: &[String], what: &str| if l.is_empty() { format!("every {what}") } else { list(l) };
    let tenant = p.tenant_sends.map_or((Value::Null, "none".to_string()), bucket);
    let region = p.sms_default_region.as_deref();
    vec![
        n("code_length", p.code_length.into(), ""),
        row("policy", "alphabet", json!(alphabet_name(p.alphabet)), alphabet_name(p.alphabet)),
        n("lifetime_seconds", p.lifetime_seconds, " s"),
        n("email_confirmation_lifetime_seconds", p.email_confirmation_lifetime_seconds, " s"),
        n("max_attempts", p.max_attempts.into(), ""),
        n("lockout_threshold", p.lockout_threshold.into(), " failures"),
        n("lockout_base_seconds", p.lockout_base_seconds, " s"),
        n("lockout_max_seconds", p.lockout_max_seconds, " s"),
        n("hard_lock_failures", p.hard_lock_failures.into(), " failures"),
        b("failure_budget", p.failure_budget),
        n("failure_record_seconds", p.failure_record_seconds, " s after the last failure"),
        n("resend_cooldown_seconds", p.resend_cooldown_seconds, " s"),
        b("subject_sends", p.subject_sends),
        b("client_sends", p.client_sends),
        b("client_network_sends", p.client_network_sends),
        b("country_sends", p.country_sends),
        row("policy", "tenant_sends", tenant.0, tenant.1),
        row(
            "policy",
            "sms_countries",
            json!({ "allow": countries.allow, "deny": countries.deny }),
            format!("allow {}, deny {}", every(&countries.allow, "country"), list(&countries.deny)),
        ),
        row(
            "policy",
            "sms_number_types",
            json!({ "allow": types.allow, "deny": types.deny }),
            format!("allow {}, deny {}", every(&types.allow, "type"), list(&types.deny)),
        ),
        row(
            "policy",
            "sms_default_region",
            json!(region),
            region.map_or("none: every number starts with +".to_string(), |r| format!("{r} (national numbers)")),
        ),
        row("policy", "email_second_factor", json!(p.email_second_factor), p.email_second_factor.to_string()),
    ]
}

/// Every `[messages]` field.
fn messages_rows(m: &MessagesConfig) -> Vec<Row> {
    let text = |name: &str, v: &Option<String>| {
        row("messages", name, json!(v), v.as_ref().map_or("none".to_string(), |s| format!("{s:?}")))
    };
    let names: Vec<String> = m
        .templates
        .iter()
        .map(|t| format!("{}/{}/{}", t.locale, t.channel, t.purpose.as_deref().unwrap_or("*")))
        .collect();
    vec![
        row("messages", "app_name", json!(m.app_name), format!("{:?}", m.app_name)),
        text("domain", &m.domain),
        text("embedded_domain", &m.embedded_domain),
        text("android_app_hash", &m.android_app_hash),
        row("messages", "sms_max_segments", json!(m.sms_max_segments), m.sms_max_segments.to_string()),
        row("messages", "code_in_email_subject", json!(m.code_in_email_subject), m.code_in_email_subject.to_string()),
        row("messages", "default_locale", json!(m.default_locale), format!("{:?}", m.default_locale)),
        row(
            "messages",
            "templates",
            json!(names),
            if names.is_empty() { "built-in English only".to_string() } else { names.join(", ") },
        ),
    ]
}

/// Every `[delivery]` field but the senders, which are described on their own.
fn delivery_rows(d: &DeliveryConfig) -> Vec<Row> {
    let n = |name: &str, v: u64, unit: &str| row("delivery", name, json!(v), format!("{v}{unit}"));
    let route = d.sms_route();
    vec![
        row("delivery", "production", json!(d.production), d.production.to_string()),
        n("queue_capacity", d.queue_capacity.into(), " messages"),
        n("workers", d.workers.into(), " threads"),
        n("max_attempts", d.max_attempts.into(), " per sender"),
        n("backoff_base_ms", d.backoff_base_ms, " ms"),
        n("backoff_max_ms", d.backoff_max_ms, " ms"),
        n("deadline_ms", d.deadline_ms, " ms"),
        n("shutdown_ms", d.shutdown_ms, " ms"),
        row(
            "delivery",
            "sms_route",
            json!(route),
            if route.is_empty() { "none".to_string() } else { route.join(" -> ") },
        ),
    ]
}

fn secret_shown(s: &SecretSource) -> String {
    match s {
        SecretSource::Env(name) => format!("from ${name}"),
        SecretSource::File(path) => format!("from file {path}"),
    }
}

/// The senders, each as the name the route uses and a description without any secret.
fn senders(d: &DeliveryConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(e) = &d.email {
        let tls = match e.tls {
            SmtpTls::Starttls => "STARTTLS",
            SmtpTls::Implicit => "implicit TLS",
            SmtpTls::None => "no TLS (loopback relay)",
        };
        let auth = match (&e.username, e.password().ok().flatten()) {
            (Some(u), Some(s)) => format!("AUTH as {u:?}, password {}", secret_shown(&s)),
            _ => "no AUTH".into(),
        };
        let dkim = e.dkim.as_ref().map_or("no DKIM".to_string(), |k| {
            format!("DKIM {}._domainkey.{} (key file {})", k.selector, k.domain, k.key_file)
        });
        out.push(("email", format!("SMTP {}:{}, {tls}, from {:?}, {auth}, {dkim}", e.host, e.port(), e.from)));
    }
    for (name, s) in [("sms", &d.sms), ("sms_fallback", &d.sms_fallback)] {
        if let Some(s) = s {
            let from = match (&s.from, &s.messaging_service_sid) {
                (Some(f), _) => format!("from {f}"),
                (None, Some(m)) => format!("messaging service {m}"),
                _ => String::new(),
            };
            let token = s.auth_token(name).map(|t| secret_shown(&t)).unwrap_or_default();
            out.push((
                name,
                format!("Messages API {}, account {}, {from}, token {token}", s.base_url(), s.account_sid),
            ));
        }
    }
    if let Some(w) = &d.webhook {
        let secret = w.secret().map(|s| secret_shown(&s)).unwrap_or_default();
        let code = if w.include_code { ", sends the code itself too" } else { "" };
        out.push(("webhook", format!("signed webhook {}, secret {secret}{code}", mask_url_user_info(&w.url))));
    }
    if let Some(o) = &d.outbox {
        out.push(("outbox", format!("DEVELOPMENT ONLY: files in {} (nothing is sent)", o.dir)));
    }
    out
}

/// A shared store's deployment: its kind, a line for people, whether it uses TLS, and the
/// hosts it reaches (none for a Unix socket).
fn deployment(options: &RedisOptions) -> (&'static str, String, bool, Vec<String>) {
    let with_tls = |tls: bool| if tls { " (TLS)" } else { "" };
    let authorities = |nodes: &[NodeAddress]| nodes.iter().map(NodeAddress::authority).collect::<Vec<_>>().join(", ");
    let hosts = |nodes: &[NodeAddress]| nodes.iter().map(|n| n.host.clone()).collect();
    match &options.deployment {
        Deployment::Server { url } => {
            let tls = url.starts_with("rediss://");
            let local = url.starts_with("redis+unix://") || url.starts_with("unix://");
            let hosts = if local { Vec::new() } else { vec![store_host(url).to_string()] };
            ("redis", format!("redis: {}{}", mask_url_user_info(url), with_tls(tls)), tls, hosts)
        }
        Deployment::Sentinel { sentinels, master_name, sentinel_username, sentinel_password, tls } => {
            let auth = match (sentinel_username, sentinel_password) {
                (Some(u), _) => format!("as {u:?}"),
                (None, Some(_)) => "with a password".to_string(),
                (None, None) => "without AUTH".to_string(),
            };
            let line = format!(
                "redis sentinel: the primary {master_name:?} as {} name it{} (sentinels {auth})",
                authorities(sentinels),
                with_tls(*tls)
            );
            ("redis-sentinel", line, *tls, hosts(sentinels))
        }
        Deployment::Cluster { seeds, tls } => (
            "redis-cluster",
            format!("redis cluster: from {}{}", authorities(seeds), with_tls(*tls)),
            *tls,
            hosts(seeds),
        ),
    }
}

/// The store in force, its options read as the store crate reads them (the password too).
fn store_report(file: &ConfigFile, store: &StoreConfig) -> Result<(Value, Vec<String>), Failure> {
    if store.is_memory() {
        let line = "memory: in each engine's process (counts and locks are per process and end with it)".to_string();
        return Ok((json!({ "kind": "memory" }), vec![line]));
    }
    let options = RedisOptions::from_config(store).map_err(|e| file.failure(&e))?;
    let (kind, line, tls, _) = deployment(&options);
    let password = match (&store.password_env, &store.password_file) {
        (Some(name), _) => format!("from ${name}"),
        (_, Some(path)) => format!("from file {path}"),
        _ if store_addresses(store).any(|a| mask_url_user_info(a) != *a) => "in the URL".to_string(),
        _ => "none".to_string(),
    };
    let default = |field: &str| if file.is_set(&format!("store.{field}")) { "" } else { " (default)" };
    let lines = vec![
        line.clone(),
        format!(
            "prefix {:?}{}, pool {}{}, connect {} ms{}, command {} ms{}",
            options.prefix,
            default("prefix"),
            options.pool_size,
            default("pool_size"),
            options.connect_timeout.as_millis(),
            default("connect_timeout_ms"),
            options.command_timeout.as_millis(),
            default("command_timeout_ms"),
        ),
        format!(
            "user {}, password {password}, wait for {} replicas",
            options.username.as_deref().map_or("none".to_string(), |u| format!("{u:?}")),
            options.wait_replicas
        ),
    ];
    let value = json!({
        "kind": kind,
        "deployment": line,
        "tls": tls,
        "prefix": options.prefix,
        "pool_size": options.pool_size,
        "connect_timeout_ms": options.connect_timeout.as_millis() as u64,
        "command_timeout_ms": options.command_timeout.as_millis() as u64,
        "username": options.username,
        "password": password,
        "wait_replicas": options.wait_replicas,
        "wait_timeout_ms": options.wait_timeout.as_millis() as u64,
    });
    Ok((value, lines))
}

/// Every address the store config names: its URL, its sentinels, its cluster seeds.
fn store_addresses(store: &StoreConfig) -> impl Iterator<Item = &String> {
    std::iter::once(&store.url).chain(store.sentinels.iter().flatten()).chain(store.cluster.iter().flatten())
}

/// The ring: each key's id, where it is read from, and its roles.
fn keys_report(config: &Config) -> (Value, Vec<String>) {
    let ring = &config.keys.ring;
    if ring.is_empty() {
        let line = if config.keys.ephemeral {
            "none, ephemeral = true: a random key for this engine only, even on a store the host gives it (tests only)"
        } else {
            "none: a random key for this process only (tokens and records die with it); an engine given a store by \
             its host refuses to start"
        };
        return (json!([]), vec![line.to_string()]);
    }
    let active = config.keys.active.or(ring.last().map(|k| k.id));
    let index = config.keys.index.or(ring.first().map(|k| k.id));
    let mut values = Vec::new();
    let mut lines = Vec::new();
    for k in ring {
        let (source, place) = match (&k.file, &k.env) {
            (Some(f), _) => ("file", f.clone()),
            (_, Some(e)) => ("env", e.clone()),
            _ => ("none", String::new()),
        };
        let mut roles = Vec::new();
        if active == Some(k.id) {
            roles.push("active");
        }
        if index == Some(k.id) {
            roles.push("index");
        }
        if k.index_only {
            roles.push("index only: verifies nothing");
        }
        let shown = if source == "env" { format!("${place}") } else { place.clone() };
        let roles_shown = if roles.is_empty() { "verifies only".to_string() } else { roles.join(", ") };
        lines.push(format!("id {}: {source} {shown} ({roles_shown})", k.id));
        values.push(json!({ "id": k.id, "source": source, "from": place, "roles": roles }));
    }
    (json!(values), lines)
}

/// What the failure rules add up to (S11, S13): the consecutive cap, the budget a success does
/// not clear, the chance it leaves an attacker per window, and how long failures are kept.
fn guessing_report(p: &Policy) -> (Value, Vec<String>) {
    let budget = p.failure_budget;
    let chance = guess_chance(p);
    let codes = match p.alphabet {
        Alphabet::Digits => format!("{}-digit codes", p.code_length),
        Alphabet::Alphanumeric => format!("{}-character alphanumeric codes", p.code_length),
    };
    let lines = vec![
        format!(
            "at most {} wrong guesses per subject in any {} (a success does not clear them), and {} in a row; \
             a chance of at most {chance:.1e} per window with {codes} (S13)",
            budget.max,
            crate::time::span(budget.window_seconds),
            p.hard_lock_failures,
        ),
        format!(
            "a subject's failures are kept {} after its last one; a hard lock ends then unless an operator \
             unlocks it sooner",
            crate::time::span(p.failure_record_seconds)
        ),
    ];
    let value = json!({
        "budget": budget.max, "window_seconds": budget.window_seconds, "consecutive": p.hard_lock_failures,
        "chance_per_window": chance, "failure_record_seconds": p.failure_record_seconds,
    });
    (value, lines)
}

/// An attacker's chance per budget window: the most wrong guesses evaluated in a window
/// (the budget, whatever the consecutive cap and the successes in between) over the number
/// of codes.
fn guess_chance(p: &Policy) -> f64 {
    let symbols = p.alphabet.symbols().len() as f64;
    f64::from(p.failure_budget.max) / symbols.powi(i32::from(p.code_length))
}

/// A choice worth a second look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// A stable id, for scripts that accept some.
    pub id: &'static str,
    /// The field it is about.
    pub field: String,
    /// What to look at, and why.
    pub message: String,
}

fn warn(id: &'static str, field: impl Into<String>, message: impl Into<String>) -> Warning {
    Warning { id, field: field.into(), message: message.into() }
}

/// Whether the key file can be read by others than its owner.
#[cfg(unix)]
fn readable_by_others(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_: &str) -> bool {
    false
}

fn store_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    }
}

/// The weak or surprising choices of a config that loads.
pub fn warnings(config: &Config) -> Vec<Warning> {
    let p = &config.policy;
    let d = &config.delivery;
    let mut w = Vec::new();
    if p.email_second_factor {
        w.push(warn(
            "email-second-factor",
            "policy.email_second_factor",
            "email codes may be used as a second factor, but email is not an out-of-band authenticator at AAL2 \
             (NIST SP 800-63B rev4 3.1.3.1): set it to false where a second factor must meet AAL2",
        ));
    }
    if let Some(longest) = Purpose::ALL.iter().map(|purpose| p.lifetime(Channel::Sms, *purpose)).max() {
        if longest > 600 {
            w.push(warn(
                "sms-lifetime",
                "policy.lifetime_seconds",
                format!("SMS codes live {longest} s, over the 10 minutes NIST SP 800-63B allows (S4)"),
            ));
        }
    }
    if p.hard_lock_failures > 100 {
        w.push(warn(
            "failure-cap",
            "policy.hard_lock_failures",
            format!(
                "{} failures before the hard lock: over the 100 NIST SP 800-63B rev4 3.2.2 allows (S11)",
                p.hard_lock_failures
            ),
        ));
    }
    if p.resend_cooldown_seconds == 0 {
        w.push(warn(
            "no-resend-cooldown",
            "policy.resend_cooldown_seconds",
            "no wait between two sends: only the send buckets stop a script from draining them (and your SMS budget)",
        ));
    }
    if config.messages.code_in_email_subject {
        w.push(warn(
            "code-in-email-subject",
            "messages.code_in_email_subject",
            "the code is in the email's subject, so it shows in inbox lists and on locked phones' notifications",
        ));
    }
    let sms_senders = d.sms_route();
    if !sms_senders.is_empty() && p.sms_countries.allow.is_empty() {
        w.push(warn(
            "sms-every-country",
            "policy.sms_countries",
            "SMS may go to every country: list the calling codes you serve in policy.sms_countries.allow \
             (SMS pumping sends paid messages to premium numbers abroad)",
        ));
    }
    if let Some(o) = &d.outbox {
        let production_like = !config.store.is_memory() || d.email.is_some() || !sms_senders.is_empty();
        let why = if production_like {
            "with a shared store or real senders beside it, this looks like a production config: "
        } else {
            ""
        };
        w.push(warn(
            "outbox",
            "delivery.outbox",
            format!(
                "DEVELOPMENT ONLY: codes are written in clear to {} and nothing is sent; {why}a production config \
                 sets delivery.production = true, which refuses the outbox",
                o.dir
            ),
        ));
    }
    if d.production && config.store.is_memory() {
        w.push(warn(
            "memory-store-in-production",
            "store",
            "a production config on the memory store: each process keeps its own failure counts, so each node \
             (and each restart) gives an attacker a fresh guess budget; use a shared store (redis://)",
        ));
    }
    if config.keys.ephemeral {
        w.push(warn(
            "ephemeral-key-for-tests",
            "keys.ephemeral",
            "a throwaway key even on a store the host gives the engine: for tests only; each engine counts failures \
             on its own (two on one store give an attacker two budgets), and a restart resets the counts and locks",
        ));
    } else if config.keys.ring.is_empty() {
        let production = if d.production { "a production config without keys: " } else { "no keys: " };
        w.push(warn(
            "ephemeral-key",
            "keys.ring",
            format!(
                "{production}every restart makes a new key, so codes and tokens in flight stop working and each \
                 process counts failures on its own; an engine given its store by the host (the Rust builder, the \
                 C ABI's store callbacks, the component's imported store) refuses to start; add keys from files \
                 or environment variables (passcode keygen)"
            ),
        ));
    }
    let chance = guess_chance(p);
    if chance > 1e-4 {
        w.push(warn(
            "guess-chance",
            "policy.failure_budget",
            format!(
                "an attacker's chance per failure budget window is {chance:.1e}, over the 1e-4 of S13 \
                 (failure_budget.max / codes)"
            ),
        ));
    }
    let costly: Vec<&str> =
        COSTLY_NUMBER_TYPES.iter().filter(|t| p.sms_number_types.allows(**t)).map(|t| t.name()).collect();
    if !costly.is_empty() {
        w.push(warn(
            "sms-costly-types",
            "policy.sms_number_types",
            format!(
                "SMS may go to {} numbers, which cost the sender or reach no person's phone (SMS pumping pays \
                 out through them); a configured deny list replaces the default one, so name them in yours",
                costly.join(", ")
            ),
        ));
    }
    if !config.store.is_memory() {
        if store_addresses(&config.store).any(|a| mask_url_user_info(a) != *a) {
            w.push(warn(
                "store-password-in-url",
                "store",
                "the store's URL carries a password: URLs travel (process lists, shell history, config dumps); \
                 use store.password_env or store.password_file",
            ));
        }
        // The options are read again here (check has read them once without error).
        if let Ok(options) = RedisOptions::from_config(&config.store) {
            let (_, _, tls, hosts) = deployment(&options);
            if !tls && hosts.iter().any(|h| !passcode_core::delivery_config::is_loopback_host(h)) {
                w.push(warn(
                    "store-without-tls",
                    "store",
                    "the store is on another machine without TLS: records and the password cross the network in \
                     clear; use rediss:// (for each sentinel or cluster node too)",
                ));
            }
        }
    }
    for k in &config.keys.ring {
        if let Some(path) = &k.file {
            if readable_by_others(path) {
                w.push(warn(
                    "key-file-mode",
                    format!("keys.ring (id = {})", k.id),
                    format!("the key file {path} can be read by its group or others: chmod 600 it"),
                ));
            }
        }
    }
    w
}

/// Where a warning's field is: its own line, or none when it is a default.
fn warning_location(file: &ConfigFile, w: &Warning) -> Option<Location> {
    match w.field.strip_prefix("keys.ring (id = ").and_then(|r| r.strip_suffix(')')) {
        Some(id) => id.parse().ok().and_then(|id| file.locate(&crate::source::ring_key(id))),
        None => file.locate(&steps(&w.field)),
    }
}

/// Opens the store and reads one key nobody writes: the network, TLS and credentials at once.
fn probe_store(file: &ConfigFile, config: &Config) -> Result<String, Failure> {
    let Some(store) = passcode_redis::store_for(config).map_err(|e| file.failure(&e))? else {
        return Ok("the memory store is inside each engine's process: nothing to connect to".into());
    };
    let mut key = [0u8; 32];
    OsRandom.fill(&mut key).map_err(|e| file.failure(&e))?;
    let started = std::time::Instant::now();
    store
        .get(&key, SystemClock.now())
        .map_err(|e| file.failure(&passcode_core::Error::StoreUnavailable { message: e.0 }))?;
    Ok(format!("the store answered a read in {} ms", started.elapsed().as_millis()))
}

/// Runs `check`.
pub fn run(args: &CheckArgs, redactor: &mut Redactor) -> Result<Report, Failure> {
    let file = ConfigFile::read(&args.config, redactor)?;
    let config = file.parse()?;

    // The engine's own load (keys read and checked, templates against the SMS limits), on
    // the memory store: a shared store is opened only with --connect.
    let mut engine_config = config.clone();
    engine_config.store = StoreConfig::memory();
    Engine::from_config(&engine_config).map_err(|e| file.failure(&e))?;
    let (store_value, store_lines) = store_report(&file, &config.store)?;

    // Delivery's own load: every sender built (secrets read, certificates and DKIM keys
    // parsed), except that the outbox's folder is checked, not created.
    let mut delivery = config.delivery.clone();
    let outbox = delivery.outbox.take();
    passcode_delivery::Routes::from_config(&delivery).map_err(|e| file.delivery_failure(&e))?;
    if let Some(o) = &outbox {
        let dir = std::path::Path::new(&o.dir);
        if dir.exists() && !dir.is_dir() {
            let e = passcode_core::Error::PolicyOutOfBounds {
                field: "delivery.outbox.dir",
                reason: "names a file, not a folder".into(),
            };
            return Err(file.failure(&e));
        }
    }
    let probe = if args.connect { Some(probe_store(&file, &config)?) } else { None };

    let (keys_value, key_lines) = keys_report(&config);
    let (guessing_value, guessing_lines) = guessing_report(&config.policy);
    let sections = [
        ("policy", policy_rows(&config.policy)),
        ("messages", messages_rows(&config.messages)),
        ("delivery", delivery_rows(&config.delivery)),
    ];
    let senders = senders(&config.delivery);
    let warnings = warnings(&config);

    let mut human = String::new();
    let tenant_from = if file.is_set("tenant") { "file" } else { "default" };
    let _ = writeln!(
        human,
        "{}: the config loads as the engine loads it (tenant {:?}, {tenant_from})",
        file.name, config.tenant
    );
    if let Some(n) = file.gateway_options {
        let _ = writeln!(
            human,
            "[gateway]: {n} option(s) for the gateway, set aside here (passcode-envoy-filter checks them when it starts)"
        );
    }
    let _ = writeln!(human, "\nstore");
    for l in store_lines.iter().chain(&probe) {
        let _ = writeln!(human, "  {l}");
    }
    let _ = writeln!(human, "\nkeys");
    for l in &key_lines {
        let _ = writeln!(human, "  {l}");
    }
    let _ = writeln!(human, "\nguessing");
    for l in &guessing_lines {
        let _ = writeln!(human, "  {l}");
    }
    let mut json_sections = serde_json::Map::new();
    for (name, rows) in &sections {
        let _ = writeln!(human, "\n{name}");
        let mut values = Vec::new();
        for r in rows {
            let from = if file.is_set(&r.field) { "file" } else { "default" };
            let short = r.field.split_once('.').map_or(r.field.as_str(), |(_, f)| f);
            let _ = writeln!(human, "  {short:<38} {from:<8} {}", r.shown);
            values.push(json!({ "field": r.field, "value": r.value, "from": from }));
        }
        json_sections.insert(name.to_string(), json!(values));
    }
    let _ = writeln!(human, "\nsenders");
    if senders.is_empty() {
        let _ = writeln!(human, "  none: the host delivers messages itself (or nothing is delivered)");
    }
    for (name, description) in &senders {
        let _ = writeln!(human, "  {name:<13} {description}");
    }
    // The outbox serves each channel that has no other sender.
    let fallback = if outbox.is_some() { "outbox" } else { "none" };
    let email_route = if config.delivery.email.is_some() { "email" } else { fallback };
    let sms_route = config.delivery.sms_route();
    let sms_route = if sms_route.is_empty() { fallback.to_string() } else { sms_route.join(" -> ") };
    let _ = writeln!(human, "  email goes to: {email_route}; SMS goes to: {sms_route}");
    let located: Vec<(Warning, Option<Location>)> =
        warnings.iter().map(|w| (w.clone(), warning_location(&file, w))).collect();
    if located.is_empty() {
        let _ = writeln!(human, "\nno warnings");
    } else {
        let _ = writeln!(human, "\nwarnings ({})", located.len());
        for (w, at) in &located {
            let place = match at {
                Some(l) => format!("{}:{}", file.name, l.line),
                None => format!("{} (default)", file.name),
            };
            let _ = writeln!(human, "  {place}: {}: {} [{}]", w.field, w.message, w.id);
        }
    }
    let exit = if args.strict && !warnings.is_empty() { Exit::Warnings } else { Exit::Ok };
    let _ = writeln!(
        human,
        "\n{}",
        match exit {
            Exit::Warnings => "refused by --strict: the config loads but has warnings (exit 4)",
            _ => "ok",
        }
    );

    let json = json!({
        "ok": exit == Exit::Ok,
        "file": file.name,
        "tenant": { "value": config.tenant, "from": tenant_from },
        "gateway_options": file.gateway_options,
        "store": store_value,
        "store_probe": probe,
        "keys": keys_value,
        "guessing": guessing_value,
        "policy": json_sections["policy"],
        "messages": json_sections["messages"],
        "delivery": json_sections["delivery"],
        "senders": senders.iter().map(|(n, d)| json!({ "name": n, "description": d })).collect::<Vec<_>>(),
        "warnings": located.iter().map(|(w, at)| json!({
            "id": w.id, "field": w.field, "message": w.message, "line": at.map(|l| l.line),
        })).collect::<Vec<_>>(),
    });
    Ok(Report { human, json, exit })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields serde expects in a section, from its own "unknown field" message.
    fn expected_fields(section: &str) -> Vec<String> {
        let e = toml::from_str::<Config>(&format!("[{section}]\nno_such_field = 1")).unwrap_err();
        let message = e.message().to_string();
        let list = message.split("expected one of ").nth(1).expect("a list of fields");
        list.split(", ").map(|f| f.trim_matches(|c| c == '`' || c == ' ').to_string()).collect()
    }

    fn names(rows: &[Row]) -> Vec<String> {
        rows.iter().map(|r| r.field.split_once('.').unwrap().1.to_string()).collect()
    }

    #[test]
    fn every_policy_and_messages_field_is_reported() {
        assert_eq!(names(&policy_rows(&Policy::default())), expected_fields("policy"));
        assert_eq!(names(&messages_rows(&MessagesConfig::default())), expected_fields("messages"));
        let mut delivery: Vec<String> = names(&delivery_rows(&DeliveryConfig::default()));
        delivery.extend(["email", "sms", "sms_fallback", "webhook", "outbox"].map(String::from));
        assert_eq!(delivery, expected_fields("delivery"), "the senders are reported on their own");
    }

    #[test]
    fn out_of_bounds_policies_are_warned_about() {
        // A file cannot hold these (the engine refuses them at load); a host that builds its
        // policy in code can, and `warnings` must still catch them.
        let policy = Policy { lifetime_seconds: 900, hard_lock_failures: 500, ..Policy::default() };
        let mut config = Config { policy: policy.build_noncompliant(), ..Config::default() };
        let ids: Vec<&str> = warnings(&config).iter().map(|w| w.id).collect();
        assert!(ids.contains(&"sms-lifetime") && ids.contains(&"failure-cap"), "{ids:?}");
        let budget = SendBucket { max: 1000, window_seconds: 86_400 };
        config.policy = Policy { failure_budget: budget, email_second_factor: false, ..Policy::default() };
        let ids: Vec<&str> = warnings(&config).iter().map(|w| w.id).collect();
        assert!(ids.contains(&"guess-chance"), "1000 / 1e6 per window is over S13's 1e-4: {ids:?}");

        config.keys.ring =
            vec![passcode_core::config::KeySource { id: 1, file: Some("key1".into()), env: None, index_only: false }];
        config.policy = Policy { email_second_factor: false, ..Policy::default() };
        assert!(warnings(&config).is_empty(), "the defaults with a key ring and AAL2 email are quiet");
    }

    #[test]
    fn keys_and_costly_number_types_are_warned_about() {
        let ids = |config: &Config| warnings(config).iter().map(|w| w.id).collect::<Vec<_>>();
        let quiet = Policy { email_second_factor: false, ..Policy::default() };
        let mut config = Config { policy: quiet.clone(), ..Config::default() };
        assert_eq!(ids(&config), ["ephemeral-key"], "no keys: a host's store would refuse them");
        config.keys.ephemeral = true;
        assert_eq!(ids(&config), ["ephemeral-key-for-tests"]);

        // A deny list of its own replaces the costly types' default.
        let types = passcode_core::NumberTypeRules { allow: Vec::new(), deny: vec!["voip".into()] };
        config.policy = Policy { sms_number_types: types, ..quiet };
        let w = warnings(&config);
        let costly = w.iter().find(|w| w.id == "sms-costly-types").expect("a warning for the costly types");
        assert!(costly.message.contains("premium-rate") && costly.message.contains("toll-free"), "{}", costly.message);
        assert_eq!(costly.field, "policy.sms_number_types");
    }

    #[test]
    fn the_guessing_bound_is_reported() {
        let (value, lines) = guessing_report(&Policy::default());
        assert_eq!(value["chance_per_window"], 1e-4);
        assert!(lines[0].starts_with("at most 100 wrong guesses per subject in any 30 d"), "{}", lines[0]);
        assert!(lines[0].contains("a chance of at most 1.0e-4 per window with 6-digit codes (S13)"), "{}", lines[0]);
    }

    #[test]
    fn store_hosts_are_read_from_urls() {
        assert_eq!(store_host("redis://:pw@10.0.0.5:6379/0"), "10.0.0.5");
        assert_eq!(store_host("redis://127.0.0.1"), "127.0.0.1");
        assert_eq!(store_host("redis://[::1]:6379"), "::1");
        assert_eq!(store_host("redis://cache.internal/2"), "cache.internal");
    }
}
