//! `passcode status` and `passcode unlock`: a subject's failure count, failure budget and
//! lock, read or cleared in the configured shared store through the engine itself
//! (`Engine::status`, `Engine::unlock`, and their `_account` forms), so the subject is found
//! exactly as `issue` and `verify` find it: every spelling of one address or number (case,
//! Unicode form, national format with `policy.sms_default_region`) is the one subject.
//!
//! The memory store is refused: its records live inside each process that runs an engine,
//! where a separate command cannot reach them.

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use passcode_core::{
    Channel, Clock, Engine, Error, Event, EventKind, EventSink, Identifier, SubjectStatus, SystemClock,
};
use serde_json::{json, Value};

use crate::args::SubjectArgs;
use crate::output::{Exit, Failure, Redactor, Report};
use crate::source::{steps, ConfigFile};
use crate::time::{rfc3339, span};

/// Keeps the pseudonym of the `unlocked` event, so the operator can find the subject in the
/// host's logs, which carry pseudonyms, never addresses.
#[derive(Default)]
struct Pseudonym(std::sync::Mutex<Option<String>>);

impl EventSink for Pseudonym {
    fn emit(&self, event: &Event) {
        if event.kind == EventKind::Unlocked {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(event.subject.clone());
        }
    }
}

/// The identifier from the argument, or one line of stdin for `-`.
fn identifier_text(arg: &str, config: &Path) -> Result<String, Failure> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    if config == Path::new("-") {
        return Err(Failure::new(Exit::Usage, "the config and the identifier cannot both come from stdin"));
    }
    let mut line = String::new();
    // An identifier is at most 320 bytes: a longer line is cut and then refused by the engine.
    std::io::Read::take(std::io::stdin().lock(), 1024)
        .read_line(&mut line)
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot read the identifier from stdin ({e})")))?;
    Ok(line.trim().to_string())
}

/// The engine on the config's shared store.
fn open(file: &ConfigFile, events: Arc<dyn EventSink>) -> Result<Engine, Failure> {
    let config = file.parse()?;
    if config.store.is_memory() {
        let mut f = Failure::new(
            Exit::Refused,
            "the config's store is `memory`: its records live inside each process that runs the engine, where \
             this command cannot reach them",
        )
        .in_file(&file.name);
        f.field = Some("store".into());
        f.location = file.locate(&steps("store"));
        f.notes.push(
            "unlock through the host (Engine::unlock, passcode_unlock in the C ABI, the component's unlock),".into(),
        );
        f.notes.push("or give every node a shared store (store = \"redis://...\") and use this command".into());
        return Err(f);
    }
    passcode_redis::builder(config).and_then(|b| b.events(events).build()).map_err(|e| file.failure(&e))
}

/// The status for people and for `--json`.
fn describe(status: &SubjectStatus, engine: &Engine, now: u64) -> (String, Value) {
    let p = engine.policy();
    let budget = p.failure_budget;
    let lock = if status.hard_locked {
        "hard: only `passcode unlock` lifts it".to_string()
    } else if let Some(until) = status.locked_until {
        let why = if status.budget_failures >= budget.max { "the failure budget is spent" } else { "temporary" };
        format!("{why}, until {} (in {})", rfc3339(until), span(until.saturating_sub(now)))
    } else {
        "none".to_string()
    };
    let next_lock = (status.failures / p.lockout_threshold + 1) * p.lockout_threshold;
    let human = format!(
        "failures  {} (a temporary lock every {}, the next at {}; the hard lock at {})
         budget    {} of {} in {} (a success does not clear them)
lock      {lock}
",
        status.failures,
        p.lockout_threshold,
        next_lock.min(p.hard_lock_failures),
        p.hard_lock_failures,
        status.budget_failures,
        budget.max,
        span(budget.window_seconds),
    );
    let value = json!({
        "failures": status.failures,
        "budget_failures": status.budget_failures,
        "failure_budget": { "max": budget.max, "window_seconds": budget.window_seconds },
        "locked": status.hard_locked || status.locked_until.is_some(),
        "hard_locked": status.hard_locked,
        "locked_until": status.locked_until,
        "locked_until_rfc3339": status.locked_until.map(rfc3339),
        "retry_after_seconds": status.locked_until.map(|u| u.saturating_sub(now)),
        "lockout_threshold": p.lockout_threshold,
        "hard_lock_failures": p.hard_lock_failures,
    });
    (human, value)
}

