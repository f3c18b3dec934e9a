use super::*;
use crate::apply::{apply, Review};
use crate::entry::{EntryKind, Timestamp};
use crate::pass::{run_pass, PassConfig, PassInput};
use crate::proposal::ChangeKind;
use crate::review::ReviewHistory;
use crate::store::Scope;
use crate::text::normalize;

fn file(path: &str, content: &str) -> File {
    File { path: path.into(), content: content.into() }
}

/// A Claude Code memory folder with the shapes people's folders have.
fn memory_folder(eol: &str) -> Vec<File> {
    let lines = |ls: &[&str]| ls.join(eol) + eol;
    vec![
        file(
            "memory/MEMORY.md",
            &lines(&[
                "# Memory index",
                "",
                "- [Testing](feedback_testing.md) — how the user wants tests run",
                "- [Deploys](project_deploys.md) — release train",
                "- [Gone](missing.md) — points nowhere",
                "",
                "The user's editor is Vim.",
                "",
            ]),
        ),
        file(
            "memory/feedback_testing.md",
            &lines(&[
                "---",
                "name: Testing",
                "description: how the user wants tests run",
                "type: feedback",
                "---",
                "",
                "- Integration tests hit a real database, never mocks.",
                "  **Why:** mocked tests passed while a migration failed.",
                "- Run `cargo xtask test` before every commit.",
                "* Integration tests must hit a real database, not mocks.",
                "",
                "```sh",
                "- not an entry: this is code",
                "```",
            ]),
        ),
        file(
            "memory/project_deploys.md",
            &lines(&[
                "---",
                "name: Deploys",
                "metadata:",
                "  type: project",
                "---",
                "Deploys go out on Tuesdays.",
                "Deploys go out on Thursdays.",
                "",
                "1. Café Zürich hosts the release party.   ",
                "<!-- reviewer: keep this -->",
                "@docs/release.md",
                "| day | what |",
                "|-----|------|",
            ]),
        ),
        file(
            "CLAUDE.md",
            &lines(&["# Rules", "", "- Use pnpm, not npm.", "- Keep answers short."]),
        ),
    ]
}

fn store_of(imported: &Imported) -> MemoryStore {
    MemoryStore {
        id: Id::new("s").unwrap(),
        version: 1,
        scope: Scope::Private { agent_id: Id::new("a").unwrap() },
        entries: imported.entries.clone(),
    }
}

fn texts(imported: &Imported) -> Vec<(&str, EntryKind)> {
    imported.entries.iter().map(|e| (e.text.as_str(), e.kind)).collect()
}

#[test]
fn a_memory_folder_reads_as_entries_with_their_kinds() {
    let files = memory_folder("\n");
    assert_eq!(Format::detect(&files), Some(Format::Markdown));
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    assert_eq!(
        texts(&imported),
        [
            ("The user's editor is Vim.", EntryKind::Note),
            (
                "Integration tests hit a real database, never mocks.\n**Why:** mocked tests \
                 passed while a migration failed.",
                EntryKind::Instruction
            ),
            ("Run `cargo xtask test` before every commit.", EntryKind::Instruction),
            ("Integration tests must hit a real database, not mocks.", EntryKind::Instruction),
            ("Deploys go out on Tuesdays.\nDeploys go out on Thursdays.", EntryKind::Fact),
            ("Café Zürich hosts the release party.", EntryKind::Fact),
            ("Use pnpm, not npm.", EntryKind::Instruction),
            ("Keep answers short.", EntryKind::Instruction),
        ]
    );
    // Each entry names its file, for reviewers.
    assert_eq!(imported.entries[1].tags, ["file:memory/feedback_testing.md"]);
    // The index line to a missing file is reported, the others are read
    // silently as the index they are.
    assert_eq!(imported.skipped.len(), 1, "{:?}", imported.skipped);
    assert_eq!(imported.skipped[0].path, "memory/MEMORY.md");
    assert_eq!(imported.skipped[0].line, Some(5));
    // Ids are stable: the same bundle read again gives the same ids.
    let again = import(Format::Markdown, &files, Timestamp(9)).unwrap();
    let ids = |i: &Imported| i.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&imported), ids(&again));
}

#[test]
fn export_of_an_unchanged_store_changes_no_file() {
    for eol in ["\n", "\r\n"] {
        let mut files = memory_folder(eol);
        files[0].content.insert(0, '\u{feff}');
        files.push(file("memory/empty.md", ""));
        files.push(file("memory/no_newline.md", "Last line without an end"));
        let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
        let out = export(&imported.layout, &files, &store_of(&imported)).unwrap();
        assert!(out.is_empty(), "{eol:?}: {out:?}");
        // CRLF text reads as the LF text does.
        let lf = import(Format::Markdown, &memory_folder("\n"), Timestamp(0)).unwrap();
        assert_eq!(texts(&imported)[..8], texts(&lf)[..]);
    }
}

