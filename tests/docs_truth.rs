//! Claims in the docs that a test can keep true: that the reactor's rooms table names every
//! file of `src/reactor/`, that DESIGN.md's inventory of `unsafe` names exactly the files
//! that hold `unsafe` blocks (with their counts), and that every file and function of
//! DESIGN.md's walk of one echoed byte exists (and the walk counts its files right).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Every `.rs` file under `dir`, as paths relative to `src/`.
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

/// The backticked words of `text` (`` `stream` `` gives `stream`).
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn the_rooms_table_names_every_file_of_the_reactor() {
    let module_doc = read("src/reactor/mod.rs");
    let table: Vec<&str> = module_doc
        .lines()
        .skip_while(|l| !l.starts_with("//! | layer | rooms |"))
        .take_while(|l| l.starts_with("//! |"))
        .collect();
    assert!(table.len() > 2, "no rooms table in src/reactor/mod.rs");
    let named: Vec<String> = table
        .iter()
        .flat_map(|l| backticked(l))
        .map(|w| w.trim_end_matches(".rs").to_string())
        .collect();
    let mut missing = Vec::new();
    let reactor = root().join("src/reactor");
    let mut files = Vec::new();
    rust_files(&reactor, &mut files);
    for path in files {
        // `core/mod.rs` is the room `core`; `core/lifecycle.rs` is `core/lifecycle`.
        let rel = path.strip_prefix(&reactor).expect("under src/reactor");
        let name = rel.with_extension("").display().to_string();
        let name = name.trim_end_matches("/mod").to_string();
        if name != "mod" && !named.contains(&name) {
            missing.push(name);
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "src/reactor/mod.rs's rooms table does not name: {missing:?}"
    );
}

/// `unsafe` blocks per file in `src/` (code only: comments removed).
fn unsafe_blocks() -> BTreeMap<String, usize> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut counts = BTreeMap::new();
    for path in files {
        let text = fs::read_to_string(&path).expect("read source");
        let mut n = 0;
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            n += code.matches("unsafe {").count();
        }
        if n > 0 {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .to_string();
            counts.insert(rel, n);
        }
    }
    counts
}

#[test]
fn design_names_every_file_with_unsafe_and_its_count() {
    let design = read("DESIGN.md");
    // The inventory: "`sys/resolve.rs` (18: ...)" within the paragraph that lists the blocks.
    let start = design
        .find("The blocks, by file:")
        .expect("DESIGN.md has no `unsafe` inventory (\"The blocks, by file:\")");
    let end = design[start..]
        .find("\n\n")
        .map_or(design.len(), |e| start + e);
    let inventory = &design[start..end];
    let mut claimed = BTreeMap::new();
    let mut rest = inventory;
    while let Some(i) = rest.find('`') {
        rest = &rest[i + 1..];
        let Some(j) = rest.find('`') else { break };
        let name = &rest[..j];
        rest = &rest[j + 1..];
        if !name.ends_with(".rs") {
            continue;
        }
        let after = rest.trim_start().strip_prefix('(').unwrap_or("");
        let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
        let n: usize = digits
            .parse()
            .unwrap_or_else(|_| panic!("DESIGN.md gives no count after `{name}`"));
        claimed.insert(name.to_string(), n);
    }
    assert_eq!(
        claimed,
        unsafe_blocks(),
        "DESIGN.md's `unsafe` inventory (left) against the source (right)"
    );
}

#[test]
fn every_file_and_function_of_the_walk_exists() {
    let design = read("DESIGN.md");
    let start = design
        .find("## One event's path")
        .expect("DESIGN.md has no \"One event's path\" section");
    let end = design[start + 3..]
        .find("\n## ")
        .map_or(design.len(), |e| start + 3 + e);
    let walk = &design[start..end];
    // The walk's table: | step | file | function | ... |
    let rows: Vec<Vec<String>> = walk
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| step"))
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    assert!(rows.len() >= 5, "the walk has no table of steps");
    let mut files = std::collections::BTreeSet::new();
    for row in &rows {
        let (file, function) = (&row[2], &row[3]);
        let file = file.trim_matches('`');
        let path = root().join("src").join(file);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the walk names src/{file}, which cannot be read: {e}"));
        for f in backticked(function) {
            let name = f.trim_end_matches("()");
            let name = name.rsplit("::").next().unwrap_or(name);
            assert!(
                text.contains(&format!("fn {name}(")) || text.contains(&format!("fn {name}<")),
                "the walk says src/{file} has `{name}`, and it does not"
            );
        }
        files.insert(file.to_string());
    }
    assert!(
        design.contains(&format!("That is {} files.", files.len())),
        "DESIGN.md's count of the walk's files is not {}",
        files.len()
    );
    for file in &files {
        let lines = read(&format!("src/{file}")).lines().count();
        assert!(
            lines <= 600,
            "src/{file} has {lines} lines (the walk's files stay under 600)"
        );
    }
}
