//! The library's imports point one way, checked from the source (no build needed):
//!
//! * every top-level module of `src/` has a layer in DESIGN.md's `layer N: ...` lines, and
//!   imports only from modules in lower layers (never from the crate root's re-exports), so
//!   there is no circle and no import back up;
//! * inside a module folder, the files import each other without a circle, and no child
//!   imports from its parent's `mod.rs` what the parent only re-exports (a child names a
//!   sibling: `super::registry::Key`, not `super::Key`); what the parent's `mod.rs` itself
//!   defines (`reactor/core/mod.rs`'s `Core`, say) a child may take from it.
//!
//! An import is any path in code (comments and test modules left out) that starts with
//! `crate::` or `super::`. The checker reads text, not the compiler's resolution, so it sees
//! `use` lines and paths written out in expressions alike.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layers DESIGN.md draws, from its lines `layer N: a b c` (N = 0 at the bottom).
fn layers() -> BTreeMap<String, usize> {
    let design = fs::read_to_string(root().join("DESIGN.md")).expect("read DESIGN.md");
    let mut layer_of = BTreeMap::new();
    for line in design.lines() {
        let Some(rest) = line.trim().strip_prefix("layer ") else {
            continue;
        };
        let Some((n, modules)) = rest.split_once(':') else {
            continue;
        };
        let Ok(n) = n.trim().parse::<usize>() else {
            continue;
        };
        for m in modules.split_whitespace() {
            let m = m.trim_matches(|c: char| c == ',' || c == '`');
            assert!(
                layer_of.insert(m.to_string(), n).is_none(),
                "DESIGN.md places `{m}` in two layers"
            );
        }
    }
    assert!(
        layer_of.len() > 5,
        "DESIGN.md has no `layer N: modules` lines (found {layer_of:?})"
    );
    layer_of
}

/// Every library source file that is not a test file, with its code: comments and
/// `#[cfg(test)] mod` blocks removed.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name != "tests.rs" && !name.ends_with("_tests.rs")
        })
        .map(|p| {
            let text = fs::read_to_string(&p).expect("read source");
            let rel = p.strip_prefix(&src).unwrap().to_path_buf();
            (rel, code_of(&text))
        })
        .collect()
}

