//! Shell completions and man pages, generated from the same clap definitions as the parser,
//! so they cannot drift from what the binary accepts.

use clap::CommandFactory;
use serde_json::json;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::output::{Exit, Failure, Report};

/// Runs `completions`: the script for one shell, on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<Report, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "passcode", &mut script);
    let script =
        String::from_utf8(script).map_err(|_| Failure::new(Exit::Refused, "the completion script is not UTF-8"))?;
    Ok(Report::ok(script.clone(), json!({ "shell": args.shell.to_string(), "script": script })))
}

/// Runs `man`: passcode(1) on stdout, or every page written into a folder.
pub fn man(args: &ManArgs) -> Result<Report, Failure> {
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| Failure::new(Exit::Refused, format!("cannot render the man page ({e})")))?;
            let page = String::from_utf8(page).map_err(|_| Failure::new(Exit::Refused, "the man page is not UTF-8"))?;
            Ok(Report::ok(page.clone(), json!({ "page": page })))
        }
        Some(dir) => {
            let name = dir.display().to_string();
            std::fs::create_dir_all(dir)
                .and_then(|_| clap_mangen::generate_to(Cli::command(), dir))
                .map_err(|e| Failure::new(Exit::Refused, format!("cannot write the man pages ({e})")).in_file(&name))?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with("passcode") && n.ends_with(".1"))
                        .collect()
                })
                .unwrap_or_default();
            pages.sort();
            let human = format!("wrote {} man pages to {name}: {}\n", pages.len(), pages.join(", "));
            Ok(Report::ok(human, json!({ "dir": name, "pages": pages })))
        }
    }
}

/// Whether `dir` holds a page for every command (for the tests).
#[cfg(test)]
fn has_every_page(dir: &std::path::Path) -> bool {
    let cmd = Cli::command();
    let mut pages: Vec<String> = cmd.get_subcommands().map(|s| format!("passcode-{}", s.get_name())).collect();
    pages.push("passcode".into());
    pages.iter().all(|page| dir.join(format!("{page}.1")).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_gets_a_man_page() {
        let dir = std::env::temp_dir().join(format!("passcode-cli-man-{}", std::process::id()));
        man(&ManArgs { dir: Some(dir.clone()) }).unwrap();
        assert!(has_every_page(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