#[test]
fn export_patches_only_the_spans_of_changed_entries() {
    let files = memory_folder("\r\n");
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let mut store = store_of(&imported);
    let id = |n: usize| store.entries[n].id.clone();
    let (duplicate, kept, edited, old_day) = (id(3), id(1), id(5), id(4));
    // A duplicate merged into the entry it repeats; a paragraph retired;
    // an item reworded; a new note added.
    store.entries[3].status = Status::Merged { merged_into: kept };
    store.entries[4].status = Status::Pruned { reason: "stale".into() };
    store.entries[5].text = "Café Zürich hosts the release party\non Fridays.".into();
    let mut added = MemoryEntry::new(
        Id::new("n1").unwrap(),
        "Releases are tagged vX.Y.",
        EntryKind::Fact,
        Timestamp(1),
    );
    added.status = Status::Active;
    store.entries.push(added);
    let out = export(&imported.layout, &files, &store).unwrap();
    let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["memory/feedback_testing.md", "memory/project_deploys.md"]);
    let testing = &out[0].content;
    assert!(!testing.contains("must hit a real database"), "{testing}");
    // The new entry goes to the first file with entries that is not the
    // index, as a list item, in its line ends.
    assert_eq!(
        testing,
        &(files[1]
            .content
            .replace("* Integration tests must hit a real database, not mocks.\r\n", "")
            + "- Releases are tagged vX.Y.\r\n")
    );
    let deploys = &out[1].content;
    assert_eq!(
        deploys,
        &files[2]
            .content
            .replace("Deploys go out on Tuesdays.\r\nDeploys go out on Thursdays.\r\n", "")
            .replace(
                "1. Café Zürich hosts the release party.",
                "1. Café Zürich hosts the release party\r\n   on Fridays."
            )
    );
    // Read back, the exported bundle holds what the store holds.
    let mut after = files.clone();
    for f in &out {
        after.iter_mut().find(|a| a.path == f.path).unwrap().content = f.content.clone();
    }
    let reread = import(Format::Markdown, &after, Timestamp(0)).unwrap();
    let mut want: Vec<&str> =
        store.entries.iter().filter(|e| e.is_active()).map(|e| e.text.as_str()).collect();
    let mut got: Vec<&str> = reread.entries.iter().map(|e| e.text.as_str()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let _ = (duplicate, edited, old_day);
}

#[test]
fn an_entry_deleted_from_the_store_is_removed_from_its_file() {
    let files = vec![file("a.md", "- one\n- two\n")];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let mut store = store_of(&imported);
    store.entries.remove(0);
    let out = export(&imported.layout, &files, &store).unwrap();
    assert_eq!(out[0].content, "- two\n");
}

#[test]
fn a_consolidation_takes_the_place_of_its_first_source() {
    let files = vec![file(
        "notes.md",
        "- Acme API needs a token.\n- Other note.\n- Acme API pages at 100.\n",
    )];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let mut store = store_of(&imported);
    let result = MemoryEntry::new(
        Id::new("c1").unwrap(),
        "Acme API needs a token. Acme API pages at 100.",
        EntryKind::Note,
        Timestamp(1),
    );
    for n in [0, 2] {
        store.entries[n].status = Status::Merged { merged_into: result.id.clone() };
    }
    store.entries.push(result);
    let out = export(&imported.layout, &files, &store).unwrap();
    assert_eq!(out[0].content, "- Acme API needs a token. Acme API pages at 100.\n- Other note.\n");
}

#[test]
fn a_real_pass_approved_changes_only_the_spans_it_touched() {
    let files = vec![file(
        "memory/MEMORY.md",
        "# Notes\n\n- The user's editor is Vim.\n- The user's editor is vim.\n- Deploys are on Fridays.\n\n```\n- code stays\n```\n",
    )];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let store = store_of(&imported);
    let config = PassConfig::recommended(Id::new("p1").unwrap(), Timestamp(Timestamp::DAY));
    let history = ReviewHistory::default();
    let input = PassInput::new(&store, &[], &history);
    let out = run_pass(&input, &config).unwrap();
    assert!(!out.proposal.changes.is_empty(), "the duplicate is found");
    let review = Review::approve_all(&out.proposal, "test", Timestamp(Timestamp::DAY));
    let applied = apply(&store, &out.proposal, &review).unwrap();
    let exported = export(&imported.layout, &files, &applied.store).unwrap();
    assert_eq!(exported.len(), 1);
    let text = &exported[0].content;
    assert_eq!(text.matches("editor is").count(), 1, "{text}");
    assert!(text.starts_with("# Notes\n\n- The user's editor is"), "{text}");
    assert!(text.ends_with("- Deploys are on Fridays.\n\n```\n- code stays\n```\n"), "{text}");
}

