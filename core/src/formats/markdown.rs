//! Markdown memory files: Claude Code's memory folder (`MEMORY.md` and
//! topic files) and the `CLAUDE.md` family. Each list item, and each
//! paragraph outside a list, is an entry. Front matter, headings, code
//! fences, `@path` imports, HTML comments, tables, rules and the index
//! lines of `MEMORY.md` are never entries and are written back as read.

use std::collections::HashSet;

use crate::entry::{EntryKind, MemoryEntry, Provenance, Timestamp, Trust};
use crate::error::{Error, Result};

use super::{entry_id, line_of, Fate, File, Skipped, Span};

/// A line of a file: where it starts, where its text ends (before `\r\n`
/// or `\n`), and where the next line starts.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

fn lines(text: &str, from: usize) -> impl Iterator<Item = Line> + '_ {
    let mut at = from;
    std::iter::from_fn(move || {
        if at >= text.len() {
            return None;
        }
        let rest = &text[at..];
        let (end, next) = match rest.find('\n') {
            Some(i) => (at + i, at + i + 1),
            None => (text.len(), text.len()),
        };
        let end = if text[..end].ends_with('\r') { end - 1 } else { end };
        let line = Line { start: at, end, next };
        at = next;
        Some(line)
    })
}

/// What the file's name and front matter say its entries are.
struct Kinds {
    kind: EntryKind,
    trust: Trust,
    /// `MEMORY.md`: lines that link to topic files are its index.
    index: bool,
}

/// Whether the file at `path` is Claude Code's memory index, `MEMORY.md`,
/// of which only the first [`INDEX_LINES`] lines and [`INDEX_BYTES`] bytes
/// load into a session.
pub(super) fn is_index(path: &str) -> bool {
    path.rsplit('/').next() == Some("MEMORY.md")
}

/// The lines of `MEMORY.md` that load at the start of a session.
pub(super) const INDEX_LINES: usize = 200;

/// The bytes of `MEMORY.md` that load (25 KB).
pub(super) const INDEX_BYTES: usize = 25_000;

/// Whether an index of `content` loads whole.
pub(super) fn loads_whole(content: &str) -> bool {
    content.len() <= INDEX_BYTES && content.lines().count() <= INDEX_LINES
}

/// New entries that would take the file at `path` past what loads (the
/// index) or its `limit` (a Letta block): the file written without them
/// (an index with a line pointing at the file that holds them, when that
/// line still loads), and that file, at the first free name
/// `reverie-notes[-k].md` beside it.
pub(super) fn overflow(
    path: &str,
    content: &str,
    spans: &[Span],
    fates: &[Fate<'_>],
    appended: &[&MemoryEntry],
    taken: impl Fn(&str) -> bool,
) -> (String, super::File) {
    let dir = path.rfind('/').map_or("", |i| &path[..=i]);
    let name = (1..)
        .map(|k| match k {
            1 => "reverie-notes.md".to_string(),
            k => format!("reverie-notes-{k}.md"),
        })
        .find(|n| !taken(&format!("{dir}{n}")))
        .expect("some name is free");
    let eol = super::line_end(content);
    let mut index = write(content, spans, fates, &[]);
    let mut with_line = index.clone();
    if !with_line.is_empty() && !with_line.ends_with('\n') {
        with_line.push_str(eol);
    }
    with_line.push_str(&format!("- [Notes from reviews]({name}) — memories added in review{eol}"));
    if is_index(path) && loads_whole(&with_line) {
        index = with_line;
    }
    let head = format!(
        "---{eol}name: Notes from reviews{eol}description: memories added in review, kept \
         out of a file that had no room for them{eol}type: project{eol}---{eol}{eol}"
    );
    let notes = write(&head, &[], &[], appended);
    (index, super::File { path: format!("{dir}{name}"), content: notes })
}

/// Whether the file at `path` holds a team's rules for the agent: the
/// `CLAUDE.md` family. A rule never moves to another file.
pub(super) fn is_rules_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "CLAUDE.md"
        || name == "CLAUDE.local.md"
        || path.starts_with(".claude/rules/")
        || path.contains("/.claude/rules/")
}

