//! `passcode status` and `passcode unlock`: a subject's failure count and lock, read or
//! cleared in the configured shared store through the engine itself (`Engine::status`,
//! `Engine::unlock`), so the subject is found exactly as `issue` and `verify` find it.
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
    let lock = if status.hard_locked {
        "hard: only `passcode unlock` lifts it".to_string()
    } else if let Some(until) = status.locked_until {
        format!("temporary, until {} (in {})", rfc3339(until), span(until.saturating_sub(now)))
    } else {
        "none".to_string()
    };
    let next_lock = (status.failures / p.lockout_threshold + 1) * p.lockout_threshold;
    let human = format!(
        "failures  {} (a temporary lock every {}, the next at {}; the hard lock at {})\nlock      {lock}\n",
        status.failures,
        p.lockout_threshold,
        next_lock.min(p.hard_lock_failures),
        p.hard_lock_failures
    );
    let value = json!({
        "failures": status.failures,
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

fn read_status(
    file: &ConfigFile,
    engine: &Engine,
    channel: Channel,
    identifier: &str,
) -> Result<SubjectStatus, Failure> {
    engine.status(channel, identifier).map_err(|e| subject_failure(file, &e))
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
    let channel = Channel::from(args.channel);
    let text = identifier_text(&args.identifier, &args.config)?;
    let identifier = Identifier::parse(channel, &text).map_err(|e| subject_failure(&file, &e))?;
    let pseudonym = Arc::new(Pseudonym::default());
    let engine = open(&file, pseudonym.clone())?;
    let shown = identifier.masked();
    let before = read_status(&file, &engine, channel, identifier.as_str())?;
    let now = SystemClock.now();
    if !unlock {
        let (human, value) = describe(&before, &engine, now);
        let human = format!("subject   {shown} ({})\n{human}", channel.name());
        let json = json!({ "ok": true, "subject": shown, "channel": channel.name(), "status": value });
        return Ok(Report::ok(human, json));
    }
    let was_locked = before.hard_locked || before.locked_until.is_some();
    let mut human = format!("subject   {shown} ({})\n", channel.name());
    let changed = before.failures > 0 || was_locked;
    if changed {
        engine.unlock(channel, identifier.as_str()).map_err(|e| subject_failure(&file, &e))?;
    }
    let after = read_status(&file, &engine, channel, identifier.as_str())?;
    let (after_human, after_value) = describe(&after, &engine, now);
    let (_, before_value) = describe(&before, &engine, now);
    if changed {
        let lifted = if before.hard_locked {
            "the hard lock lifted"
        } else if before.locked_until.is_some() {
            "the temporary lock lifted"
        } else {
            "it was not locked"
        };
        let _ = writeln!(human, "unlocked  {} failures cleared, {lifted}", before.failures);
    } else {
        let _ = writeln!(human, "unlocked  nothing to do: no failures and no lock (nothing was written)");
    }
    human.push_str(&after_human);
    let pseudonym = pseudonym.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(p) = &pseudonym {
        let _ = writeln!(human, "pseudonym {p} (the subject as the hosts' events and logs name it)");
    }
    let json = json!({
        "ok": true, "subject": shown, "channel": channel.name(), "changed": changed,
        "before": before_value, "after": after_value, "pseudonym": pseudonym,
    });
    Ok(Report::ok(human, json))
}