#[test]
fn bad_bundles_are_refused_with_the_file_and_line() {
    let broken = vec![file("memory/a.md", "---\nname: A\n\n- text\n")];
    let e = import(Format::Markdown, &broken, Timestamp(0)).unwrap_err().to_string();
    assert!(e.contains("memory/a.md:1") && e.contains("never closed"), "{e}");
    let bad_yaml = vec![file("memory/a.md", "---\nname: [unclosed\n---\n- text\n")];
    let e = import(Format::Markdown, &bad_yaml, Timestamp(0)).unwrap_err().to_string();
    assert!(e.contains("memory/a.md:2"), "{e}");
    for path in ["../etc/passwd", "/abs.md", "a/./b.md", "a\\b.md", "", "a//b.md"] {
        let e = import(Format::Markdown, &[file(path, "- x\n")], Timestamp(0));
        assert!(e.is_err(), "{path:?}");
    }
    let twice = vec![file("a.md", "- x\n"), file("a.md", "- y\n")];
    assert!(import(Format::Markdown, &twice, Timestamp(0)).is_err());
    // Export refuses files that are not the ones imported.
    let files = vec![file("a.md", "- x\n")];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let e = export(&imported.layout, &[file("a.md", "- y\n")], &store_of(&imported));
    assert!(e.unwrap_err().to_string().contains("bytes differ"));
}

#[test]
fn unclosed_fences_and_empty_items_are_kept_not_read() {
    let files = vec![file("a.md", "- \n- [ ] \n- real\n```\n- inside\n")];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    assert_eq!(texts(&imported), [("real", EntryKind::Note)]);
    assert!(imported.skipped.iter().any(|s| s.reason.contains("never closed")));
    let out = export(&imported.layout, &files, &store_of(&imported)).unwrap();
    assert!(out.is_empty());
}

#[test]
fn a_layout_that_does_not_fit_its_file_is_refused() {
    let files = vec![file("a.md", "- é x\n- y\n")];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    for (start, end) in [(3, 4), (2, 40), (5, 1)] {
        let mut layout = imported.layout.clone();
        layout.documents[0].spans[0].start = start;
        layout.documents[0].spans[0].end = end;
        let e = export(&layout, &files, &store_of(&imported)).unwrap_err().to_string();
        assert!(e.contains("does not fit"), "{start}..{end}: {e}");
    }
}

#[test]
fn transcripts_in_jsonl_are_not_taken_for_mcp_memory() {
    let transcript = file("session.jsonl", "{\"type\":\"user\",\"uuid\":\"u1\"}\n");
    assert_eq!(Format::detect(&[transcript]), None);
    let memory = file("memory.jsonl", "{\"type\":\"entity\",\"name\":\"A\",\"observations\":[]}\n");
    assert_eq!(Format::detect(std::slice::from_ref(&memory)), Some(Format::McpMemory));
    assert_eq!(Format::detect(&[memory, file("CLAUDE.md", "- x\n")]), None);
}

fn pushed(bundle: &[File], base: Option<Base<'_>>, store: &MemoryStore) -> Synced {
    sync(Format::Markdown, bundle, &[], base, store, Timestamp(0)).unwrap()
}

fn with_added(mut store: MemoryStore, s: &Synced) -> MemoryStore {
    store.entries.extend(s.added.iter().cloned());
    for id in &s.removed {
        store.entries.retain(|e| &e.id != id);
    }
    store
}

fn empty_store() -> MemoryStore {
    MemoryStore {
        id: Id::new("s").unwrap(),
        version: 0,
        scope: Scope::Private { agent_id: Id::new("a").unwrap() },
        entries: Vec::new(),
    }
}

#[test]
fn a_push_again_after_local_edits_adds_and_retires_only_what_moved() {
    let v1 = vec![file("m.md", "- one\n- two\n- three\n"), file("n.md", "- four\n")];
    let first = pushed(&v1, None, &empty_store());
    assert_eq!((first.added.len(), first.unchanged, first.removed.len()), (4, 0, 0));
    let store = with_added(empty_store(), &first);
    // The same files again: nothing to do.
    let base = Base { layout: &first.layout, files: &first.files };
    let same = pushed(&v1, Some(base), &store);
    assert_eq!((same.added.len(), same.unchanged, same.removed.len()), (0, 4, 0));
    // Lines reordered, one removed, one added; n.md left out of the push.
    let v2 = vec![file("m.md", "- three\n- one\n- five\n")];
    let second = pushed(&v2, Some(base), &store);
    assert!(second.conflicts.is_empty());
    assert_eq!(second.added.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["five"]);
    let two = store.entries.iter().find(|e| e.text == "two").unwrap();
    assert_eq!(second.removed, std::slice::from_ref(&two.id));
    assert_eq!(second.unchanged, 2);
    let paths: Vec<&str> = second.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["m.md", "n.md"], "the file left out is carried over");
    // The moved lines keep their ids: exporting the store now changes nothing.
    let store = with_added(store, &second);
    assert!(export(&second.layout, &second.files, &store).unwrap().is_empty());
}