fn kinds_of(path: &str, memory_type: Option<&str>) -> Kinds {
    let name = path.rsplit('/').next().unwrap_or(path);
    if is_rules_file(path) {
        // Written by the team for the agent: standing instructions.
        return Kinds { kind: EntryKind::Instruction, trust: Trust::User, index: false };
    }
    let kind = match memory_type {
        Some("feedback") => EntryKind::Instruction,
        Some("user" | "project" | "reference") => EntryKind::Fact,
        _ => EntryKind::Note,
    };
    // The memory folder is written by the agent.
    Kinds { kind, trust: Trust::Agent, index: is_index(name) }
}

/// Reads one file's entries into `entries`, returning their spans.
pub(super) fn read(
    f: &File,
    paths: &HashSet<&str>,
    created_at: Timestamp,
    entries: &mut Vec<MemoryEntry>,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Span>> {
    let text = f.content.as_str();
    let body_start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let FrontMatter { body: body_start, memory_type, read_only, .. } =
        front_matter(&f.path, &f.content, body_start)?;
    if read_only {
        // Letta's read-only blocks: the agent may not change them, nor may
        // a review.
        skipped.push(Skipped {
            path: f.path.clone(),
            line: None,
            reason: "read_only: kept as it is; a review never changes it".into(),
        });
        return Ok(Vec::new());
    }
    let kinds = kinds_of(&f.path, memory_type.as_deref());
    let mut spans = Vec::new();
    let mut block: Option<Span> = None;
    let mut fence: Option<(u8, usize)> = None;
    let mut comment = false;
    let mut flush = |block: &mut Option<Span>, spans: &mut Vec<Span>| {
        let Some(mut span) = block.take() else { return };
        // Trailing spaces end a line, not the entry's text.
        span.end = span.start + text[span.start..span.end].trim_end().len();
        let raw = &text[span.start..span.end];
        let line = line_of(text, span.start);
        let skip = |reason: String| Skipped { path: f.path.clone(), line: Some(line), reason };
        if kinds.index {
            if let Some(target) = index_target(raw) {
                if !paths.contains(sibling(&f.path, target).as_str()) {
                    skipped.push(skip(format!(
                        "the index points at {target}, which is not in the bundle"
                    )));
                }
                return;
            }
        }
        let entry_text = entry_text(raw);
        if entry_text.trim().is_empty() {
            return;
        }
        if entry_text.len() > crate::MAX_TEXT_BYTES {
            skipped.push(skip(format!(
                "{} bytes, longer than an entry may be ({}); kept as it is",
                entry_text.len(),
                crate::MAX_TEXT_BYTES
            )));
            return;
        }
        span.entry = entry_id(&f.path, spans.len());
        let mut e = MemoryEntry::new(span.entry.clone(), entry_text, kinds.kind, created_at);
        e.provenance = Provenance { trust: kinds.trust, sources: Vec::new() };
        entries.push(e);
        spans.push(span);
    };
    for line in lines(text, body_start) {
        let raw = &text[line.start..line.end];
        let t = raw.trim_start();
        let indent = raw.len() - t.len();
        if let Some((c, n)) = fence {
            let run = t.bytes().take_while(|&b| b == c).count();
            if run >= n && t[run..].trim().is_empty() {
                fence = None;
            }
            continue;
        }
        if comment {
            comment = !raw.contains("-->");
            continue;
        }
        let fence_run = |c: u8| t.bytes().take_while(|&b| b == c).count();
        let opens = if fence_run(b'`') >= 3 {
            Some((b'`', fence_run(b'`')))
        } else if fence_run(b'~') >= 3 {
            Some((b'~', fence_run(b'~')))
        } else {
            None
        };
        if opens.is_some() {
            flush(&mut block, &mut spans);
            fence = opens;
            continue;
        }
        if t.starts_with("<!--") {
            flush(&mut block, &mut spans);
            comment = !t.contains("-->");
            continue;
        }
        let opaque = t.is_empty()
            || is_heading(t)
            || (t.starts_with('@') && !t.contains(char::is_whitespace))
            || t.starts_with('|')
            || is_rule(t);
        if opaque {
            flush(&mut block, &mut spans);
            continue;
        }
        if let Some(marker) = list_marker(t) {
            flush(&mut block, &mut spans);
            let start = line.start + indent + marker;
            block = Some(Span {
                entry: entry_id(&f.path, 0),
                start,
                end: line.end.max(start),
                remove_start: line.start,
                remove_end: line.next,
            });
            continue;
        }
        match &mut block {
            // A line of text continues the item or paragraph above it.
            Some(span) => {
                span.end = line.end;
                span.remove_end = line.next;
            }
            None => {
                block = Some(Span {
                    entry: entry_id(&f.path, 0),
                    start: line.start + indent,
                    end: line.end,
                    remove_start: line.start,
                    remove_end: line.next,
                })
            }
        }
    }
    flush(&mut block, &mut spans);
    if fence.is_some() {
        skipped.push(Skipped {
            path: f.path.clone(),
            line: None,
            reason: "a code fence is never closed; what follows it was kept as code".into(),
        });
    }
    Ok(spans)
}

/// Reads the YAML front matter, if the file opens with one: where the body
/// starts, the memory type it names (`type:`, or `metadata: {type:}`), and
/// whether it is read-only (Letta's `read_only: true`).
/// What a file's front matter says.
#[derive(Default)]
struct FrontMatter {
    /// Where the body starts.
    body: usize,
    /// `type`, or `metadata.type` (Claude Code).
    memory_type: Option<String>,
    /// `read_only: true` (Letta).
    read_only: bool,
    /// `limit`: the most characters the body may hold (Letta).
    limit: Option<usize>,
}

fn front_matter(path: &str, text: &str, from: usize) -> Result<FrontMatter> {
    let none = FrontMatter { body: from, ..FrontMatter::default() };
    let mut it = lines(text, from);
    let Some(first) = it.next() else { return Ok(none) };
    if text[first.start..first.end].trim_end() != "---" {
        return Ok(none);
    }
    let Some(close) = it.find(|l| matches!(text[l.start..l.end].trim_end(), "---" | "...")) else {
        return Err(Error::invalid(
            format!("{path}:{}", line_of(text, first.start)),
            "the front matter opened here is never closed with `---`",
        ));
    };
    let yaml = &text[first.next..close.start];
    if yaml.trim().is_empty() {
        return Ok(FrontMatter { body: close.next, ..FrontMatter::default() });
    }
    let tree = crate::yaml::to_json(yaml).map_err(|e| {
        Error::invalid(
            format!("{path}:{}", line_of(text, first.next)),
            format!("front matter: {e}"),
        )
    })?;
    let memory_type = tree
        .get("type")
        .or_else(|| tree.get("metadata").and_then(|m| m.get("type")))
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    let read_only = tree.get("read_only").and_then(|v| v.as_bool()).unwrap_or(false);
    let limit = tree.get("limit").and_then(|v| v.as_u64()).map(|n| n as usize);
    Ok(FrontMatter { body: close.next, memory_type, read_only, limit })
}

/// Whether the body of a file of `content` (after its front matter) holds
/// no more characters than the front matter's `limit` (Letta's blocks), if
/// it says one.
pub(super) fn within_limit(path: &str, content: &str) -> bool {
    let from = if content.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    match front_matter(path, content, from) {
        Ok(FrontMatter { body, limit: Some(limit), .. }) => {
            content[body..].chars().count() <= limit
        }
        _ => true,
    }
}

/// An entry's text from its span's bytes: continuation lines lose their
/// indentation and `\r`, so the text reads the same whatever the file's
/// line ends and list depth.
pub(super) fn entry_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.push_str(if i == 0 { line } else { line.trim_start() });
    }
    out
}