/// `text` without comments and without `#[cfg(test)]` modules (the block that follows the
/// attribute, up to its matching brace).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            // `#[cfg(test)] mod tests;` declares a file that is skipped anyway.
            if lines
                .peek()
                .is_some_and(|next| next.trim_end().ends_with(';'))
            {
                lines.next();
                continue;
            }
            // Skip to the end of the test module's block.
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if opened && depth <= 0 {
                    break;
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The first segments of every path in `code` that starts with `prefix` (`crate::` or
/// `super::`), grouped uses (`crate::{a, b::c}`) included.
fn targets(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                if !first.is_empty() {
                    found.insert(first.to_string());
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '*')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// The names an item of `code` defines at its top level (`pub(crate) struct Core` gives
/// `Core`), as opposed to names it imports or re-exports.
fn defined_names(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in code.lines().filter(|l| !l.starts_with(char::is_whitespace)) {
        let mut words = line.split_whitespace().skip_while(|w| w.starts_with("pub"));
        if let (Some(kind), Some(name)) = (words.next(), words.next()) {
            if [
                "struct", "enum", "trait", "type", "fn", "const", "static", "union",
            ]
            .contains(&kind)
            {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
    }
    names
}

/// The top-level module a file belongs to (`reactor` for `reactor/stream.rs`, `addr` for
/// `addr/mod.rs` or `addr.rs`), or `None` for `lib.rs`.
fn top_module(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    if first == "lib.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// A path through `edges` that comes back to where it started, if there is one.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(c) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn every_module_imports_only_from_lower_layers() {
    let layer_of = layers();
    let files = sources();
    let tops: BTreeSet<String> = files.iter().filter_map(|(p, _)| top_module(p)).collect();
    for m in &tops {
        assert!(
            layer_of.contains_key(m),
            "src/{m} has no layer in DESIGN.md's `layer N: ...` lines"
        );
    }
    let mut wrong = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in &files {
        let Some(from) = top_module(rel) else {
            continue; // lib.rs declares the modules and the one door to them.
        };
        for to in targets(code, "crate::") {
            if to == from || to == "*" {
                continue;
            }
            if !tops.contains(&to) {
                // The crate root's re-exports are for users; inside, name the module.
                wrong.push(format!(
                    "src/{} imports `{to}` from the crate root (name the module that defines it)",
                    rel.display()
                ));
                continue;
            }
            edges.entry(from.clone()).or_default().insert(to.clone());
            if layer_of[&to] >= layer_of[&from] {
                wrong.push(format!(
                    "src/{} (layer {}) imports `{to}` (layer {})",
                    rel.display(),
                    layer_of[&from],
                    layer_of[&to]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not point down:\n{}",
        wrong.join("\n")
    );
    assert_eq!(
        find_circle(&edges),
        None,
        "an import circle between modules"
    );
}

#[test]
fn files_of_a_folder_import_one_way_and_never_from_their_parent() {
    let files = sources();
    // Folder -> its files' module names (`stream` for `reactor/stream.rs`).
    let mut folders: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for (rel, _) in &files {
        if let (Some(dir), Some(stem)) = (rel.parent(), rel.file_stem()) {
            if !dir.as_os_str().is_empty() && stem != "mod" {
                let name = stem.to_string_lossy().to_string();
                folders.entry(dir.to_path_buf()).or_default().insert(name);
            }
        }
    }
    // Submodule folders (`reactor/x/`) count as children too.
    for dir in folders.keys().cloned().collect::<Vec<_>>() {
        if let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) {
            if !parent.as_os_str().is_empty() {
                let name = name.to_string_lossy().to_string();
                folders
                    .entry(parent.to_path_buf())
                    .or_default()
                    .insert(name);
            }
        }
    }
    let mut wrong = Vec::new();
    for (dir, children) in &folders {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let module_path = dir.to_string_lossy().replace('/', "::");
        let parent_defines = files
            .iter()
            .find(|(p, _)| p.parent() == Some(dir) && p.file_stem().is_some_and(|s| s == "mod"))
            .map(|(_, code)| defined_names(code))
            .unwrap_or_default();
        for (rel, code) in files.iter().filter(|(p, _)| p.parent() == Some(dir)) {
            let me = rel.file_stem().unwrap().to_string_lossy().to_string();
            let mut named: BTreeSet<String> = targets(code, &format!("crate::{module_path}::"));
            if me == "mod" {
                named.extend(targets(code, "self::"));
            } else {
                named.extend(targets(code, "super::"));
            }
            for to in named {
                if children.contains(&to) {
                    if to != me {
                        edges.entry(me.clone()).or_default().insert(to);
                    }
                } else if me != "mod" && !parent_defines.contains(&to) {
                    wrong.push(format!(
                        "src/{} takes `{to}` from its parent `{module_path}` (name the sibling \
                         that defines it)",
                        rel.display()
                    ));
                }
            }
        }
        if let Some(circle) = find_circle(&edges) {
            wrong.push(format!(
                "an import circle in src/{}: {}",
                dir.display(),
                circle.join(" -> ")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_imports_of_every_shape() {
    let code = code_of(
        "use crate::{a, b::C};\nuse crate::d::E; // crate::commented\nfn f() { crate::g::h(); }\n\
         #[cfg(test)]\nmod tests {\n    use crate::hidden;\n}\n\
         #[cfg(test)]\nmod more_tests;\nuse crate::after::X;\n",
    );
    let found = targets(&code, "crate::");
    let want: BTreeSet<String> = ["a", "after", "b", "d", "g"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, want);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("x".into()).or_default().insert("y".into());
    assert_eq!(find_circle(&edges), None);
    edges.entry("y".into()).or_default().insert("x".into());
    assert!(find_circle(&edges).is_some());
    let defined = defined_names(
        "mod child;\npub(crate) use child::Reexported;\npub(crate) struct Core {\n    x: u8,\n}\n\
         enum Plain {}\nimpl Core {\n    fn inner() {}\n}\n",
    );
    let want: BTreeSet<String> = ["Core", "Plain"].iter().map(|s| s.to_string()).collect();
    assert_eq!(defined, want);
}