#[test]
fn a_file_changed_here_and_by_a_review_is_a_conflict() {
    let v1 = vec![file("m.md", "- one\n- one again\n"), file("n.md", "- four\n")];
    let first = pushed(&v1, None, &empty_store());
    let mut store = with_added(empty_store(), &first);
    let into = store.entries[0].id.clone();
    store.entries[1].status = Status::Merged { merged_into: into };
    let base = Base { layout: &first.layout, files: &first.files };
    // n.md changed here only, m.md here and in the store.
    let v2 = vec![file("m.md", "- one\n- one again\n- new\n"), file("n.md", "- four\n- five\n")];
    let s = pushed(&v2, Some(base), &store);
    assert_eq!(s.conflicts, ["m.md"]);
    assert!(s.added.is_empty() && s.removed.is_empty(), "nothing of a conflicting push is written");
    // Without m.md's change, n.md alone goes through.
    let v3 = vec![v1[0].clone(), file("n.md", "- four\n- five\n")];
    let s = pushed(&v3, Some(base), &store);
    assert!(s.conflicts.is_empty());
    assert_eq!(s.added.len(), 1);
}

#[test]
fn a_new_entry_never_takes_the_id_of_one_the_store_retired() {
    let v1 = vec![file("m.md", "- one\n")];
    let first = pushed(&v1, None, &empty_store());
    let mut store = with_added(empty_store(), &first);
    store.entries[0].status = Status::Pruned { reason: "stale".into() };
    let again = pushed(&v1, None, &store);
    assert_eq!(again.added.len(), 1);
    assert_ne!(again.added[0].id, store.entries[0].id);
    assert_eq!(again.layout.documents[0].spans[0].entry, again.added[0].id);
}

#[test]
fn another_systems_dream_becomes_typed_changes_on_the_entries_before() {
    let before = vec![file(
        "memory/MEMORY.md",
        "- The user prefers dark mode.\n- User likes dark mode in the editor.\n\
         - Deploys happen on Fridays at 17:00.\n- The VPN host is vpn1.acme.example.\n\
         - Alice leads the billing team.\n- Use pnpm, not npm.\n",
    )];
    let after = vec![file(
        "memory/MEMORY.md",
        "- The user prefers dark mode.\n- Deploys happen on Fridays.\n\
         - Alice leads the billing team and owns invoices.\n- use pnpm, not npm\n\
         - The staging database is read-only.\n",
    )];
    let first = pushed(&before, None, &empty_store());
    let store = with_added(empty_store(), &first);
    let held: Vec<&MemoryEntry> = store.entries.iter().collect();
    let read = import(Format::Markdown, &after, Timestamp(5)).unwrap();
    let p = compare(&store, &held, &read.entries, Id::new("p1").unwrap(), Timestamp(9), 50);
    let text = |id: &Id| store.entries.iter().find(|e| &e.id == id).unwrap().text.as_str();
    let summary: Vec<(ChangeKind, Vec<&str>, Option<&str>)> = p
        .changes
        .iter()
        .map(|c| {
            let targets = c.targets.iter().map(text).collect();
            (c.kind, targets, c.result.as_ref().map(|r| r.text.as_str()))
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                ChangeKind::Merge,
                vec!["The user prefers dark mode.", "User likes dark mode in the editor."],
                Some("The user prefers dark mode.")
            ),
            (
                ChangeKind::Edit,
                vec!["Deploys happen on Fridays at 17:00."],
                Some("Deploys happen on Fridays.")
            ),
            (
                ChangeKind::Edit,
                vec!["Alice leads the billing team."],
                Some("Alice leads the billing team and owns invoices.")
            ),
            (ChangeKind::Add, vec![], Some("The staging database is read-only.")),
            (ChangeKind::Prune, vec!["The VPN host is vpn1.acme.example."], None),
        ]
    );
    // The rewrite that drops "17:00" says so.
    assert!(p.changes[1].justification.contains("does not keep every number"));
    assert!(p.changes[1].confidence < p.changes[2].confidence);
    // Accepted whole, the store holds the after version's entries.
    let review = Review::approve_all(&p, "test", Timestamp(10));
    let applied = apply(&store, &p, &review).unwrap();
    let mut now: Vec<String> = applied.store.active().map(|e| normalize(&e.text)).collect();
    let mut want: Vec<String> = read.entries.iter().map(|e| normalize(&e.text)).collect();
    now.sort();
    want.sort();
    assert_eq!(now, want);
    // And the export writes it into the before files, in their places.
    let out = export(&first.layout, &first.files, &applied.store).unwrap();
    assert_eq!(
        out[0].content,
        "- The user prefers dark mode.\n- Deploys happen on Fridays.\n\
         - Alice leads the billing team and owns invoices.\n- Use pnpm, not npm.\n\
         - The staging database is read-only.\n"
    );
}

