//! Every memory fixture under `tests/fixtures/memory/` (one folder per
//! case, written for these tests in each format's shapes: CRLF, a BOM,
//! trailing spaces, an empty file, index lines pointing at missing files,
//! an orphan topic file, non-ASCII names, read-only blocks) goes through
//! import, a real pass, approval and export:
//!
//! - exported with nothing changed, every file is as it was;
//! - after the approved proposal, every byte outside the entries it
//!   changed is kept, in order, and read-only files are never written;
//! - a listing (mem0's, a memory store's) is never rewritten: its export
//!   is operations naming only ids it holds.
//!
//! `cargo test -p reverie-core --test round_trip -- --nocapture` prints a
//! line per fixture.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use reverie_core::apply::{apply, Review};
use reverie_core::formats::{export, import, File, Format, Layout};
use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::{Id, MemoryEntry, MemoryStore, Scope, Timestamp};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/memory")
}

/// Every file under `dir` but hidden ones (hidden folders, such as
/// `.claude/`, are read), by its `/`-separated path.
fn bundle(dir: &Path) -> Vec<File> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.file_name().unwrap().to_string_lossy().starts_with('.') {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.push(File { path: rel, content: fs::read_to_string(&path).unwrap() });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn store(entries: Vec<MemoryEntry>) -> MemoryStore {
    MemoryStore {
        id: Id::new("s").unwrap(),
        version: 1,
        scope: Scope::Private { agent_id: Id::new("a").unwrap() },
        entries,
    }
}

/// The parts of `content` outside `changed` byte ranges, in order.
fn kept_parts(content: &str, mut changed: Vec<(usize, usize)>) -> Vec<&str> {
    changed.sort_unstable();
    let mut parts = Vec::new();
    let mut at = 0;
    for (start, end) in changed {
        if start > at {
            parts.push(&content[at..start]);
        }
        at = at.max(end);
    }
    parts.push(&content[at..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// Whether `parts` appear in `text` in order, apart.
fn appear_in_order(parts: &[&str], text: &str) -> bool {
    let mut at = 0;
    for p in parts {
        match text[at..].find(p) {
            Some(i) => at += i + p.len(),
            None => return false,
        }
    }
    true
}

/// Byte ranges of the entries `after` changed (retired, reworded, gone).
fn changed_ranges(
    layout: &Layout,
    before: &MemoryStore,
    after: &MemoryStore,
) -> HashMap<String, Vec<(usize, usize)>> {
    let was: HashMap<&str, &MemoryEntry> =
        before.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let now: HashMap<&str, &MemoryEntry> =
        after.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut out: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    for doc in &layout.documents {
        for s in &doc.spans {
            let id = s.entry.as_str();
            let same = match (was.get(id), now.get(id)) {
                (Some(a), Some(b)) => a.text == b.text && a.status == b.status,
                _ => false,
            };
            if !same {
                out.entry(doc.path.clone()).or_default().push((s.remove_start, s.remove_end));
            }
        }
    }
    out
}

#[test]
fn every_fixture_round_trips_and_a_review_changes_only_its_entries() {
    let mut cases: Vec<PathBuf> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "{cases:?}");
    let now = Timestamp(1_767_225_600_000);
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let files = bundle(&case);
        let format = Format::detect(&files).unwrap_or_else(|| panic!("{name}: format not told"));
        let imported = import(format, &files, now).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!imported.entries.is_empty(), "{name}: no entries read");
        let before = store(imported.entries.clone());
        // Nothing changed: nothing written.
        let same = export(&imported.layout, &files, &before).unwrap();
        assert!(same.is_empty(), "{name}: an unchanged store rewrote {same:?}");

        // A real pass, every change approved.
        let config = PassConfig::recommended(Id::new("p").unwrap(), Timestamp(now.0 + 1000));
        let history = ReviewHistory::default();
        let input = PassInput::new(&before, &[], &history);
        let proposal = run_pass(&input, &config).unwrap().proposal;
        let review = Review::approve_all(&proposal, "test", Timestamp(now.0 + 2000));
        let after = apply(&before, &proposal, &review).unwrap().store;
        let out = export(&imported.layout, &files, &after).unwrap();
        let ranges = changed_ranges(&imported.layout, &before, &after);
        let original: HashMap<&str, &str> =
            files.iter().map(|f| (f.path.as_str(), f.content.as_str())).collect();
        let mut bytes_kept = 0;
        for f in &out {
            if format.is_listing() {
                // Operations by id, never the listing rewritten.
                let listing = f.path.strip_suffix(".operations.json").expect("an operations file");
                let ops: serde_json::Value = serde_json::from_str(&f.content).unwrap();
                for op in ops["operations"].as_array().unwrap() {
                    let id = op["id"].as_str().unwrap();
                    assert!(original[listing].contains(id), "{name}: operation on {id}");
                }
                continue;
            }
            let Some(was) = original.get(f.path.as_str()) else {
                // A file the export made: only MEMORY.md's overflow.
                assert!(f.path.ends_with(".md"), "{name}: made {}", f.path);
                continue;
            };
            let changed = ranges.get(&f.path).cloned().unwrap_or_default();
            assert!(
                !changed.is_empty() || f.content.starts_with(*was),
                "{name}: {} rewritten",
                f.path
            );
            let parts = kept_parts(was, changed);
            assert!(
                appear_in_order(&parts, &f.content),
                "{name}: {} lost bytes outside the entries changed:\n{was}\n---\n{}",
                f.path,
                f.content
            );
            assert!(!was.contains("read_only: true"), "{name}: read-only {} written", f.path);
            bytes_kept += parts.iter().map(|p| p.len()).sum::<usize>();
        }
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for c in &proposal.changes {
            *kinds.entry(format!("{:?}", c.kind).to_lowercase()).or_default() += 1;
        }
        let total: usize =
            out.iter().filter_map(|f| original.get(f.path.as_str())).map(|c| c.len()).sum();
        println!(
            "{name:<18} {format:?}: {} files, {} entries, {} skipped; unchanged export: 0 files \
             written; approved {:?}: {} files written, {bytes_kept} of their {total} bytes kept",
            files.len(),
            imported.entries.len(),
            imported.skipped.len(),
            kinds,
            out.len(),
        );
    }
}