fn is_heading(t: &str) -> bool {
    let hashes = t.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes) && t[hashes..].chars().next().is_none_or(char::is_whitespace)
}

/// `---`, `***`, `___` (a thematic break), possibly spaced.
fn is_rule(t: &str) -> bool {
    let t = t.trim_end();
    let Some(c) = t.chars().next() else { return false };
    matches!(c, '-' | '*' | '_')
        && t.chars().filter(|&x| x == c).count() >= 3
        && t.chars().all(|x| x == c || x == ' ')
}

/// The length of a list marker and the spaces after it (`- `, `* `, `+ `,
/// `1. `, `1) `, and a task box `[ ] ` or `[x] ` after it).
fn list_marker(t: &str) -> Option<usize> {
    let b = t.as_bytes();
    let mut n = if matches!(b.first(), Some(b'-' | b'*' | b'+')) {
        1
    } else {
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if (1..=9).contains(&digits) && matches!(b.get(digits), Some(b'.' | b')')) {
            digits + 1
        } else {
            return None;
        }
    };
    if b.len() > n && b[n] != b' ' && b[n] != b'\t' {
        return None;
    }
    n += b[n..].iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
    for task in ["[ ] ", "[x] ", "[X] "] {
        if t[n..].starts_with(task) {
            n += task.len();
        }
    }
    Some(n)
}