const MEM0: &str = r#"{
  "results": [
    {"id": "5e1b", "memory": "Prefers vegetarian food", "hash": "h1", "metadata": null,
     "user_id": "alice", "created_at": "2024-07-20T01:23:45.678901-07:00",
     "updated_at": "2024-07-21T00:00:00Z"},
    {"id": "77aa", "memory": "Is vegetarian", "hash": "h2", "user_id": "alice",
     "created_at": "2024-07-22T10:00:00+00:00"},
    {"id": "9c0d", "memory": "Lives in Berlin", "hash": "h3", "user_id": "alice"}
  ]
}"#;

#[test]
fn a_mem0_listing_reads_under_mem0_ids_and_exports_operations() {
    let files = vec![file("mem0.json", MEM0)];
    assert_eq!(Format::detect(&files), Some(Format::Mem0));
    let imported = import(Format::Mem0, &files, Timestamp(0)).unwrap();
    let ids: Vec<&str> = imported.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["5e1b", "77aa", "9c0d"]);
    assert_eq!(imported.entries[0].tags, ["user_id:alice", "file:mem0.json"]);
    // 2024-07-20T01:23:45.678-07:00 is 08:23:45.678 UTC.
    assert_eq!(imported.entries[0].created_at, Timestamp(1_721_463_825_678));
    assert!(export(&imported.layout, &files, &store_of(&imported)).unwrap().is_empty());
    let mut store = store_of(&imported);
    store.entries[0].status = Status::Merged { merged_into: store.entries[1].id.clone() };
    store.entries[2].text = "Lives in Munich".into();
    store.entries.push(MemoryEntry::new(
        Id::new("n1").unwrap(),
        "Likes tea",
        EntryKind::Fact,
        Timestamp(1),
    ));
    let out = export(&imported.layout, &files, &store).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].path, "mem0.json.operations.json");
    let doc: serde_json::Value = serde_json::from_str(&out[0].content).unwrap();
    assert_eq!(
        doc["operations"],
        serde_json::json!([
            {"op": "delete", "id": "5e1b", "expected_hash": "h1"},
            {"op": "update", "id": "9c0d", "expected_hash": "h3", "text": "Lives in Munich"},
        ])
    );
    assert_eq!(doc["not_sent"][0]["text"], "Likes tea");
}

#[test]
fn memories_of_several_users_are_never_one_store() {
    let two = MEM0.replacen("\"user_id\": \"alice\"", "\"user_id\": \"bob\"", 1);
    let e = import(Format::Mem0, &[file("mem0.json", &two)], Timestamp(0)).unwrap_err();
    assert!(e.to_string().contains("2 owners"), "{e}");
    let bad = import(Format::Mem0, &[file("mem0.json", "{\"results\": 3}")], Timestamp(0));
    assert!(bad.unwrap_err().to_string().contains("mem0.json:1"));
}

#[test]
fn a_service_record_changed_there_is_an_edit_not_a_new_entry() {
    let v1 = vec![file("mem0.json", MEM0)];
    let first = sync(Format::Mem0, &v1, &[], None, &empty_store(), Timestamp(0)).unwrap();
    let store = with_added(empty_store(), &first);
    let v2 = vec![file("mem0.json", &MEM0.replace("Lives in Berlin", "Lives in Munich"))];
    let base = Base { layout: &first.layout, files: &first.files };
    let s = sync(Format::Mem0, &v2, &[], Some(base), &store, Timestamp(0)).unwrap();
    assert!(s.added.is_empty() && s.removed.is_empty(), "{s:?}");
    assert_eq!(s.edited.len(), 1);
    assert_eq!((s.edited[0].id.as_str(), s.edited[0].text.as_str()), ("9c0d", "Lives in Munich"));
}

#[test]
fn a_memory_store_listing_exports_conditional_updates() {
    let listing = r#"{"data":[{"id":"mem_01","path":"/memories/prefs.md","content":"Use tabs.","content_sha256":"ab12"}]}"#;
    let files = vec![file("store.json", listing)];
    assert_eq!(Format::detect(&files), Some(Format::AnthropicMemoryStore));
    let imported = import(Format::AnthropicMemoryStore, &files, Timestamp(0)).unwrap();
    assert_eq!(imported.entries[0].subject.as_deref(), Some("/memories/prefs.md"));
    let mut store = store_of(&imported);
    store.entries[0].text = "Use spaces.".into();
    let out = export(&imported.layout, &files, &store).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&out[0].content).unwrap();
    assert_eq!(
        doc["operations"],
        serde_json::json!([{"op": "update", "id": "mem_01", "expected_hash": "ab12", "text": "Use spaces."}])
    );
}

