//! Delivery throughput against real servers on loopback (started here): emails per second to
//! aiosmtpd through the connection pool against a new connection per message, through the
//! queue's workers, and SMS requests per second to the Messages API and webhook stand-in.
//!
//! `cargo bench -p passcode-delivery --bench delivery` (needs `scripts/setup`'s Python venv).
//! The servers are Python, so these figures measure this crate against them on one machine:
//! the ratio between pooled and unpooled SMTP is the figure that carries over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use passcode_core::{Config, Purpose};
use passcode_delivery::{Content, Delivery, DeliveryEventLog, Outgoing};
use passcode_test_servers::{ProviderServer, SmtpOptions, SmtpServer};
use zeroize::Zeroizing;

const MESSAGES: usize = 300;

fn email(i: usize) -> Outgoing {
    Outgoing::new(
        Purpose::SignIn,
        "00112233aabbccdd",
        &format!("bench{i}@example.org"),
        Content::Email {
            subject: Zeroizing::new("Your Passcode code".into()),
            text: Zeroizing::new("Your code is 123456. It expires in 10 minutes.".into()),
            html: Zeroizing::new("<p>Your code is 123456. It expires in 10 minutes.</p>".into()),
        },
        "123456",
    )
}

fn sms() -> Outgoing {
    Outgoing::new(
        Purpose::SignIn,
        "00112233aabbccdd",
        "+447400123456",
        Content::Sms { text: Zeroizing::new("123456 is your code.\n\n@login.example.com #123456".into()) },
        "123456",
    )
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Sends `MESSAGES` one after another on this thread.
fn sequential(delivery: &Delivery, make: impl Fn(usize) -> Outgoing) -> f64 {
    // One message first, so connection set-up and the server's first-request costs are not counted.
    delivery.send_now(&make(usize::MAX)).expect("warm-up");
    let start = Instant::now();
    for i in 0..MESSAGES {
        delivery.send_now(&make(i)).expect("sent");
    }
    per_second(MESSAGES, start.elapsed())
}

fn main() {
    let smtp = SmtpServer::start(SmtpOptions::default());
    let email_config = |pool: u32, workers: u32| {
        Config::parse(&format!(
            "[delivery]\nworkers = {workers}\nqueue_capacity = 10000\n[delivery.email]\nhost = \"127.0.0.1\"\n\
             port = {}\ntls = \"none\"\nfrom = \"Bench <bench@example.com>\"\npool_size = {pool}\n",
            smtp.port()
        ))
        .unwrap()
    };
    let pooled = sequential(&Delivery::from_config(&email_config(4, 1)).unwrap(), email);
    let unpooled = sequential(&Delivery::from_config(&email_config(0, 1)).unwrap(), email);

    // Through the queue: 4 workers, 4 pooled connections, until the server has them all.
    let before = smtp.messages().len();
    let log = Arc::new(DeliveryEventLog::default());
    let queued = Delivery::builder(&email_config(4, 4)).events(log).build().unwrap();
    let start = Instant::now();
    for i in 0..MESSAGES {
        queued.send(email(i)).expect("queued");
    }
    let report = queued.shutdown(Duration::from_secs(120));
    assert!(report.drained && report.abandoned == 0, "{report:?}");
    let through_queue = per_second(MESSAGES, start.elapsed());
    assert_eq!(smtp.messages().len(), before + MESSAGES, "every queued message arrived");

    let secret = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpBQkNERUY=".to_string();
    let provider = ProviderServer::start(&[("ACBENCH", "token")], Some(&secret));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "token").unwrap();
    std::fs::write(dir.path().join("whsec"), &secret).unwrap();
    let sms_config = Config::parse(&format!(
        "[delivery.sms]\nbase_url = {:?}\naccount_sid = \"ACBENCH\"\nauth_token_file = {:?}\nfrom = \"+15005550006\"\n",
        provider.base_url(),
        dir.path().join("token").display().to_string()
    ))
    .unwrap();
    let api = sequential(&Delivery::from_config(&sms_config).unwrap(), |_| sms());
    let hook_config = Config::parse(&format!(
        "[delivery.webhook]\nurl = {:?}\nsecret_file = {:?}\n",
        provider.webhook_url(),
        dir.path().join("whsec").display().to_string()
    ))
    .unwrap();
    let webhook = sequential(&Delivery::from_config(&hook_config).unwrap(), |_| sms());

    println!("delivery to servers on loopback ({MESSAGES} messages each)");
    println!("  email, pooled connection, 1 thread:        {pooled:>8.0} /s");
    println!("  email, new connection per message:         {unpooled:>8.0} /s  (pooled is {:.1}x)", pooled / unpooled);
    println!("  email, through the queue, 4 workers:       {through_queue:>8.0} /s");
    println!("  SMS, Messages API stand-in, 1 thread:      {api:>8.0} /s");
    println!("  SMS, signed webhook stand-in, 1 thread:    {webhook:>8.0} /s");
}
