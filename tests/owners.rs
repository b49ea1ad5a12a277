//! The reactor's state lives in owners (see `src/reactor/core/mod.rs`): checked from the
//! source, so that the shape cannot drift back.
//!
//! * `impl Core` is written in at most two files (`core/mod.rs` and `core/lifecycle.rs`);
//! * neither `Core` nor any owner it composes has a field visible outside its own file;
//! * the handler-calling turn (`turn.rs`) and the handler's `Context` reach the core only
//!   through its methods;
//! * `Conn`, the connection's state machine, is written in one file and offers the reactor
//!   at most 20 public methods (one per event, each returning the whole step).

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source files of `src/`, relative to it, with their text.
fn sources() -> Vec<(String, String)> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("under src")
                .display()
                .to_string();
            let text = fs::read_to_string(&p).expect("read source");
            (rel, text)
        })
        .collect()
}

/// The lines of `struct NAME`'s definition in `text`, if it defines one.
fn struct_body<'a>(text: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let mut lines = text.lines();
    lines.find(|l| {
        let l = l.trim_start();
        let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
        let l = l.strip_prefix("pub(super) ").unwrap_or(l);
        let l = l.strip_prefix("pub ").unwrap_or(l);
        l.strip_prefix("struct ").is_some_and(|rest| {
            rest.starts_with(name) && !rest[name.len()..].starts_with(char::is_alphanumeric)
        })
    })?;
    Some(lines.take_while(|l| !l.starts_with('}')).collect())
}

#[test]
fn impl_core_is_written_in_two_files_at_most() {
    let files: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| {
            text.lines()
                .any(|l| l.trim_start().starts_with("impl Core {"))
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        !files.is_empty() && files.len() <= 2,
        "impl Core is written in {} files: {files:?}",
        files.len()
    );
}

#[test]
fn core_and_its_owners_keep_their_fields_private() {
    let owners = [
        "Core",
        "Sources",
        "Timers",
        "Admission",
        "Work",
        "Scratch",
        "Life",
        "Door",
        "FdsOut",
        "DgramSock",
        "Audit",
        "Conn",
        "InputSide",
        "Workers",
        "Dials",
        "Spread",
    ];
    let files = sources();
    let mut wrong = Vec::new();
    for owner in owners {
        let found: Vec<(&String, Vec<&str>)> = files
            .iter()
            .filter_map(|(rel, text)| struct_body(text, owner).map(|body| (rel, body)))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "struct {owner} is defined {} times",
            found.len()
        );
        let (rel, body) = &found[0];
        for line in body {
            let field = line.trim_start();
            if field.starts_with("pub") {
                wrong.push(format!("{rel}: {owner} has a visible field: {field}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_turn_and_the_context_reach_the_core_through_its_methods() {
    let fields = [
        "sources",
        "timers",
        "pool",
        "config",
        "now",
        "work",
        "stats",
        "life",
        "door",
        "admission",
        "fds_out",
        "scratch",
    ];
    let mut wrong = Vec::new();
    for (rel, text) in sources() {
        if rel.starts_with("reactor/core/") {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for field in fields {
                for pattern in [
                    format!("core.{field}."),
                    format!("core.{field};"),
                    format!("core.{field})"),
                ] {
                    if code.contains(&pattern) {
                        wrong.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the core's fields reached from outside it:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn conn_has_one_file_and_a_narrow_interface() {
    let files = sources();
    let with_impl: Vec<&(String, String)> = files
        .iter()
        .filter(|(_, text)| text.lines().any(|l| l.starts_with("impl Conn {")))
        .collect();
    assert_eq!(
        with_impl
            .iter()
            .map(|(rel, _)| rel.as_str())
            .collect::<Vec<_>>(),
        ["conn/machine.rs"],
        "impl Conn is written outside conn/machine.rs, or in several files"
    );
    let public: Vec<&str> = with_impl[0]
        .1
        .lines()
        .filter(|l| l.starts_with("    pub fn "))
        .collect();
    assert!(
        public.len() <= 20,
        "Conn has {} public methods (at most 20):\n{}",
        public.len(),
        public.join("\n")
    );
}