/// Whom the command is about: an address or number on a channel, or a host's account id.
enum Subject {
    Identifier { channel: Channel, text: String },
    Account(String),
}

impl Subject {
    fn status(&self, engine: &Engine) -> Result<SubjectStatus, Error> {
        match self {
            Subject::Identifier { channel, text } => engine.status(*channel, text),
            Subject::Account(account) => engine.status_account(account),
        }
    }

    fn unlock(&self, engine: &Engine) -> Result<(), Error> {
        match self {
            Subject::Identifier { channel, text } => engine.unlock(*channel, text),
            Subject::Account(account) => engine.unlock_account(account),
        }
    }

    /// What the output names: the masked identifier and its channel, or `account`.
    fn shown(&self, engine: &Engine) -> Result<(String, &'static str), Error> {
        match self {
            Subject::Identifier { channel, text } => {
                let region = engine.policy().sms_default_region.as_deref();
                Ok((Identifier::parse_with_region(*channel, text, region)?.masked(), channel.name()))
            }
            // An account id is the host's own, possibly personal: only its length is shown.
            Subject::Account(account) => Ok((format!("account of {} bytes", account.len()), "account")),
        }
    }
}

/// An identifier the engine refuses is the caller's mistake; the rest are placed in the file.
fn subject_failure(file: &ConfigFile, e: &Error) -> Failure {
    if e.number() / 1000 == 1 {
        return Failure::new(Exit::Usage, format!("IDENTIFIER: {e}")).numbered(e.number(), e.name());
    }
    file.failure(e)
}

/// Runs `status` (`unlock = false`) or `unlock`.
pub fn run(args: &SubjectArgs, unlock: bool, redactor: &mut Redactor) -> Result<Report, Failure> {
    let file = ConfigFile::read(&args.config, redactor)?;
    let text = identifier_text(&args.identifier, &args.config)?;
    let subject = match args.channel {
        Some(channel) if !args.account => Subject::Identifier { channel: Channel::from(channel), text },
        _ => Subject::Account(text),
    };
    let pseudonym = Arc::new(Pseudonym::default());
    let engine = open(&file, pseudonym.clone())?;
    // The identifier is checked (and masked) as the engine reads it, with the config's
    // default region; the engine itself derives the subject from the text as typed.
    let (shown, channel) = subject.shown(&engine).map_err(|e| subject_failure(&file, &e))?;
    let before = subject.status(&engine).map_err(|e| subject_failure(&file, &e))?;
    let now = SystemClock.now();
    if !unlock {
        let (human, value) = describe(&before, &engine, now);
        let human = format!("subject   {shown} ({channel})\n{human}");
        let json = json!({ "ok": true, "subject": shown, "channel": channel, "status": value });
        return Ok(Report::ok(human, json));
    }
    let was_locked = before.hard_locked || before.locked_until.is_some();
    let mut human = format!("subject   {shown} ({channel})\n");
    let changed = before.failures > 0 || before.budget_failures > 0 || was_locked;
    if changed {
        subject.unlock(&engine).map_err(|e| subject_failure(&file, &e))?;
    }
    let after = subject.status(&engine).map_err(|e| subject_failure(&file, &e))?;
    let (after_human, after_value) = describe(&after, &engine, now);
    let (_, before_value) = describe(&before, &engine, now);
    if changed {
        let lifted = if before.hard_locked {
            "the hard lock lifted"
        } else if before.locked_until.is_some() {
            "the lock lifted"
        } else {
            "it was not locked"
        };
        let _ = writeln!(
            human,
            "unlocked  {} failures and {} in the budget cleared, {lifted}",
            before.failures, before.budget_failures
        );
    } else {
        let _ = writeln!(human, "unlocked  nothing to do: no failures and no lock (nothing was written)");
    }
    human.push_str(&after_human);
    let pseudonym = pseudonym.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(p) = &pseudonym {
        let _ = writeln!(human, "pseudonym {p} (the subject as the hosts' events and logs name it)");
    }
    let json = json!({
        "ok": true, "subject": shown, "channel": channel, "changed": changed,
        "before": before_value, "after": after_value, "pseudonym": pseudonym,
    });
    Ok(Report::ok(human, json))
}
