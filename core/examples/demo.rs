//! The engine on embedded defaults, in a terminal: it issues a code to the address or number
//! you give, shows the message it would send (development only: nothing is delivered), and
//! checks what you type back, with every answer the engine can give.
//!
//! `cargo run -p passcode-core --example demo -- jane@example.com` (or `+14155552671`).
//! Commands at the prompt: a code, `resend`, or `quit`.

use std::io::{BufRead, Write};

use passcode_core::{Channel, Config, Engine, Error, IssueRequest, Message, Purpose};

fn show(message: &Message, to: &str) {
    println!("---- DEVELOPMENT ONLY: the message that would be sent to {to} ----");
    match message {
        Message::Sms(s) => println!("{}\n[{} segment(s), {:?}]", s.text.as_str(), s.segments, s.encoding),
        Message::Email(e) => println!("Subject: {}\n\n{}", e.subject.as_str(), e.text.as_str()),
    }
    println!("---------------------------------------------------------------");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let target = match std::env::args().nth(1) {
        Some(t) => t,
        None => {
            print!("Email address or E.164 phone number: ");
            std::io::stdout().flush()?;
            match lines.next() {
                Some(line) => line?.trim().to_string(),
                None => return Ok(()),
            }
        }
    };
    let channel = if target.starts_with('+') { Channel::Sms } else { Channel::Email };
    let config = Config::parse("[messages]\napp_name = \"Passcode demo\"\ndomain = \"localhost.example\"")?;
    let engine = Engine::from_config(&config)?;
    let issued = match engine.issue(&IssueRequest {
        channel,
        identifier: &target,
        purpose: Purpose::SignIn,
        client: Some("127.0.0.1"),
        locale: None,
    }) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("refused: {e} (error {})", e.number());
            std::process::exit(2);
        }
    };
    show(&issued.message, &issued.recipient);
    println!(
        "The code expires in {} s; a resend is allowed in {} s.",
        issued.expires_at - now(),
        issued.resend_at - now()
    );
    loop {
        print!("code> ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next() else { return Ok(()) };
        let input = line?;
        match input.trim() {
            "quit" | "exit" => return Ok(()),
            "resend" => match engine.resend(&issued.token, Some("127.0.0.1"), None) {
                Ok(again) => show(&again.message, &again.recipient),
                Err(e) => println!("resend refused: {e} (error {})", e.number()),
            },
            typed => match engine.verify(&issued.token, typed) {
                Ok(v) => {
                    println!("verified: {} by {} for {}", v.identifier, v.channel.name(), v.purpose.name());
                    return Ok(());
                }
                Err(e @ (Error::WrongCode { .. } | Error::SubjectLocked { retry_after: Some(_) })) => {
                    println!("{e} (error {})", e.number())
                }
                Err(e) => {
                    println!("{e} (error {}); start again", e.number());
                    std::process::exit(1);
                }
            },
        }
    }
}

fn now() -> u64 {
    passcode_core::Clock::now(&passcode_core::SystemClock)
}
