//! Every requirement the repository cites ("S" and a number in parentheses or alone) must be defined in
//! REQUIREMENTS.md, and every requirement defined there must be cited somewhere, so that a
//! reader with only the repository can look up what a citation means.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DEFINITIONS_FILE: &str = "REQUIREMENTS.md";

/// The numbers of the requirements REQUIREMENTS.md defines: its lines `- **S<n>** ...`, each
/// with the line it is on, so a duplicate can be named.
fn definitions(text: &str) -> Result<BTreeMap<u32, usize>, String> {
    let mut defined = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("- **S") else { continue };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let number = digits.parse().map_err(|_| format!("{DEFINITIONS_FILE}:{}: malformed definition", index + 1))?;
        if !rest[digits.len()..].starts_with("** ") {
            return Err(format!("{DEFINITIONS_FILE}:{}: malformed definition", index + 1));
        }
        if let Some(first) = defined.insert(number, index + 1) {
            return Err(format!("{DEFINITIONS_FILE}:{}: S{number} is already defined on line {first}", index + 1));
        }
    }
    Ok(defined)
}

/// The requirement numbers a line cites: an `S` that does not follow a letter, digit or `_`,
/// then digits not followed by one (the regex `\bS[0-9]+\b`). A range (first, a dash, last)
/// cites its two ends.
fn citations(line: &str) -> Vec<u32> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'S' && (i == 0 || !is_word(bytes[i - 1])) {
            let end = bytes[i + 1..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |n| i + 1 + n);
            if end > i + 1 && (end == bytes.len() || !is_word(bytes[end])) {
                // Digits only, and a number too long for u32 is no requirement's: report it as 0.
                found.push(line[i + 1..end].parse().unwrap_or(0));
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// What is wrong between the definitions and the files that cite them: each citation of an
/// undefined requirement, by file and line, and each defined requirement that nothing cites.
/// REQUIREMENTS.md's own mentions must resolve too, but do not count as citations.
fn problems(defined: &BTreeMap<u32, usize>, files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut cited = BTreeSet::new();
    for (path, text) in files {
        for (index, line) in text.lines().enumerate() {
            for number in citations(line) {
                if !defined.contains_key(&number) {
                    problems.push(format!("{path}:{}: S{number} is not defined in {DEFINITIONS_FILE}", index + 1));
                }
                if path != DEFINITIONS_FILE {
                    cited.insert(number);
                }
            }
        }
    }
    for (number, line) in defined {
        if !cited.contains(number) {
            problems.push(format!("{DEFINITIONS_FILE}:{line}: S{number} is defined but nothing cites it"));
        }
    }
    problems
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("core/ has a parent").to_path_buf()
}

/// The repository's files, relative to its root: `git ls-files`, or, where there is no git
/// checkout (a source tarball), every file under the root but build outputs and caches.
fn repository_files(root: &Path) -> Vec<String> {
    let listed = std::process::Command::new("git").args(["ls-files", "-z"]).current_dir(root).output();
    if let Ok(output) = listed {
        if output.status.success() && !output.stdout.is_empty() {
            return String::from_utf8(output.stdout)
                .expect("git ls-files printed UTF-8 paths")
                .split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
        }
    }
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if ![".git", "target", "node_modules", ".venv", "venv", "__pycache__"].contains(&name) {
                    pending.push(path);
                }
            } else if let Ok(relative) = path.strip_prefix(root) {
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    files
}

/// The text files among them: UTF-8 without NUL bytes. A listed file missing from the work
/// tree (deleted, not yet committed) has nothing to cite.
fn text_files(root: &Path, paths: Vec<String>) -> Vec<(String, String)> {
    paths
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(root.join(&path)).ok()?;
            let text = String::from_utf8(bytes).ok().filter(|t| !t.contains('\0'))?;
            Some((path, text))
        })
        .collect()
}

#[test]
fn every_cited_requirement_is_defined_and_every_defined_one_is_cited() {
    let root = repository_root();
    let requirements = std::fs::read_to_string(root.join(DEFINITIONS_FILE))
        .unwrap_or_else(|e| panic!("{DEFINITIONS_FILE} at the repository root: {e}"));
    let defined = definitions(&requirements).unwrap_or_else(|e| panic!("{e}"));
    assert!(!defined.is_empty(), "{DEFINITIONS_FILE} defines no requirement (lines `- **S<n>** ...`)");
    let files = text_files(&root, repository_files(&root));
    assert!(
        files.iter().any(|(path, _)| path == DEFINITIONS_FILE),
        "{DEFINITIONS_FILE} is not among the repository's files: is it committed?"
    );
    let problems = problems(&defined, &files);
    assert!(problems.is_empty(), "requirement citations that do not resolve:\n{}", problems.join("\n"));
}

/// A citation, spelled at run time so that this file cites nothing itself.
fn s(number: u32) -> String {
    format!("S{number}")
}

#[test]
fn citations_are_whole_words_with_a_capital_s() {
    let line = format!("({}, {}) {}-{} AES{} s{}_x {}x {}", s(1), s(13), s(9), s(12), 256, 2, s(3), s(24));
    assert_eq!(citations(&line), vec![1, 13, 9, 12, 24]);
    assert_eq!(citations("S"), Vec::<u32>::new());
    assert_eq!(citations(&format!("\"{}\"", s(5))), vec![5]);
}

#[test]
fn an_undefined_citation_is_named_by_file_and_line_and_an_uncited_definition_by_its_line() {
    let defined = definitions(&format!("intro\n- **{}** one.\n- **{}** two.\n", s(1), s(2))).unwrap();
    assert_eq!(defined, BTreeMap::from([(1, 2), (2, 3)]));
    let files = vec![
        ("src/a.rs".to_string(), format!("fn f() {{}}\n// checked ({})\n// and ({})\n", s(1), s(7))),
        (DEFINITIONS_FILE.to_string(), format!("- **{}** mentions {} only here\n", s(2), s(2))),
    ];
    assert_eq!(
        problems(&defined, &files),
        vec![
            format!("src/a.rs:3: {} is not defined in {DEFINITIONS_FILE}", s(7)),
            format!("{DEFINITIONS_FILE}:3: {} is defined but nothing cites it", s(2)),
        ]
    );
}

#[test]
fn a_requirement_defined_twice_is_refused() {
    let text = format!("- **{}** one.\n- **{}** again.\n", s(1), s(1));
    assert_eq!(definitions(&text), Err(format!("{DEFINITIONS_FILE}:2: {} is already defined on line 1", s(1))));
}
