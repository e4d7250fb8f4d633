//! Dependencies point one way: no cycle among the crate's modules (top level, and inside each
//! module's own files), and the two engines do not import from each other. What both share
//! lives below them (engine/, optim/, model/, data/). Read from the `use` paths in src/.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every .rs file under `dir`, as (path relative to src/ without ".rs", its code without unit
/// tests and comments).
fn sources(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let sub = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        if path.is_dir() {
            sources(&path, &sub, out);
        } else if let Some(stem) = sub.strip_suffix(".rs") {
            let text = fs::read_to_string(&path).expect("read source");
            // unit tests may reach anywhere; the crate's own code may not
            let text = match text.find("#[cfg(test)]") {
                Some(i) => &text[..i],
                None => &text[..],
            };
            // code only: a doc link to the other engine is not a dependency
            let code: Vec<&str> = text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect();
            out.push((stem.to_string(), code.join("\n")));
        }
    }
}

/// The module a file belongs to at `depth` (0: top level, 1: a file inside a top-level module).
fn module_of(stem: &str, depth: usize) -> Option<String> {
    let parts: Vec<&str> = stem.split('/').collect();
    let parts: Vec<&str> = match parts.last() {
        Some(&"mod") => parts[..parts.len() - 1].to_vec(),
        _ => parts,
    };
    parts.get(depth).map(|s| s.to_string())
}

/// Identifiers following `prefix` in `text` (`crate::` → "cpu", "gpu", ...).
fn targets(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        let before = text[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[i + prefix.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(n: &str, g: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn crate_sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "", &mut files);
    files.retain(|(stem, _)| stem != "lib" && stem != "main");
    files
}

#[test]
fn top_level_modules_form_no_cycle() {
    let mut g = Graph::new();
    for (stem, text) in crate_sources() {
        let m = module_of(&stem, 0).unwrap();
        let deps = g.entry(m.clone()).or_default();
        deps.extend(targets(&text, "crate::").into_iter().filter(|t| *t != m && t.chars().next().is_some_and(|c| c.is_lowercase())));
    }
    assert!(g.len() > 10, "found only {:?}", g.keys());
    assert_eq!(cycle(&g), None, "a cycle among top-level modules");
}

#[test]
fn files_inside_a_module_form_no_cycle() {
    let files = crate_sources();
    let tops: BTreeSet<String> = files.iter().filter(|(s, _)| s.contains('/')).filter_map(|(s, _)| module_of(s, 0)).collect();
    for top in tops {
        let mut g = Graph::new();
        for (stem, text) in files.iter().filter(|(s, _)| s.starts_with(&format!("{top}/"))) {
            let Some(m) = module_of(stem, 1) else { continue };
            let mut deps: BTreeSet<String> = targets(text, "super::").into_iter().collect();
            deps.extend(targets(text, &format!("crate::{top}::")));
            deps.retain(|d| *d != m && files.iter().any(|(s, _)| module_of(s, 1).as_deref() == Some(d) && s.starts_with(&format!("{top}/"))));
            g.entry(m).or_default().extend(deps);
        }
        assert_eq!(cycle(&g), None, "a cycle among the files of {top}/");
    }
}

#[test]
fn the_engines_do_not_import_each_other() {
    for (stem, text) in crate_sources() {
        let m = module_of(&stem, 0).unwrap();
        let other = match m.as_str() {
            "cpu" => "gpu",
            "gpu" => "cpu",
            _ => continue,
        };
        assert!(!targets(&text, "crate::").contains(other), "src/{stem}.rs imports from crate::{other}");
    }
}

/// The field names of `#[arg(...)]` declarations in `text`: each option's field follows its
/// attribute on the next line (`name: Type` or `pub name: Type`).
fn flag_fields(text: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("#[arg("))
        .filter_map(|w| w[1].trim_start_matches("pub ").split(':').next())
        .map(|name| name.trim().to_string())
        .collect()
}

/// Each option is defined once, in config/sections.rs: no command declares its own copy of a
/// setting train has (it flattens the section instead), so a change of meaning reaches every command.
#[test]
fn commands_do_not_redefine_the_settings() {
    let files = crate_sources();
    let sections = &files.iter().find(|(s, _)| s == "config/sections").expect("config/sections.rs").1;
    let settings = flag_fields(sections);
    assert!(settings.len() > 30 && settings.contains("layers") && settings.contains("dropout"), "found {settings:?}");
    // gradcheck's --batch and --seed size and seed its random batch, not a run (defaults 4 and 0);
    // eval's --seed is optional, defaulting to the seed in the model's metadata; bench's
    // --epochs counts timed epochs of each case; export's --out is the file it writes, not a run directory
    let own: &[(&str, &str)] = &[("cli/gradcheck", "batch"), ("cli/gradcheck", "seed"), ("cli/eval", "seed"), ("cli/bench", "epochs"), ("cli/export", "out")];
    for (stem, text) in files.iter().filter(|(s, _)| s.starts_with("cli/")) {
        for f in flag_fields(text).intersection(&settings) {
            assert!(own.contains(&(stem.as_str(), f.as_str())), "src/{stem}.rs declares its own --{f}; flatten the section that defines it");
        }
    }
}