#[test]
fn a_letta_read_only_block_is_never_read_or_changed() {
    let files = vec![
        file("blocks/persona.md", "---\ndescription: Who I am\nread_only: true\nlimit: 5000\n---\n- I am Sam.\n- I am Sam.\n"),
        file("blocks/human.md", "---\ndescription: The user\nlimit: 5000\n---\n- Likes tea.\n- Likes tea.\n"),
    ];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    assert_eq!(
        texts(&imported),
        [("Likes tea.", EntryKind::Note), ("Likes tea.", EntryKind::Note)]
    );
    assert!(imported
        .skipped
        .iter()
        .any(|s| s.path == "blocks/persona.md" && s.reason.contains("read_only")));
    let mut store = store_of(&imported);
    store.entries[1].status = Status::Merged { merged_into: store.entries[0].id.clone() };
    let out = export(&imported.layout, &files, &store).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].content, "---\ndescription: The user\nlimit: 5000\n---\n- Likes tea.\n");
}

#[test]
fn a_listing_changed_there_and_in_the_store_is_a_conflict() {
    let v1 = vec![file("mem0.json", MEM0)];
    let first = sync(Format::Mem0, &v1, &[], None, &empty_store(), Timestamp(0)).unwrap();
    let mut store = with_added(empty_store(), &first);
    store.entries[2].text = "Lives in Hamburg".into();
    let v2 = vec![file("mem0.json", &MEM0.replace("Lives in Berlin", "Lives in Munich"))];
    let base = Base { layout: &first.layout, files: &first.files };
    let s = sync(Format::Mem0, &v2, &[], Some(base), &store, Timestamp(0)).unwrap();
    assert_eq!(s.conflicts, ["mem0.json"]);
}

#[test]
fn a_push_after_a_pull_finds_the_stores_entries() {
    let v1 = vec![file("m.md", "- one\n- one again\n- two\n")];
    let first = pushed(&v1, None, &empty_store());
    let mut store = with_added(empty_store(), &first);
    let into = store.entries.iter().find(|e| e.text == "one").unwrap().id.clone();
    let dup = store.entries.iter().position(|e| e.text == "one again").unwrap();
    store.entries[dup].status = Status::Merged { merged_into: into };
    let base = Base { layout: &first.layout, files: &first.files };
    // Pulled: the file now holds the store's version.
    let pulled = export(&first.layout, &first.files, &store).unwrap();
    assert_eq!(pulled[0].content, "- one\n- two\n");
    let s = pushed(&pulled, Some(base), &store);
    assert!(s.conflicts.is_empty(), "{s:?}");
    assert_eq!((s.added.len(), s.removed.len(), s.unchanged), (0, 0, 2));
    // And the layout now names the store's entries: nothing to export.
    assert!(export(&s.layout, &s.files, &store).unwrap().is_empty());
}

