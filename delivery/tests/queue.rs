//! The queue off the request path: a full queue refuses at once and counts; a reserved place
//! given back is free again; shutdown drains within its bound and gives up the rest, each with
//! an event; a host's own sender takes the config's place.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use passcode_core::{Channel, Config, Purpose};
use passcode_delivery::{
    Content, Delivery, DeliveryEventKind, DeliveryEventLog, Error, Outgoing, Receipt, Routes, SendError, Sender,
};
use zeroize::Zeroizing;

/// A sender that blocks until the test opens its gate, then counts what it sent.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
    sent: Mutex<Vec<String>>,
    delay: Duration,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.changed.notify_all();
    }
    fn sent(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

impl Sender for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }
    fn channel(&self) -> Channel {
        Channel::Sms
    }
    fn send(&self, m: &Outgoing) -> Result<Receipt, SendError> {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.changed.wait(open).unwrap();
        }
        drop(open);
        std::thread::sleep(self.delay);
        self.sent.lock().unwrap().push(m.id.clone());
        Ok(Receipt { provider_id: None })
    }
}

fn message() -> Outgoing {
    Outgoing::new(
        Purpose::SignIn,
        "0011223344556677",
        "+447400123456",
        Content::Sms { text: Zeroizing::new("x".into()) },
        "123456",
    )
}

fn delivery(section: &str, gate: Arc<Gate>, log: Arc<DeliveryEventLog>) -> Delivery {
    let config = Config::parse(&format!("[delivery]\n{section}")).unwrap();
    Delivery::builder(&config).routes(Routes { email: vec![], sms: vec![gate] }).events(log).build().unwrap()
}

#[test]
fn a_full_queue_refuses_at_once_and_counts_it() {
    let gate = Arc::new(Gate::default());
    let log = Arc::new(DeliveryEventLog::default());
    let d = delivery("queue_capacity = 3\nworkers = 1", gate.clone(), log.clone());
    d.send(message()).unwrap();
    let start = Instant::now();
    while d.stats().waiting > 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the worker never took the first message");
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..3 {
        d.send(message()).unwrap(); // one held by the worker, three waiting
    }
    let start = Instant::now();
    let refused = message();
    let id = refused.id.clone();
    assert_eq!(d.send(refused), Err(Error::QueueFull));
    assert_eq!(d.reserve(Channel::Sms).err(), Some(Error::QueueFull));
    assert!(start.elapsed() < Duration::from_millis(500), "refused at once, never blocked");
    assert!(!d.has_room());
    let stats = d.stats();
    assert_eq!((stats.queue_full, stats.waiting), (2, 3));
    assert!(log.kinds_of(&id).is_empty(), "a refused message was never queued");
    gate.open();
    d.shutdown(Duration::from_secs(10));
    assert_eq!(gate.sent(), 4);
    assert_eq!(d.stats().sent, 4);
}

#[test]
fn a_reserved_place_given_back_is_free_again() {
    let gate = Arc::new(Gate::default());
    let d = delivery("queue_capacity = 1\nworkers = 1", gate.clone(), Arc::default());
    let slot = d.reserve(Channel::Sms).unwrap();
    assert_eq!(d.reserve(Channel::Sms).err(), Some(Error::QueueFull), "the reservation holds the place");
    drop(slot); // an unknown account: no message follows
    let again = d.reserve(Channel::Sms).unwrap();
    gate.open();
    again.send(message()).unwrap();
    d.shutdown(Duration::from_secs(10));
    assert_eq!(gate.sent(), 1);
    assert_eq!(d.reserve(Channel::Email).err(), Some(Error::NoSender { channel: "email" }));
}

#[test]
fn shutdown_drains_the_queue_within_its_bound() {
    let gate = Arc::new(Gate { delay: Duration::from_millis(10), ..Gate::default() });
    gate.open();
    let log = Arc::new(DeliveryEventLog::default());
    let d = delivery("workers = 2", gate.clone(), log.clone());
    for _ in 0..20 {
        d.send(message()).unwrap();
    }
    let report = d.shutdown(Duration::from_secs(10));
    assert!(report.drained);
    assert_eq!(report.abandoned, 0);
    assert_eq!(gate.sent(), 20, "every queued message was sent before shutdown returned");
    assert_eq!(d.send(message()), Err(Error::Stopped));
}

#[test]
fn shutdown_gives_up_what_is_left_at_its_bound() {
    let gate = Arc::new(Gate::default()); // never opens until after shutdown
    let log = Arc::new(DeliveryEventLog::default());
    let d = delivery("workers = 1", gate.clone(), log.clone());
    let ids: Vec<String> = (0..5)
        .map(|_| {
            let m = message();
            let id = m.id.clone();
            d.send(m).unwrap();
            id
        })
        .collect();
    let start = Instant::now();
    let report = d.shutdown(Duration::from_millis(200));
    assert!(start.elapsed() < Duration::from_secs(3), "the bound holds: {:?}", start.elapsed());
    assert!(!report.drained, "the worker is stuck in its send");
    assert_eq!(report.abandoned, 4, "one in the worker's hands, four given up");
    let given_up: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| e.kind == DeliveryEventKind::Failed && e.reason == Some("shutdown"))
        .map(|e| e.message_id)
        .collect();
    assert_eq!(given_up, ids[1..].to_vec());
    gate.open();
}
