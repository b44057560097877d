//! The command line, declared once with clap's derive: the parser, `--help`, the shell
//! completions and the man pages all come from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use passcode_core::{Channel, Purpose};

use crate::output::EXIT_STATUSES;

/// Operate Passcode: make keys, check configs, preview messages, send a test message, and
/// read or unlock a subject's failures.
///
/// Every command that takes CONFIG reads it exactly as the engine does (TOML, or JSON when it
/// starts with `{`; `-` reads it from stdin). Output is for people; `--json` prints one JSON
/// object on stdout instead, errors included. Nothing printed holds a code, a key, a password
/// or a full address or number.
#[derive(Debug, Parser)]
#[command(name = "passcode", version, after_help = EXIT_STATUSES, max_term_width = 100)]
pub struct Cli {
    /// Print one JSON object on stdout (errors too) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new ring key and print the `[keys]` lines to paste
    ///
    /// 32 bytes from the OS CSPRNG. The key is written as hex to FILE with mode 0600, and an existing file is never
    /// overwritten (a replaced key makes every live code and every subject's failure count
    /// unreadable). Without --out the key goes to stdout, for a pipe into a secret store, and
    /// never to a terminal.
    Keygen(KeygenArgs),
    /// Load a config as the engine does; print what is in force and warnings
    ///
    /// Prints the policy (each value, and whether it came from the file or is a default), the
    /// store, the keys, the senders, and warnings for weak or surprising choices. Exit status 0 when the config loads (warnings allowed, unless --strict), 1 when the
    /// engine or delivery would refuse it, naming the file, line and field.
    Check(CheckArgs),
    /// Render a message with a sample code as the engine would
    ///
    /// Shows the SMS with its encoding (GSM-7 or UCS-2, and the characters that force UCS-2),
    /// characters, segments and origin-bound line, or the email's subject, text and HTML.
    Preview(PreviewArgs),
    /// Send one test message through the configured senders; report the provider's answer
    ///
    /// The same route, retries and fallback as the engine's deliveries. The message says it is a test and carries a sample code that works nowhere.
    SendTest(SendTestArgs),
    /// Show a subject's failure count and lock, from the configured shared store
    Status(SubjectArgs),
    /// Clear a subject's failures and lift its lock, in the configured shared store
    Unlock(SubjectArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Print the man page passcode(1), or write every page to a folder
    Man(ManArgs),
}

/// `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the key to this new file (mode 0600); refused if it exists.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The key's id in the ring (1..=255), for the `[keys]` lines.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    pub id: u8,
    /// The environment variable the `[keys]` lines name when the key goes to stdout.
    #[arg(long, value_name = "NAME", default_value = "PASSCODE_KEY_1", conflicts_with = "out")]
    pub env: String,
}

/// `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file (`-` for stdin).
    pub config: PathBuf,
    /// Exit with status 4 when there are warnings.
    #[arg(long)]
    pub strict: bool,
    /// Also connect to the shared store and read from it (by default nothing is contacted).
    #[arg(long)]
    pub connect: bool,
}

/// `preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The config file (`-` for stdin).
    pub config: PathBuf,
    /// Which message.
    #[arg(long, value_enum)]
    pub channel: ChannelArg,
    /// What the code is for.
    #[arg(long, value_enum, default_value_t = PurposeArg::SignIn)]
    pub purpose: PurposeArg,
    /// A locale such as `fr-CA` (default: the config's default locale).
    #[arg(long)]
    pub locale: Option<String>,
}

/// `send-test`.
#[derive(Debug, Args)]
pub struct SendTestArgs {
    /// The config file (`-` for stdin).
    pub config: PathBuf,
    /// The address or E.164 number to send to.
    #[arg(long, value_name = "ADDRESS|NUMBER")]
    pub to: String,
    /// The channel (default: SMS for a number starting with `+`, else email).
    #[arg(long, value_enum)]
    pub channel: Option<ChannelArg>,
    /// Which purpose's template to use.
    #[arg(long, value_enum, default_value_t = PurposeArg::SignIn)]
    pub purpose: PurposeArg,
    /// A locale such as `fr-CA` (default: the config's default locale).
    #[arg(long)]
    pub locale: Option<String>,
}

/// `status` and `unlock`.
#[derive(Debug, Args)]
pub struct SubjectArgs {
    /// The config file (`-` for stdin).
    pub config: PathBuf,
    /// The subject's channel.
    #[arg(long, value_enum, required_unless_present = "account")]
    pub channel: Option<ChannelArg>,
    /// The identifier is the host's own account id (hosts that call `issue_for_account`):
    /// one subject across the account's address and number.
    #[arg(long, conflicts_with = "channel")]
    pub account: bool,
    /// The address or number, spelled as users type it (a national number needs
    /// `policy.sms_default_region`), or with `--account` the account id (`-` reads one line
    /// from stdin, keeping it out of the shell's history and the process list).
    pub identifier: String,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write passcode.1 and a page per command (passcode-check.1, ...) into this folder.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// A channel on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    /// Email.
    Email,
    /// SMS.
    Sms,
}

impl From<ChannelArg> for Channel {
    fn from(c: ChannelArg) -> Channel {
        match c {
            ChannelArg::Email => Channel::Email,
            ChannelArg::Sms => Channel::Sms,
        }
    }
}

/// A purpose on the command line, named as in the config and the vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PurposeArg {
    /// Creating an account.
    SignUp,
    /// Signing in.
    SignIn,
    /// A second factor after a password.
    SecondFactor,
    /// Confirming an address or number.
    VerifyContact,
    /// Recovering an account.
    Recovery,
}

impl From<PurposeArg> for Purpose {
    fn from(p: PurposeArg) -> Purpose {
        match p {
            PurposeArg::SignUp => Purpose::SignUp,
            PurposeArg::SignIn => Purpose::SignIn,
            PurposeArg::SecondFactor => Purpose::SecondFactor,
            PurposeArg::VerifyContact => Purpose::VerifyContact,
            PurposeArg::Recovery => Purpose::Recovery,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn purposes_are_named_as_the_engine_names_them() {
        for p in PurposeArg::value_variants() {
            let name = p.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name, Purpose::from(*p).name());
        }
        for c in ChannelArg::value_variants() {
            assert_eq!(c.to_possible_value().unwrap().get_name(), Channel::from(*c).name());
        }
    }
}
