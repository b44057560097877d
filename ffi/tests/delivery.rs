//! Delivery through the C ABI's exported functions: issue-and-send reaching a real SMTP server
//! on loopback with the issued code, events through the C callback, and the refusals a C host
//! meets (NULLs, a bad config, a full queue, a channel without a sender), each with its status,
//! its out-parameter untouched, and no code issued.

use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use passcode::*;
use passcode_test_servers::{SmtpOptions, SmtpServer};

const WAIT: Duration = Duration::from_secs(20);

fn sentinel<T>() -> *mut T {
    ptr::NonNull::<T>::dangling().as_ptr()
}

/// One event as the C callback saw it: (kind, sender, reason, every text field joined).
type Event = (PasscodeDeliveryEventKind, String, String, String);

/// What the C callback saw.
#[derive(Default)]
struct Seen(Mutex<Vec<Event>>);

unsafe fn text(p: *const c_char, n: usize) -> String {
    // SAFETY: the library's event texts are valid for `n` bytes during the callback.
    String::from_utf8(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) }.to_vec()).unwrap()
}

unsafe extern "C" fn on_event(ctx: *mut c_void, e: *const PasscodeDeliveryEvent) {
    // SAFETY: ctx is the `Seen` the test passed; `e` is valid during the call.
    let (seen, e) = unsafe { (&*(ctx as *const Seen), &*e) };
    // SAFETY: as above, each pointer with its length.
    let all = unsafe {
        [
            text(e.message_id, e.message_id_len),
            text(e.subject, e.subject_len),
            text(e.sender, e.sender_len),
            text(e.provider_id, e.provider_id_len),
            text(e.reason, e.reason_len),
            text(e.provider_code, e.provider_code_len),
        ]
    };
    seen.0.lock().unwrap().push((e.kind, all[2].clone(), all[4].clone(), all.join(" ")));
}

/// Checks the out-parameter rule: written on success, untouched on failure.
fn out_or_status<T>(s: PasscodeStatus, out: *mut T, untouched: *mut T) -> Result<*mut T, PasscodeStatus> {
    if s == PasscodeStatus::Ok {
        Ok(out)
    } else {
        assert_eq!(out, untouched, "out untouched on failure");
        Err(s)
    }
}

/// An engine (default config) and delivery from `config`, whose events go to `seen`.
struct Host {
    engine: *const PasscodeEngine,
    delivery: *const PasscodeDelivery,
    seen: Arc<Seen>,
}

impl Host {
    fn open(config: &str) -> Host {
        Host::open_with(config, "")
    }

    /// Delivery from `config`, the engine from `engine_config`.
    fn open_with(config: &str, engine_config: &str) -> Host {
        let seen = Arc::new(Seen::default());
        let delivery = open_delivery(config, &seen).expect("delivery opens");
        let mut engine = ptr::null();
        let text = engine_config.as_ptr().cast();
        // SAFETY: a valid config and out-pointer.
        let s = unsafe { passcode_engine_new(text, engine_config.len(), ptr::null(), &mut engine) };
        assert_eq!(s, PasscodeStatus::Ok);
        Host { engine, delivery, seen }
    }

    /// `passcode_issue_and_send` (delivering), or `passcode_issue_and_send_for_account` with an account.
    fn issue_and_send(
        &self,
        account: Option<&str>,
        channel: PasscodeChannel,
        who: &str,
    ) -> Result<*mut PasscodeIssued, PasscodeStatus> {
        let mut out = sentinel::<PasscodeIssued>();
        let (purpose, text) = (PasscodePurpose::SignIn as u32, who.as_ptr().cast::<c_char>());
        // SAFETY: live handles, valid texts and out-pointer.
        let s = unsafe {
            match account {
                None => passcode_issue_and_send(
                    self.engine,
                    self.delivery,
                    true,
                    channel as u32,
                    purpose,
                    text,
                    who.len(),
                    ptr::null(),
                    0,
                    ptr::null(),
                    0,
                    &mut out,
                    ptr::null_mut(),
                ),
                Some(a) => passcode_issue_and_send_for_account(
                    self.engine,
                    self.delivery,
                    true,
                    a.as_ptr().cast(),
                    a.len(),
                    channel as u32,
                    purpose,
                    text,
                    who.len(),
                    ptr::null(),
                    0,
                    ptr::null(),
                    0,
                    &mut out,
                    ptr::null_mut(),
                ),
            }
        };
        out_or_status(s, out, sentinel())
    }

    /// `passcode_issue` alone, for an email address.
    fn issue(&self, who: &str) -> Result<*mut PasscodeIssued, PasscodeStatus> {
        self.issue_on(PasscodeChannel::Email, who)
    }

