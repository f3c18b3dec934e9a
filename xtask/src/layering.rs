//! A check of the crates' layering, run with the native tests: within the
//! worker, the dashboard and the command-line client, no module uses
//! another that uses it back, directly or through others (the crate root,
//! `lib.rs` or `main.rs`, which wires the modules together, aside).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules of `src` (`*.rs` files, and folders with a `mod.rs`, read
/// whole) and the sibling modules each names through `crate::`.
fn uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let read = |p: &Path| {
        std::fs::read_dir(p)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", p.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect::<Vec<_>>()
    };
    let mut modules: BTreeMap<String, String> = BTreeMap::new();
    for path in read(src) {
        let name = path.file_stem().expect("entries have names").to_string_lossy().into_owned();
        if path.extension().is_some_and(|x| x == "rs") && name != "lib" && name != "main" {
            modules.insert(name, std::fs::read_to_string(&path).expect("readable source"));
        } else if path.join("mod.rs").is_file() {
            let text: String = read(&path)
                .iter()
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .map(|p| std::fs::read_to_string(p).expect("readable source"))
                .collect();
            modules.insert(name, text);
        }
    }
    let names: BTreeSet<&String> = modules.keys().collect();
    let mut out = BTreeMap::new();
    for (module, text) in &modules {
        let mut used = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                used.extend(group.split(',').map(|w| w.trim().split("::").next().unwrap_or("")));
            } else {
                used.insert(
                    rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or(""),
                );
            }
        }
        let used: BTreeSet<String> = used
            .into_iter()
            .filter(|u| names.contains(&u.to_string()) && u != module)
            .map(str::to_string)
            .collect();
        out.insert(module.clone(), used);
    }
    out
}

/// A cycle through the modules, as a path that ends where it starts.
fn cycle(uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        m: &'a str,
        uses: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| *p == m) {
            let mut found: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
            found.push(m.to_string());
            return Some(found);
        }
        if !done.insert(m) {
            return None;
        }
        path.push(m);
        for next in uses.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, uses, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    uses.keys().find_map(|m| visit(m, uses, &mut Vec::new(), &mut done))
}

#[test]
fn worker_dashboard_and_cli_modules_do_not_use_each_other_in_a_circle() {
    for krate in ["worker/src", "web/src", "cli/src"] {
        let uses = uses(&crate::root().join(krate));
        assert!(uses.len() > 5, "{krate}: modules not found");
        if krate == "worker/src" {
            assert!(uses.contains_key("repo"), "a folder module (repo/) is read too");
        }
        if let Some(c) = cycle(&uses) {
            panic!("{krate}: modules use each other in a circle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn a_circle_is_found() {
    let uses: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec![])]
            .into_iter()
            .map(|(m, u)| (m.to_string(), u.into_iter().map(str::to_string).collect()))
            .collect();
    assert_eq!(cycle(&uses).map(|c| c.len()), Some(4));
}