/// The file an index line of `MEMORY.md` points at: `[Title](file.md) ...`.
fn index_target(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('[')?;
    let close = rest.find("](")?;
    let target = &rest[close + 2..];
    let target = &target[..target.find(')')?];
    (target.ends_with(".md") && !target.contains("://")).then_some(target)
}

/// The bundle path of `target`, relative to the file at `path`.
fn sibling(path: &str, target: &str) -> String {
    match path.rfind('/') {
        Some(i) => format!("{}/{}", &path[..i], target.trim_start_matches("./")),
        None => target.trim_start_matches("./").to_owned(),
    }
}

/// The file with each span's fate applied and `appended` entries added as
/// list items at its end, in the file's own line ends.
pub(super) fn write(
    content: &str,
    spans: &[Span],
    fates: &[Fate<'_>],
    appended: &[&MemoryEntry],
) -> String {
    let eol = super::line_end(content);
    let mut out = String::with_capacity(content.len() + 256);
    let mut at = 0;
    for (span, fate) in spans.iter().zip(fates) {
        match fate {
            Fate::Keep => {}
            Fate::Write(text) => {
                out.push_str(&content[at..span.start]);
                // Continuation lines sit under the item's first character.
                let line_start = content[..span.start].rfind('\n').map_or(0, |i| i + 1);
                let indent = " ".repeat(content[line_start..span.start].chars().count());
                push_lines(&mut out, text, &indent, eol);
                at = span.end;
            }
            Fate::Remove => {
                out.push_str(&content[at..span.remove_start]);
                at = span.remove_end;
            }
        }
    }
    out.push_str(&content[at..]);
    if !appended.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(eol);
        }
        for e in appended {
            out.push_str("- ");
            push_lines(&mut out, &e.text, "  ", eol);
            out.push_str(eol);
        }
    }
    out
}

/// `text` with its line breaks in `eol` and each line after the first
/// indented; blank lines are dropped, as one would end the list item.
fn push_lines(out: &mut String, text: &str, indent: &str, eol: &str) {
    let mut first = true;
    for line in text.trim().lines().map(str::trim_end).filter(|l| !l.trim().is_empty()) {
        if !first {
            out.push_str(eol);
            out.push_str(indent);
        }
        out.push_str(if first { line } else { line.trim_start() });
        first = false;
    }
}