    /// `passcode_issue` alone.
    fn issue_on(&self, channel: PasscodeChannel, who: &str) -> Result<*mut PasscodeIssued, PasscodeStatus> {
        let mut out = sentinel::<PasscodeIssued>();
        // SAFETY: a live engine, valid text and out-pointer.
        let s = unsafe {
            passcode_issue(
                self.engine,
                channel as u32,
                PasscodePurpose::SignIn as u32,
                who.as_ptr().cast(),
                who.len(),
                ptr::null(),
                0,
                ptr::null(),
                0,
                &mut out,
                ptr::null_mut(),
            )
        };
        out_or_status(s, out, sentinel())
    }

    /// Frees each issued challenge, then delivery (which drains its queue) and the engine, and
    /// returns every event delivery reported.
    fn close(self, issued: &[*mut PasscodeIssued]) -> Vec<Event> {
        // SAFETY: live handles, each freed once.
        unsafe {
            for i in issued {
                passcode_issued_free(*i);
            }
            passcode_delivery_free(self.delivery);
            passcode_engine_free(self.engine);
        }
        std::mem::take(&mut *self.seen.0.lock().unwrap())
    }
}

fn open_delivery(config: &str, seen: &Seen) -> Result<*const PasscodeDelivery, PasscodeStatus> {
    let sink = PasscodeDeliveryEventSink { ctx: seen as *const Seen as *mut c_void, emit: Some(on_event) };
    let mut out = sentinel::<PasscodeDelivery>() as *const PasscodeDelivery;
    // SAFETY: valid config bytes, sink and out-pointer.
    let s = unsafe { passcode_delivery_new(config.as_ptr().cast(), config.len(), &sink, &mut out) };
    out_or_status(s, out.cast_mut(), sentinel()).map(<*mut _>::cast_const)
}

/// The code of an issued challenge.
fn code(issued: *mut PasscodeIssued) -> String {
    // SAFETY: a live issued challenge.
    unsafe { passcode_issued_code(issued).as_str() }.to_string()
}

fn smtp_config(port: u16, extra: &str) -> String {
    format!(
        "[delivery]\n{extra}\n[delivery.email]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"C <c@example.com>\"\n"
    )
}

#[test]
fn issue_and_send_reaches_the_smtp_server_with_the_issued_code() {
    let server = SmtpServer::start(SmtpOptions::default());
    let host = Host::open(&smtp_config(server.port(), ""));
    let issued = host.issue_and_send(None, PasscodeChannel::Email, "c.host@example.org").unwrap();
    let code = code(issued);
    // SAFETY: a live issued challenge.
    assert_eq!(unsafe { passcode_issued_subject(issued).len }, 16);
    let mail = server.wait_for(1, WAIT);
    assert!(String::from_utf8_lossy(&mail[0].raw).contains(&code), "the mail holds the issued code");
    let events = host.close(&[issued]);
    let kinds: Vec<_> = events.iter().map(|e| e.0).collect();
    assert_eq!(kinds, vec![PasscodeDeliveryEventKind::Queued, PasscodeDeliveryEventKind::Sent]);
    assert_eq!(events[1].1, "email");
    for e in &events {
        assert!(!e.3.contains(&code) && !e.3.contains("c.host"), "an event holds the code or address: {}", e.3);
    }
}

