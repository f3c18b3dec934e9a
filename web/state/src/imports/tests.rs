use super::*;

fn picked(path: &str, size: u64) -> Picked {
    Picked { path: path.into(), size }
}

fn file(path: &str, content: &str) -> File {
    File { path: path.into(), content: content.into() }
}

fn preview(files: Vec<File>) -> Preview {
    Preview::new(files, &Sorted::default(), Vec::new())
}

#[test]
fn paths_are_relative_to_the_folder_picked() {
    assert_eq!(bundle_path("MEMORY.md", "memory/MEMORY.md"), "MEMORY.md");
    assert_eq!(bundle_path("x.md", "project/docs/x.md"), "docs/x.md");
    // Picked alone, or dropped: the name.
    assert_eq!(bundle_path("topic.md", ""), "topic.md");
    // A relative path without a folder is the name already.
    assert_eq!(bundle_path("topic.md", "topic.md"), "topic.md");
    assert_eq!(bundle_path("a.md", "/memory/a.md"), "a.md");
}

#[test]
fn only_memory_files_outside_hidden_folders_are_read() {
    assert_eq!(leave("MEMORY.md"), None);
    assert_eq!(leave("docs/notes.markdown"), None);
    assert_eq!(leave("memory.jsonl"), None);
    assert_eq!(leave("README.MD"), None);
    assert_eq!(leave(".git/HEAD"), Some(Leave::Hidden));
    assert_eq!(leave(".git/description.md"), Some(Leave::Hidden));
    assert_eq!(leave("docs/.draft.md"), Some(Leave::Hidden));
    assert_eq!(leave("node_modules/pkg/README.md"), Some(Leave::Packages));
    assert_eq!(leave("image.png"), Some(Leave::NotMemory));
    assert_eq!(leave("notes.txt"), None);
    assert_eq!(leave("mem0.json"), None);
    assert_eq!(leave("notes.csv"), Some(Leave::NotMemory));
    assert_eq!(leave("md"), Some(Leave::NotMemory));
}

#[test]
fn sorting_keeps_memory_files_by_path_and_refuses_large_and_doubled_ones() {
    let files = [
        picked("topic.md", 10),
        picked(".git/config", 5),
        picked("MEMORY.md", 20),
        picked("big.md", MAX_FILE_BYTES as u64 + 1),
        picked("logo.png", 100),
        picked("exact.md", MAX_FILE_BYTES as u64),
    ];
    let sorted = sort(&files);
    let paths: Vec<&str> = sorted.read.iter().map(|i| files[*i].path.as_str()).collect();
    assert_eq!(paths, ["MEMORY.md", "exact.md", "topic.md"]);
    assert_eq!(
        sorted.left,
        [(".git/config".to_string(), Leave::Hidden), ("logo.png".to_string(), Leave::NotMemory)]
    );
    assert_eq!(sorted.problems, ["big.md is 1.0 MB; a memory file may be at most 1 MiB."]);

    let doubled = [picked("a.md", 1), picked("a.md", 2)];
    let sorted = sort(&doubled);
    assert_eq!(sorted.read.len(), 1);
    assert_eq!(sorted.problems.len(), 1);
    assert!(sorted.problems[0].starts_with("Two files are named a.md"), "{:?}", sorted.problems);
}

#[test]
fn bytes_that_are_not_utf8_are_refused_naming_the_file() {
    assert_eq!(decode("a.md", b"- x\n".to_vec()), Ok(file("a.md", "- x\n")));
    let err = decode("notes/latin1.md", vec![b'-', b' ', b'c', b'a', b'f', 0xe9, b'\n'])
        .expect_err("not UTF-8");
    assert!(err.starts_with("notes/latin1.md is not UTF-8 text (byte 6"), "{err}");
    let big = decode("big.md", vec![b'a'; MAX_FILE_BYTES + 1]).expect_err("too large");
    assert!(big.starts_with("big.md is 1.0 MB"), "{big}");
}

