//! The server's import rules, checked over the source text: every
//! `crate::<layer>` reference in `server/src/<layer>/**.rs` must point to a
//! layer below (or its own), the layer graph has no cycle, and the web,
//! OpenAPI and SQL crates stay in their layers.
//!
//! Layers, top to bottom: `cli` → `http` → `domain` → {`crypto`, `storage`}
//! → `util`. `crypto` and `storage` do not import each other; the CLI
//! reaches storage only through the domain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers each layer may import (besides itself).
const ALLOWED: [(&str, &[&str]); 6] = [
    ("cli", &["http", "domain", "crypto", "util"]),
    ("http", &["domain", "crypto", "util"]),
    ("domain", &["crypto", "storage", "util"]),
    ("crypto", &["util"]),
    ("storage", &["util"]),
    ("util", &[]),
];

/// External crates and the layers (folders) that may name them; `main.rs`
/// and `lib.rs` may name none of them.
const CONFINED: [(&str, &[&str]); 7] = [
    ("axum::", &["http", "cli"]),
    ("axum_server::", &["http", "cli"]),
    ("utoipa::", &["http"]),
    ("ToSchema", &["http"]),
    ("tower_http::", &["http"]),
    ("hyper_util::", &["http"]),
    ("sqlx::", &["storage"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments (doc comments name other layers in
/// links and prose, which is not an import).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to: its folder under `src`, or its
/// file name for a flat layout (`src/api.rs` → `api`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    first.unwrap_or_default().trim_end_matches(".rs").to_owned()
}

/// `crate::x` (and `crate::{x, y}`) references of a file.
fn references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        if i > 0 {
            let before = code[..i].chars().next_back().unwrap_or(' ');
            if before.is_ascii_alphanumeric() || before == '_' {
                continue; // e.g. `paysecure_crate::`
            }
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name = ident(part.trim());
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The module graph of a source tree: module → modules it references.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(src, &file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let refs = references(&code_of(&text));
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(refs.into_iter().filter(|r| *r != module));
    }
    graph
}

/// Every elementary cycle of the graph (each once, starting at its
/// smallest module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        let Some(last) = path.last().cloned() else {
            return;
        };
        for next in graph.get(&last).into_iter().flatten() {
            if next == start {
                out.push(path.clone());
            } else if next.as_str() > start && !path.contains(next) {
                path.push(next.clone());
                walk(graph, start, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    for start in graph.keys() {
        walk(graph, start, &mut vec![start.clone()], &mut out);
    }
    out
}

fn print_graph(graph: &BTreeMap<String, BTreeSet<String>>) {
    for (module, refs) in graph {
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        println!("  {module} -> {}", refs.join(", "));
    }
}

#[test]
fn layers_import_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    println!("layer graph of server/src:");
    print_graph(&graph);
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.into_iter().collect();
    let mut violations = Vec::new();
    for (module, refs) in &graph {
        let Some(may) = allowed.get(module.as_str()) else {
            violations.push(format!("{module}: not a layer (put it in one)"));
            continue;
        };
        for r in refs {
            if !may.contains(&r.as_str()) {
                violations.push(format!("{module} imports {r}"));
            }
        }
    }
    let found = cycles(&graph);
    println!("cycles: {}", found.len());
    for c in &found {
        violations.push(format!("cycle: {}", c.join(" -> ")));
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn framework_crates_stay_in_their_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let module = module_of(&src, &file);
        let code = code_of(&std::fs::read_to_string(&file).unwrap_or_default());
        for (name, layers) in CONFINED {
            if code.contains(name) && !layers.contains(&module.as_str()) {
                violations.push(format!("{} names {name}", file.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

/// The protocol core and the wasm facade: no module cycle in either, and
/// the core names no JavaScript binding (the server links it).
#[test]
fn core_and_facade_have_no_module_cycles() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut violations = Vec::new();
    for (name, src) in [
        ("crates/core/src", workspace.join("crates/core/src")),
        ("src", workspace.join("src")),
    ] {
        let graph = graph(&src);
        assert!(graph.len() > 5, "{name}: no modules found");
        println!("module graph of {name}:");
        print_graph(&graph);
        for c in cycles(&graph) {
            violations.push(format!("{name}: cycle {}", c.join(" -> ")));
        }
    }
    let core = workspace.join("crates/core/src");
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap_or_default());
        for name in ["wasm_bindgen", "js_sys", "web_sys"] {
            if code.contains(name) {
                violations.push(format!("{} names {name}", file.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}