#[test]
fn a_rule_never_moves_to_another_file() {
    let files = vec![
        file("CLAUDE.md", "- Use pnpm, not npm.\n- Keep answers short.\n"),
        file(
            "memory/MEMORY.md",
            "- Use pnpm, not npm.\n- Answers stay short.\n- Deploys on Fridays.\n",
        ),
    ];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let mut store = store_of(&imported);
    let id = |text: &str, n: usize| {
        store.entries.iter().filter(|e| e.text == text).nth(n).unwrap().id.clone()
    };
    let (rule, note) = (id("Use pnpm, not npm.", 0), id("Use pnpm, not npm.", 1));
    let (short_rule, short_note) = (id("Keep answers short.", 0), id("Answers stay short.", 0));
    // The rule folded into the memory's copy, and the memory's into a rule.
    let i = store.entries.iter().position(|e| e.id == rule).unwrap();
    store.entries[i].status = Status::Merged { merged_into: note };
    let i = store.entries.iter().position(|e| e.id == short_note).unwrap();
    store.entries[i].status = Status::Merged { merged_into: short_rule };
    let out = export(&imported.layout, &files, &store).unwrap();
    // CLAUDE.md keeps its rule; the memory file's copy of the other rule
    // stays too: neither moved across the files.
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_file_deleted_here_takes_its_entries_unless_a_review_changed_them() {
    let v1 = vec![file("m.md", "- one\n- one again\n"), file("n.md", "- four\n- five\n")];
    let first = pushed(&v1, None, &empty_store());
    let store = with_added(empty_store(), &first);
    let base = Base { layout: &first.layout, files: &first.files };
    let gone = vec!["n.md".to_string()];
    let s = sync(Format::Markdown, &v1[..1], &gone, Some(base), &store, Timestamp(0)).unwrap();
    assert_eq!(s.removed.len(), 2);
    assert_eq!(s.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["m.md"]);
    // Changed by a review since: deleting it here is a conflict.
    let mut reviewed = store.clone();
    let i = reviewed.entries.iter().position(|e| e.text == "five").unwrap();
    reviewed.entries[i].text = "five, edited".into();
    let s = sync(Format::Markdown, &v1[..1], &gone, Some(base), &reviewed, Timestamp(0)).unwrap();
    assert_eq!(s.conflicts, ["n.md"]);
    assert!(s.removed.is_empty());
    // A path the last push did not hold, or that is also sent, is refused.
    for bad in [vec!["x.md".to_string()], vec!["m.md".to_string()]] {
        assert!(sync(Format::Markdown, &v1[..1], &bad, Some(base), &store, Timestamp(0)).is_err());
    }
}

#[test]
fn entries_of_another_imports_files_are_not_written_into_these() {
    let laptop = vec![file("a.md", "- Alpha runs on Mondays.\n")];
    let first = pushed(&laptop, None, &empty_store());
    let mut store = with_added(empty_store(), &first);
    let other =
        import(Format::Markdown, &[file("b.md", "- Beta runs on Tuesdays.\n")], Timestamp(0))
            .unwrap();
    store.entries.extend(other.entries);
    assert!(export(&first.layout, &first.files, &store).unwrap().is_empty());
    // A new entry with no file (a pass's add) is still written.
    store.entries.push(MemoryEntry::new(
        Id::new("n1").unwrap(),
        "Gamma.",
        EntryKind::Fact,
        Timestamp(1),
    ));
    let out = export(&first.layout, &first.files, &store).unwrap();
    assert_eq!(out[0].content, "- Alpha runs on Mondays.\n- Gamma.\n");
}

#[test]
fn new_entries_that_would_take_memory_md_past_its_head_go_to_a_topic_file() {
    // An index of 196 lines and no topic file: three new entries fit,
    // ten do not.
    let mut index = String::from("# Memory\n\n");
    for n in 0..194 {
        index.push_str(&format!("- Fact number {n} about the project.\n"));
    }
    let v1 = vec![file("memory/MEMORY.md", &index)];
    let first = pushed(&v1, None, &empty_store());
    let store = with_added(empty_store(), &first);
    let new = |n: usize| {
        let id = Id::new(format!("new{n}")).unwrap();
        MemoryEntry::new(id, format!("New learning {n}."), EntryKind::Fact, Timestamp(5))
    };
    let mut few = store.clone();
    few.entries.extend((0..3).map(new));
    let out = export(&first.layout, &first.files, &few).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].content.lines().count(), 199);
    let mut many = store.clone();
    many.entries.extend((0..10).map(new));
    let out = export(&first.layout, &first.files, &many).unwrap();
    let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["memory/reverie-notes.md", "memory/MEMORY.md"]);
    let (notes, index_out) = (&out[0].content, &out[1].content);
    assert_eq!(
        index_out.strip_prefix(index.as_str()),
        Some("- [Notes from reviews](reverie-notes.md) — memories added in review\n")
    );
    assert!(markdown::loads_whole(index_out));
    assert!(notes.starts_with("---\nname: Notes from reviews\n"));
    assert_eq!(notes.matches("\n- New learning ").count(), 10, "{notes}");
    // The new file reads as Markdown memory, and a push of what was
    // pulled finds the store's entries: nothing added, nothing retired.
    let base = Base { layout: &first.layout, files: &first.files };
    let bundle = vec![file("memory/MEMORY.md", index_out), out[0].clone()];
    let s = pushed(&bundle, Some(base), &many);
    assert!(s.conflicts.is_empty(), "{s:?}");
    assert_eq!((s.added.len(), s.removed.len(), s.unchanged), (0, 0, 204));
    assert!(export(&s.layout, &s.files, &many).unwrap().is_empty());
    // Full to the last line: the notes file is written, with no line for
    // it in an index that would no longer load whole.
    let full: String = index.clone() + "- a\n- b\n- c\n- d\n- e\n- f\n";
    let v2 = vec![file("memory/MEMORY.md", &full)];
    let first = pushed(&v2, None, &empty_store());
    let mut store = with_added(empty_store(), &first);
    store.entries.push(new(0));
    let out = export(&first.layout, &first.files, &store).unwrap();
    assert_eq!(out.len(), 1, "the index itself is unchanged");
    assert_eq!(out[0].path, "memory/reverie-notes.md");
}

#[test]
fn an_entry_replacing_one_of_memory_md_goes_to_a_topic_file_when_there_is_one() {
    let v1 = vec![
        file("MEMORY.md", "- [Editor](editor.md) — editor\n- The user's editor is Vim.\n"),
        file("editor.md", "---\nname: Editor\n---\n\n- Tabs, not spaces.\n"),
    ];
    let first = pushed(&v1, None, &empty_store());
    let mut store = with_added(empty_store(), &first);
    let newer = MemoryEntry::new(
        Id::new("newer").unwrap(),
        "The user's editor is Helix.",
        EntryKind::Fact,
        Timestamp(9),
    );
    let old = store.entries.iter_mut().find(|e| e.text.contains("Vim")).unwrap();
    old.status = Status::Superseded { superseded_by: newer.id.clone(), valid_until: Timestamp(9) };
    store.entries.push(newer);
    let out = export(&first.layout, &first.files, &store).unwrap();
    let by_path: std::collections::HashMap<&str, &str> =
        out.iter().map(|f| (f.path.as_str(), f.content.as_str())).collect();
    assert_eq!(by_path["MEMORY.md"], "- [Editor](editor.md) — editor\n");
    assert_eq!(
        by_path["editor.md"],
        "---\nname: Editor\n---\n\n- Tabs, not spaces.\n- The user's editor is Helix.\n"
    );
}