#[test]
fn the_format_is_chosen_or_told_from_the_files() {
    assert_eq!(Choice::parse("markdown"), Choice::Named(Format::Markdown));
    assert_eq!(Choice::parse("mcp_memory"), Choice::Named(Format::McpMemory));
    assert_eq!(Choice::parse("auto"), Choice::Auto);
    assert_eq!(Choice::parse("other"), Choice::Auto);
    for c in [Choice::Auto, Choice::Named(Format::Markdown), Choice::Named(Format::McpMemory)] {
        assert_eq!(Choice::parse(c.value()), c);
    }

    let md = preview(vec![file("MEMORY.md", "- a\n")]);
    assert_eq!(md.detected(), Some(Format::Markdown));
    assert_eq!(md.format(Choice::Auto), Ok(Format::Markdown));
    assert_eq!(md.format_text(Choice::Auto), "Markdown (told from the files)");
    assert_eq!(md.format(Choice::Named(Format::McpMemory)), Ok(Format::McpMemory));

    let jsonl = "{\"type\":\"entity\",\"name\":\"A\",\"observations\":[\"x\"]}\n";
    let mixed = preview(vec![file("MEMORY.md", "- a\n"), file("memory.jsonl", jsonl)]);
    assert_eq!(mixed.detected(), None);
    assert!(mixed.format(Choice::Auto).is_err());
    assert_eq!(mixed.request(Choice::Auto), None);
    assert!(mixed.request(Choice::Named(Format::Markdown)).is_some());
}

#[test]
fn a_request_is_made_only_when_nothing_stops_it() {
    let ok = preview(vec![file("MEMORY.md", "- a\n"), file("topic.md", "- b\n")]);
    let request = ok.request(Choice::Auto).expect("sendable");
    assert_eq!(request.format, Some(Format::Markdown));
    assert_eq!(request.files, ok.files);
    assert_eq!(ok.button(), "Import 2 files");
    assert_eq!(preview(vec![file("a.md", "")]).button(), "Import 1 file");

    let refused = Preview::new(
        vec![file("MEMORY.md", "- a\n")],
        &Sorted::default(),
        vec!["x.md is not UTF-8 text".into()],
    );
    assert_eq!(refused.request(Choice::Auto), None);

    let empty = Preview::new(Vec::new(), &sort(&[picked("a.png", 1)]), Vec::new());
    assert_eq!(empty.request(Choice::Auto), None);
    assert_eq!(
        empty.empty_text().as_deref(),
        Some("None of the files picked is a memory file (.md, .markdown, .txt, .jsonl or .json).")
    );
    assert_eq!(
        empty.left_text().as_deref(),
        Some(
            "1 file skipped: only .md, .markdown, .txt, .jsonl and .json files outside hidden folders \
             are read."
        )
    );
    assert_eq!(ok.left_text(), None);
    assert_eq!(ok.empty_text(), None);
}

#[test]
fn the_services_limits_are_checked_before_sending() {
    let many: Vec<File> = (0..=MAX_FILES).map(|i| file(&format!("{i}.md"), "- a\n")).collect();
    let p = preview(many);
    assert!(p.problems.iter().any(|m| m.contains("at most 20000:")), "{:?}", p.problems);
    // Newlines are escaped in the body: 17 files of 1 MiB less a little
    // exceed 16 MiB.
    let big = "\n".repeat(MAX_FILE_BYTES - 10);
    let heavy: Vec<File> = (0..9).map(|i| file(&format!("{i}.md"), &big)).collect();
    let p = preview(heavy);
    assert!(p.problems.iter().any(|m| m.contains("at most 16 MiB")), "{:?}", p.problems);
}

#[test]
fn sizes_read_as_people_count_them() {
    assert_eq!(size_text(1), "1 byte");
    assert_eq!(size_text(812), "812 bytes");
    assert_eq!(size_text(4300), "4.2 KB");
    assert_eq!(size_text(1024 * 1024 + 1), "1.0 MB");
    assert_eq!(size_text(3 * 1024 * 1024 / 2), "1.5 MB");
}

/// Built from JSON, as the dashboard reads it.
fn imported(added: usize, removed: usize, unchanged: usize, version: i64) -> Imported {
    serde_json::from_value(serde_json::json!({
        "import_id": "imp_1",
        "store_id": "s",
        "version": version,
        "format": "markdown",
        "files": 2,
        "entries": added + unchanged,
        "added": added,
        "removed": removed,
        "edited": 0,
        "unchanged": unchanged,
        "skipped": [
            { "path": "MEMORY.md", "line": 4, "reason": "points nowhere" },
            { "path": "topic.md", "reason": "no entry" },
        ],
    }))
    .expect("an import's answer")
}

