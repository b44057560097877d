//! `passcode`: the operator's command line for Passcode.
//!
//! The jobs around the engine that otherwise mean writing code: making a ring key, checking a
//! config before a deploy, previewing messages and what each SMS costs, sending one test
//! message through the configured provider, and reading or clearing a subject's failures and
//! lock in the shared store. Each command loads the config through the same crates a host
//! loads (`passcode-core`, `passcode-delivery`, `passcode-redis`), so what it reports is what
//! the engine will do.
#![forbid(unsafe_code)]

mod args;
mod check;
mod docs;
mod keygen;
mod output;
mod preview;
mod send_test;
mod source;
mod subject;
mod time;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use output::Redactor;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut redactor = Redactor::default();
    let result = match &cli.command {
        Command::Keygen(a) => keygen::run(a, cli.json),
        Command::Check(a) => check::run(a, &mut redactor),
        Command::Preview(a) => preview::run(a, &mut redactor),
        Command::SendTest(a) => send_test::run(a, &mut redactor),
        Command::Status(a) => subject::run(a, false, &mut redactor),
        Command::Unlock(a) => subject::run(a, true, &mut redactor),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    };
    output::finish(result, cli.json, &redactor)
}