#[test]
fn mem0_history_dates_the_listings_memories_and_is_never_written() {
    let history = r#"[
      {"id": "h1", "memory_id": "77aa", "old_memory": null, "new_memory": "Eats fish",
       "event": "ADD", "created_at": "2024-07-22T10:00:00+00:00", "updated_at": null},
      {"id": "h2", "memory_id": "77aa", "old_memory": "Eats fish", "new_memory": "Is vegetarian",
       "event": "UPDATE", "created_at": "2024-07-22T10:00:00+00:00",
       "updated_at": "2024-08-01T09:00:00+00:00"},
      {"id": "h3", "memory_id": "9c0d", "old_memory": "Lives in Berlin", "new_memory": null,
       "event": "DELETE", "created_at": "2024-09-01T00:00:00Z", "updated_at": null},
      {"id": "h4", "memory_id": "gone", "old_memory": "x", "event": "DELETE",
       "created_at": "2024-09-02T00:00:00Z"}
    ]"#;
    let files = vec![file("mem0.json", MEM0), file("mem0.history.json", history)];
    assert_eq!(Format::detect(&files), Some(Format::Mem0));
    assert_eq!(Format::detect(&files[1..]), Some(Format::Mem0));
    let imported = import(Format::Mem0, &files, Timestamp(0)).unwrap();
    assert_eq!(imported.entries.len(), 3, "history rows are no entries");
    let at = |id: &str| imported.entries.iter().find(|e| e.id.as_str() == id).unwrap().observed_at;
    // 5e1b's listing says when it changed; 77aa's history does.
    assert_eq!(at("5e1b"), Some(Timestamp(1_721_520_000_000)));
    assert_eq!(at("77aa"), Some(Timestamp(1_722_502_800_000)));
    let reasons: Vec<&str> = imported.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("memory 9c0d was deleted in mem0's history")));
    assert!(reasons.iter().any(|r| r.starts_with("mem0 history, 4 rows of 3 memories")));
    // A review's operations go to the listing; the history is not touched.
    let mut store = store_of(&imported);
    store.entries[2].text = "Lives in Munich".into();
    let out = export(&imported.layout, &files, &store).unwrap();
    let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["mem0.json.operations.json"]);
}

#[test]
fn a_letta_block_never_grows_past_its_limit() {
    let block = "---\ndescription: the user\nlimit: 60\n---\n\n- Name: Priya.\n- Plan: Team.\n";
    let files = vec![file("system/human.md", block)];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let new =
        |text: &str| MemoryEntry::new(Id::new("n1").unwrap(), text, EntryKind::Fact, Timestamp(5));
    // Room for a short one: written into the block.
    let mut store = store_of(&imported);
    store.entries.push(new("Tz: WET."));
    let out = export(&imported.layout, &files, &store).unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].content.ends_with("- Plan: Team.\n- Tz: WET.\n"));
    assert!(markdown::within_limit(&out[0].path, &out[0].content));
    // No room: a block of its own beside it, this one untouched.
    let mut store = store_of(&imported);
    store.entries.push(new("Priya works from Lisbon and prefers calls before noon."));
    let out = export(&imported.layout, &files, &store).unwrap();
    let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["system/reverie-notes.md"]);
    assert!(out[0].content.contains("- Priya works from Lisbon and prefers calls before noon.\n"));
}

#[test]
fn an_instruction_proposed_for_the_rules_goes_into_that_file() {
    let files = vec![
        file("memory/MEMORY.md", "- The user's editor is Helix.\n"),
        file("CLAUDE.md", "# Rules\n\n- Use pnpm, not npm.\n"),
    ];
    let imported = import(Format::Markdown, &files, Timestamp(0)).unwrap();
    let mut store = store_of(&imported);
    let mut rule = MemoryEntry::new(
        Id::new("i1").unwrap(),
        "When you schedule, use CET times, not PST.",
        EntryKind::Instruction,
        Timestamp(5),
    );
    rule.tags.push("file:CLAUDE.md".into());
    store.entries.push(rule);
    let out = export(&imported.layout, &files, &store).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].path, "CLAUDE.md");
    assert_eq!(
        out[0].content,
        "# Rules\n\n- Use pnpm, not npm.\n- When you schedule, use CET times, not PST.\n"
    );
}