#[test]
fn an_import_is_said_in_sentences() {
    assert_eq!(
        imported_text(&imported(3, 1, 2, 4)),
        "Read 2 files in Markdown: 5 entries. 3 added, 1 removed, 2 unchanged. The store is \
         now at version 4."
    );
    assert_eq!(
        imported_text(&imported(0, 0, 1, 4)),
        "Read 2 files in Markdown: 1 entry. 0 added, 0 removed, 1 unchanged. Nothing new: the \
         store stays at version 4."
    );
    let mut edited = imported(0, 0, 1, 5);
    edited.edited = 2;
    assert_eq!(
        imported_text(&edited),
        "Read 2 files in Markdown: 1 entry. 0 added, 2 edited, 0 removed, 1 unchanged. The \
         store is now at version 5."
    );
    let done = imported(0, 0, 0, 1);
    assert_eq!(skipped_place(&done.skipped[0]), "MEMORY.md:4");
    assert_eq!(skipped_place(&done.skipped[1]), "topic.md");
}

fn export(changed: &[&str], unchanged: usize) -> StoreExport {
    StoreExport {
        store_id: "s".into(),
        version: 3,
        import_id: "imp_1".into(),
        format: Format::Markdown,
        changed: changed.iter().map(|p| file(p, "- x\n")).collect(),
        unchanged,
    }
}

#[test]
fn an_export_is_said_in_a_sentence() {
    assert_eq!(
        export_text(&export(&[], 3)),
        "Nothing changed at version 3: the 3 files are as imported."
    );
    assert_eq!(
        export_text(&export(&[], 1)),
        "Nothing changed at version 3: the file is as imported."
    );
    assert_eq!(
        export_text(&export(&["CLAUDE.md"], 2)),
        "At version 3, 1 file changed since the import; 2 are as imported."
    );
    assert_eq!(
        export_text(&export(&["a.md", "b.md"], 1)),
        "At version 3, 2 files changed since the import; 1 is as imported."
    );
}

#[test]
fn versions_are_whole_numbers_or_the_latest() {
    assert_eq!(parse_version(""), Ok(None));
    assert_eq!(parse_version("  "), Ok(None));
    assert_eq!(parse_version("3"), Ok(Some(3)));
    assert_eq!(parse_version(" 0 "), Ok(Some(0)));
    assert!(parse_version("-1").is_err());
    assert!(parse_version("1.5").is_err());
    assert!(parse_version("abc").expect_err("not a number").contains("abc"));
}

#[test]
fn downloads_are_named_by_the_files_base_name() {
    assert_eq!(base_name("memory/MEMORY.md"), "MEMORY.md");
    assert_eq!(base_name("CLAUDE.md"), "CLAUDE.md");
    assert_eq!(base_name("a/b/c.jsonl"), "c.jsonl");
}

#[test]
fn a_failed_import_says_what_to_do_next() {
    assert_eq!(failure_hint(Some(409)), CONFLICT_HINT);
    assert!(failure_hint(Some(422)).contains("fix the file"));
    assert!(failure_hint(None).contains("cannot be reached"));
    assert!(failure_hint(Some(403)).contains("ingest token"));
    assert!(failure_hint(Some(500)).contains("try again"));
}

#[test]
fn session_logs_picked_beside_memory_are_sent_as_sessions() {
    let log = concat!(
        r#"{"type":"user","uuid":"u1","parentUuid":null,"sessionId":"s-1","message":{"role":"user","content":"I use Helix."},"timestamp":"2026-01-01T10:00:00Z"}"#,
        "\n"
    );
    let responses = r#"{"input":[{"role":"user","content":"Prices in euros, always."}]}"#;
    let memory = "{\"type\":\"entity\",\"name\":\"Ann\",\"entityType\":\"person\",\"observations\":[\"x\"]}\n";
    let p = preview(vec![
        file("memory.jsonl", memory),
        file("3f2b-run.jsonl", log),
        file("run-7.json", responses),
    ]);
    let paths = |fs: &[File]| fs.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&p.files), ["memory.jsonl"]);
    assert_eq!(paths(&p.transcripts), ["3f2b-run.jsonl", "run-7.json"]);
    assert_eq!(p.button(), "Import 1 file and send 2 sessions");
    let sessions = p.sessions();
    assert_eq!(sessions[0].id.as_deref(), Some("3f2b-run"));
    assert_eq!(sessions[0].transcript.get(), serde_json::to_string(log).unwrap());
    assert_eq!(
        (sessions[1].id.as_deref(), sessions[1].transcript.get()),
        (Some("run-7"), responses)
    );
    // Transcripts alone may be sent.
    let alone = preview(vec![file("run-7.json", responses)]);
    assert!(alone.request(Choice::Auto).is_none());
    assert!(alone.sendable(Choice::Auto));
    assert_eq!(alone.button(), "Send 1 session");
    assert_eq!(alone.empty_text(), None);
    assert_eq!(sessions_text(1, 1, &[]), "Sent 1 session (1 there already).");
}