#[test]
fn refusals_have_their_status_and_issue_nothing() {
    let seen = Seen::default();
    // A config mistake: a sender's secret that cannot be read.
    let bad = "[delivery.webhook]\nurl = \"https://sms.example.com/x\"\nsecret_env = \"PASSCODE_FFI_SURELY_UNSET\"";
    assert_eq!(open_delivery(bad, &seen).unwrap_err(), PasscodeStatus::PolicyOutOfBounds);
    assert_eq!(open_delivery("[delivery]\nworkers = 0", &seen).unwrap_err(), PasscodeStatus::PolicyOutOfBounds);
    let mut out = sentinel::<PasscodeDelivery>() as *const PasscodeDelivery;
    // SAFETY: NULL config with a length is refused before any read.
    assert_eq!(unsafe { passcode_delivery_new(ptr::null(), 3, ptr::null(), &mut out) }, PasscodeStatus::NullParameter);
    let sink = PasscodeDeliveryEventSink { ctx: ptr::null_mut(), emit: None };
    // SAFETY: a valid config, a sink without its callback.
    assert_eq!(unsafe { passcode_delivery_new(c"".as_ptr(), 0, &sink, &mut out) }, PasscodeStatus::NullParameter);

    // A relay that takes 2 s per message, a queue of one place and one worker.
    let server = SmtpServer::start(SmtpOptions { delay_seconds: 2.0, ..Default::default() });
    let host = Host::open(&smtp_config(server.port(), "queue_capacity = 1\nworkers = 1"));
    let first = host.issue_and_send(None, PasscodeChannel::Email, "one@example.org").unwrap();
    // The worker takes the first; the second waits in the one place; the third finds it full.
    let start = std::time::Instant::now();
    // SAFETY: a live delivery.
    while unsafe { delivery_ref(host.delivery) }.unwrap().stats().waiting > 0 {
        assert!(start.elapsed() < WAIT, "the worker never took the first message");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = host.issue_and_send(None, PasscodeChannel::Email, "two@example.org").unwrap();
    let full = host.issue_and_send(None, PasscodeChannel::Email, "three@example.org");
    assert_eq!(full.unwrap_err(), PasscodeStatus::DeliveryQueueFull);
    // No code was issued for the refused call: issuing for that address now is not "too soon".
    let plain = host.issue("three@example.org").expect("the refused call left no challenge behind (no cooldown)");
    assert_eq!(host.issue_and_send(None, PasscodeChannel::Sms, "+447400123456").unwrap_err(), PasscodeStatus::NoSender);
    // SAFETY: NULL handles are refused, and freeing NULL is a no-op.
    unsafe {
        assert_eq!(passcode_delivery_send(ptr::null(), first), PasscodeStatus::NullParameter);
        passcode_delivery_free(ptr::null());
    }
    // Freeing delivery drains its queue.
    host.close(&[first, second, plain]);
    assert_eq!(server.wait_for(2, WAIT).len(), 2, "the two queued messages were sent before free returned");
}

#[test]
fn issue_and_send_for_account_counts_the_account_and_mails_the_address() {
    let server = SmtpServer::start(SmtpOptions::default());
    let host = Host::open(&smtp_config(server.port(), "queue_capacity = 1\nworkers = 1"));
    let for_account = |account, who| host.issue_and_send(Some(account), PasscodeChannel::Email, who);

    // A bad account is refused before anything is issued, and the queue's place is given back.
    assert_eq!(for_account("a\nb", "first@example.org").unwrap_err(), PasscodeStatus::InvalidArgument);
    assert_eq!(for_account("", "first@example.org").unwrap_err(), PasscodeStatus::InvalidArgument);
    let issued = for_account("account-7", "first@example.org").unwrap();
    let code = code(issued);
    let mail = server.wait_for(1, WAIT);
    assert_eq!(mail[0].rcpt_tos, vec!["first@example.org"], "the message goes to the address");
    assert!(String::from_utf8_lossy(&mail[0].raw).contains(&code), "the mail holds the issued code");

    // The subject is the account: its other address meets the account's resend cooldown, and
    // another account's challenge is its own.
    assert_eq!(for_account("account-7", "second@example.org").unwrap_err(), PasscodeStatus::ResendTooSoon);
    let other = for_account("account-8", "second@example.org").unwrap();
    assert_eq!(server.wait_for(2, WAIT).len(), 2);
    for e in host.close(&[issued, other]) {
        assert!(!e.3.contains("account-") && !e.3.contains(&code), "an event holds the account or code: {}", e.3);
    }
}

#[test]
fn a_resend_on_a_channel_without_a_sender_makes_no_new_code() {
    let server = SmtpServer::start(SmtpOptions::default());
    // Email only; no resend cooldown, so that only the missing sender can stop the resend.
    let host = Host::open_with(&smtp_config(server.port(), ""), "[policy]\nresend_cooldown_seconds = 0");
    // An SMS challenge (issued without delivery: this host cannot send SMS).
    let issued = host.issue_on(PasscodeChannel::Sms, "+447400123456").unwrap();
    // SAFETY: a live issued challenge; the texts are copied before it is freed.
    let (token, old_code) = (unsafe { passcode_issued_token(issued).as_str() }.to_string(), code(issued));
    let resend_and_send = |token: &str| {
        let mut out = sentinel::<PasscodeIssued>();
        // SAFETY: live handles, a valid token and out-pointer.
        let s = unsafe {
            passcode_resend_and_send(
                host.engine,
                host.delivery,
                true,
                token.as_ptr().cast(),
                token.len(),
                ptr::null(),
                0,
                ptr::null(),
                0,
                &mut out,
                ptr::null_mut(),
            )
        };
        out_or_status(s, out, sentinel())
    };
    assert_eq!(resend_and_send(&token).unwrap_err(), PasscodeStatus::NoSender);
    // A forged token is refused as one (nothing is queued: see the events below).
    let (head, last) = token.split_at(token.len() - 1);
    let forged = format!("{head}{}", if last == "A" { "B" } else { "A" });
    assert_eq!(resend_and_send(&forged).unwrap_err(), PasscodeStatus::InvalidToken);
    // No new code was made: the first one still verifies (a resend would have replaced it).
    let mut verified = sentinel::<PasscodeVerified>();
    // SAFETY: a live engine, valid texts and out-pointer; the answer is freed once.
    unsafe {
        let s = passcode_verify(
            host.engine,
            token.as_ptr().cast(),
            token.len(),
            old_code.as_ptr().cast(),
            old_code.len(),
            &mut verified,
            ptr::null_mut(),
        );
        assert_eq!(s, PasscodeStatus::Ok, "the code issued first still works");
        passcode_verified_free(verified);
    }
    // Nothing was queued.
    let events = host.close(&[issued]);
    assert!(events.is_empty(), "no delivery event: {events:?}");
}
