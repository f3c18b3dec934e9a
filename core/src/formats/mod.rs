//! Memory kept in other tools' formats, read into entries and written back.
//!
//! Import turns a bundle of files into entries plus a [`Layout`]: for each
//! entry, the file it came from and the byte span its text occupies.
//! Export takes the original files, that layout and a later version of the
//! store, and patches only the spans of entries that changed: every other
//! byte of every file is written back as it was read. Nothing here reads a
//! disk; files come in and go out as bytes.
//!
//! Formats:
//! - [`Format::Markdown`]: Claude Code's memory folder (`MEMORY.md` and
//!   topic files with YAML front matter) and the `CLAUDE.md` family; one
//!   entry per list item or paragraph. Headings, code fences, `@path`
//!   imports, HTML comments, tables and index lines are kept as they are,
//!   never entries.
//! - [`Format::McpMemory`]: the MCP memory server's `memory.jsonl`; one
//!   entry per observation of an entity, whose name is the subject.
//!   Relations and unknown keys are kept as they are.
//! - [`Format::Mem0`] and [`Format::AnthropicMemoryStore`]: a service's
//!   listing of records, one entry per record under the service's id;
//!   exported as the operations to send the service (`records.rs`); mem0's
//!   history rows beside a listing date its records.

use serde::{Deserialize, Serialize};

use crate::entry::{Id, MemoryEntry, Status};
use crate::error::{Error, Result};
use crate::store::MemoryStore;

mod compare;
mod jsonl;
mod markdown;
mod records;
mod sync;
mod tar;

pub use compare::compare;
pub use sync::{sync, Base, Synced};
pub use tar::tar;

/// The largest file read, in bytes: a memory file is read by an agent at
/// the start of a session, so one larger than this is not memory; and a
/// file kept for export must fit in one database row.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The tag that names the file an entry was read from: `file:<path>`.
pub const FILE_TAG: &str = "file:";

/// One file of a bundle: its path (relative, `/`-separated) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// The path inside the bundle, e.g. `memory/MEMORY.md`.
    pub path: String,
    /// The file's content as text. Files that are not UTF-8 are refused.
    pub content: String,
}

/// The formats read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Markdown memory files: Claude Code's memory folder and `CLAUDE.md`.
    Markdown,
    /// The MCP memory server's `memory.jsonl`.
    McpMemory,
    /// mem0's `get_all` listing; exported as operations by mem0 id.
    Mem0,
    /// A memory store's listing (`mem_…` ids, `path`, `content`,
    /// `content_sha256`); exported as conditional updates by id.
    AnthropicMemoryStore,
}

impl Format {
    /// Every format, in declaration order.
    pub const ALL: [Format; 4] =
        [Format::Markdown, Format::McpMemory, Format::Mem0, Format::AnthropicMemoryStore];

    /// The format a word on the wire names, or `None`.
    pub fn named(word: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == word)
    }

    /// The words on the wire, joined for a message: "markdown, mcp_memory, …".
    pub fn names() -> String {
        Format::ALL.map(Format::as_str).join(", ")
    }

    /// The format's word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::McpMemory => "mcp_memory",
            Format::Mem0 => "mem0",
            Format::AnthropicMemoryStore => "anthropic_memory_store",
        }
    }

    /// Whether the format is a service's listing of records: its entries
    /// keep the ids the service gave them (a file's are named by their file
    /// and text), and its export is the operations to send the service
    /// rather than the listing rewritten.
    pub fn is_listing(self) -> bool {
        matches!(self, Format::Mem0 | Format::AnthropicMemoryStore)
    }

    /// The format of a bundle, told from its files' content and names:
    /// lines of entity or relation objects are MCP memory, a JSON listing
    /// of records mem0's or a memory store's, `.md`, `.markdown` and
    /// `.txt` files Markdown. `None` when the bundle holds none of them,
    /// or several.
    pub fn detect(files: &[File]) -> Option<Format> {
        let mut found = None;
        for f in files {
            // A `.jsonl` file may be a transcript too: only its lines say.
            let format = if jsonl::looks_like(&f.content) {
                Format::McpMemory
            } else if let Some(listing) = records::listing_format(&f.content) {
                listing
            } else if [".md", ".markdown", ".txt"].iter().any(|x| f.path.ends_with(x)) {
                Format::Markdown
            } else {
                continue;
            };
            if found.is_some_and(|x| x != format) {
                return None;
            }
            found = Some(format);
        }
        found
    }
}

/// Where one entry's text sits in its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The entry read from this span.
    pub entry: Id,
    /// The entry's text: bytes `start..end` of the file.
    pub start: usize,
    /// End of the text, exclusive.
    pub end: usize,
    /// What removing the entry removes: bytes `remove_start..remove_end`
    /// (the whole list item with its line end, or the array element with
    /// its comma).
    pub remove_start: usize,
    /// End of what removing the entry removes, exclusive.
    pub remove_end: usize,
}

/// One file as read: its path, a digest of its bytes (to tell whether it
/// changed since), and where each of its entries sits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The path inside the bundle.
    pub path: String,
    /// `hash_str` of the content, in hex.
    pub digest: String,
    /// The entries' spans, in file order.
    pub spans: Vec<Span>,
}

/// How a bundle was read: what [`export`] needs besides the files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The bundle's format.
    pub format: Format,
    /// Every file read, in bundle order, including those with no entry.
    pub documents: Vec<Document>,
}

/// Something of a bundle that was not read as an entry, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file.
    pub path: String,
    /// The 1-based line, when the reason is about one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Why, in words.
    pub reason: String,
}

/// A bundle, read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    /// The entries, in bundle order, all active.
    pub entries: Vec<MemoryEntry>,
    /// Where each entry came from.
    pub layout: Layout,
    /// What was not read as an entry (kept as it is on export).
    pub skipped: Vec<Skipped>,
}

/// Reads a bundle in `format`. Entry ids are made from each file's path
/// and the entry's text (and, for a text repeated in one file, how many
/// times it came before), so reading a file again gives the same ids
/// however its lines moved; `created_at` is the time given to entries.
pub fn import(format: Format, files: &[File], created_at: crate::Timestamp) -> Result<Imported> {
    let mut out = Imported {
        entries: Vec::new(),
        layout: Layout { format, documents: Vec::new() },
        skipped: Vec::new(),
    };
    let mut paths = std::collections::HashSet::new();
    for f in files {
        check_path(&f.path)?;
        if !paths.insert(f.path.as_str()) {
            return Err(Error::invalid(
                format!("files[{:?}]", f.path),
                "appears twice in the bundle",
            ));
        }
    }
    let mut history = records::History::default();
    for f in files {
        if f.content.len() > MAX_FILE_BYTES {
            return Err(Error::invalid(
                f.path.clone(),
                format!("is {} bytes; the limit is {MAX_FILE_BYTES}", f.content.len()),
            ));
        }
        let before = out.entries.len();
        let mut spans = match format {
            Format::Markdown => {
                markdown::read(f, &paths, created_at, &mut out.entries, &mut out.skipped)?
            }
            Format::McpMemory => jsonl::read(f, created_at, &mut out.entries, &mut out.skipped)?,
            // mem0's history is no listing: it dates the listing's records.
            Format::Mem0 if records::read_history(f, &mut history) => Vec::new(),
            Format::Mem0 | Format::AnthropicMemoryStore => {
                records::read(format, f, created_at, &mut out.entries, &mut out.skipped)?
            }
        };
        debug_assert_eq!(spans.len(), out.entries.len() - before);
        // Ids from the file and the text, so a file read again after its
        // lines moved names the same entries the same way (a service's
        // records keep the ids it gave them).
        if format.is_listing() {
            check_unique(&out.entries[before..], &f.path)?;
        } else {
            let prefix = id_prefix(&f.path);
            let mut taken: std::collections::HashSet<Id> = std::collections::HashSet::new();
            for (e, span) in out.entries[before..].iter_mut().zip(&mut spans) {
                let text = crate::hash::hash_str(&e.text);
                let id = (0..)
                    .map(|k| content_id(&prefix, text, k))
                    .find(|id| !taken.contains(id))
                    .expect("an unbounded range finds a free id");
                taken.insert(id.clone());
                e.id = id.clone();
                span.entry = id;
            }
        }
        // The file it came from, shown to reviewers; a merge keeps the
        // files of all its entries.
        for e in &mut out.entries[before..] {
            e.tags.push(format!("{FILE_TAG}{}", f.path));
        }
        out.layout.documents.push(Document {
            path: f.path.clone(),
            digest: digest(&f.content),
            spans,
        });
    }
    history.apply(&mut out.entries, &mut out.skipped);
    Ok(out)
}

/// The first file of the `CLAUDE.md` family an active entry of `store`
/// was read from: where an instruction for the agent belongs.
pub(crate) fn rules_file_of(store: &MemoryStore) -> Option<String> {
    store
        .active()
        .flat_map(|e| e.tags.iter().filter_map(|t| t.strip_prefix(FILE_TAG)))
        .find(|path| markdown::is_rules_file(path))
        .map(str::to_string)
}

/// A file's digest as the layout records it.
pub fn digest(content: &str) -> String {
    format!("{:016x}", crate::hash::hash_str(content))
}

/// Bundle paths are relative and stay inside the bundle.
fn check_path(path: &str) -> Result<()> {
    let bad = path.is_empty()
        || path.len() > 1024
        || path.starts_with('/')
        || path.contains('\\')
        || path.chars().any(char::is_control)
        || path.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(Error::invalid(
            format!("files[{path:?}]"),
            "a path must be relative, `/`-separated, without `.` or `..` parts or control \
             characters, at most 1024 bytes",
        ));
    }
    Ok(())
}

/// What became of one entry between import and the version exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fate<'a> {
    /// Unchanged: its bytes stay.
    Keep,
    /// Its text is now this.
    Write(&'a str),
    /// Retired, or folded into an entry already written elsewhere.
    Remove,
}

/// The files of a bundle as `store` has them, given the files as read and
/// their layout. Only files whose bytes change are returned, each whole.
///
/// An entry keeps its span while active; a changed text replaces it. An
/// entry merged or consolidated into a new one gives its place to that
/// entry: the first such place, in bundle order, holds the new text and the
/// others are removed. Superseded, pruned and deleted entries are removed
/// (`store` must be a version made after the import). Active
/// entries with no place (added by a pass) go after the last entry of the
/// file that holds most of their sources' places, else of the first file
/// with entries, never Claude Code's `MEMORY.md` while a topic file can
/// take them; those that would take `MEMORY.md` past the lines and bytes
/// that load go to a new topic file beside it, `reverie-notes.md`, with an
/// index line for it when that still loads. A service's listing is not
/// rewritten: its export is the operations to send it
/// (`<path>.operations.json`).
pub fn export(layout: &Layout, files: &[File], store: &MemoryStore) -> Result<Vec<File>> {
    let by_id: std::collections::HashMap<&str, &MemoryEntry> =
        store.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    // Where each entry read sits, and where each new entry is written.
    let doc_of: std::collections::HashMap<&str, usize> = layout
        .documents
        .iter()
        .enumerate()
        .flat_map(|(d, doc)| doc.spans.iter().map(move |s| (s.entry.as_str(), d)))
        .collect();
    let mut written: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    // A rule (a file of the CLAUDE.md family) never moves to another file:
    // folded into or replaced by an entry that sits elsewhere, it stays.
    let rules: Vec<bool> = layout
        .documents
        .iter()
        .map(|d| layout.format == Format::Markdown && markdown::is_rules_file(&d.path))
        .collect();
    let moves_a_rule = |here: usize, there: Option<usize>| {
        there.is_some_and(|there| there != here && (rules[here] || rules[there]))
    };
    let mut changed = Vec::new();
    let mut fates_of: Vec<Vec<Fate<'_>>> = Vec::with_capacity(layout.documents.len());
    for (d, doc) in layout.documents.iter().enumerate() {
        let mut fates = Vec::with_capacity(doc.spans.len());
        for span in &doc.spans {
            let Some(entry) = by_id.get(span.entry.as_str()) else {
                // Deleted from the store since (export a version made
                // after the import, which has every entry it read).
                fates.push(Fate::Remove);
                continue;
            };
            let fate = match &entry.status {
                Status::Active => Fate::Keep,
                Status::Merged { merged_into } => {
                    // The entry it was folded into, followed to the end of
                    // a chain of merges.
                    match follow(&by_id, merged_into).filter(|t| t.is_active()) {
                        Some(t) if doc_of.contains_key(t.id.as_str()) => {
                            if moves_a_rule(d, doc_of.get(t.id.as_str()).copied()) {
                                Fate::Keep
                            } else {
                                Fate::Remove
                            }
                        }
                        Some(t) => match written.get(t.id.as_str()) {
                            None => {
                                written.insert(t.id.as_str(), d);
                                Fate::Write(&t.text)
                            }
                            there if moves_a_rule(d, there.copied()) => Fate::Keep,
                            _ => Fate::Remove,
                        },
                        None => Fate::Remove,
                    }
                }
                Status::Superseded { superseded_by, .. } => {
                    if moves_a_rule(d, doc_of.get(superseded_by.as_str()).copied()) {
                        Fate::Keep
                    } else {
                        Fate::Remove
                    }
                }
                Status::Pruned { .. } => Fate::Remove,
            };
            fates.push(fate);
        }
        fates_of.push(fates);
    }
    // Texts edited in place, and new entries with no place yet; not an
    // entry read from files of another import (named by its `file:` tags,
    // none of them here), which belongs to those files.
    let paths: std::collections::HashSet<&str> =
        layout.documents.iter().map(|d| d.path.as_str()).collect();
    let read_elsewhere = |e: &MemoryEntry| {
        let mut files = e.tags.iter().filter_map(|t| t.strip_prefix(FILE_TAG)).peekable();
        files.peek().is_some() && !files.any(|p| paths.contains(p))
    };
    let mut appended: Vec<Vec<&MemoryEntry>> = vec![Vec::new(); layout.documents.len()];
    let file_at: std::collections::HashMap<&str, &File> =
        files.iter().map(|f| (f.path.as_str(), f)).collect();
    let home = Homes::of(layout, store, &doc_of);
    for e in store.entries.iter().filter(|e| e.is_active()) {
        let id = e.id.as_str();
        if doc_of.contains_key(id) || written.contains_key(id) || read_elsewhere(e) {
            continue;
        }
        if !layout.documents.is_empty() {
            appended[home.of_entry(e)].push(e);
        }
    }
    for (d, doc) in layout.documents.iter().enumerate() {
        let file = file_at.get(doc.path.as_str()).copied().ok_or_else(|| {
            Error::invalid(format!("files[{:?}]", doc.path), "is in the layout but not given")
        })?;
        if digest(&file.content) != doc.digest {
            return Err(Error::invalid(
                format!("files[{:?}]", doc.path),
                "is not the file that was imported: its bytes differ",
            ));
        }
        check_spans(doc, &file.content)?;
        for (fate, span) in fates_of[d].iter_mut().zip(&doc.spans) {
            if *fate == Fate::Keep {
                if let Some(e) = by_id.get(span.entry.as_str()) {
                    if e.is_active() && e.text != text_of(layout.format, &file.content, span) {
                        *fate = Fate::Write(&e.text);
                    }
                }
            }
        }
        if fates_of[d].iter().all(|f| *f == Fate::Keep) && appended[d].is_empty() {
            continue;
        }
        let (spans, fates, added) = (&doc.spans, &fates_of[d], &appended[d]);
        let content = match layout.format {
            Format::Markdown => {
                let content = markdown::write(&file.content, spans, fates, added);
                // Only the head of MEMORY.md loads, and a Letta block holds
                // at most its `limit`: entries that would go past go to a
                // file of their own.
                let fits = if markdown::is_index(&doc.path) {
                    markdown::loads_whole(&content)
                } else {
                    markdown::within_limit(&doc.path, &content)
                };
                if added.is_empty() || fits {
                    content
                } else {
                    let taken = |p: &str| file_at.contains_key(p);
                    let (index, notes) =
                        markdown::overflow(&doc.path, &file.content, spans, fates, added, taken);
                    changed.push(notes);
                    index
                }
            }
            Format::McpMemory => jsonl::write(&file.content, spans, fates, added),
            Format::Mem0 | Format::AnthropicMemoryStore => {
                // A service is sent operations, not its listing rewritten.
                let ops = records::operations(layout.format, &file.content, spans, fates, added);
                changed.push(File { path: format!("{}.operations.json", doc.path), content: ops });
                continue;
            }
        };
        if content != file.content {
            changed.push(File { path: doc.path.clone(), content });
        }
    }
    Ok(changed)
}

/// Texts in order and apart, each inside what removing it removes, inside
/// the file and on character boundaries: a layout that says otherwise was
/// not made from this file.
fn check_spans(doc: &Document, content: &str) -> Result<()> {
    let mut at = 0;
    for s in &doc.spans {
        let ordered = at <= s.start
            && s.remove_start <= s.start
            && s.start <= s.end
            && s.end <= s.remove_end
            && s.remove_end <= content.len();
        let bounds = [s.remove_start, s.start, s.end, s.remove_end];
        if !ordered || !bounds.iter().all(|&b| content.is_char_boundary(b)) {
            return Err(Error::invalid(
                format!("layout of {:?}", doc.path),
                format!("the span of entry {} does not fit the file", s.entry),
            ));
        }
        at = s.end;
    }
    Ok(())
}

/// The text an entry had when read from `span` of `content`.
fn text_of(format: Format, content: &str, span: &Span) -> String {
    match format {
        Format::Markdown => markdown::entry_text(&content[span.start..span.end]),
        Format::McpMemory | Format::Mem0 | Format::AnthropicMemoryStore => {
            jsonl::entry_text(&content[span.start..span.end])
        }
    }
}

/// Ids a service gave must be unique in a listing.
fn check_unique(entries: &[MemoryEntry], path: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    match entries.iter().find(|e| !seen.insert(e.id.as_str())) {
        Some(e) => {
            Err(Error::invalid(path.to_string(), format!("the id `{}` is there twice", e.id)))
        }
        None => Ok(()),
    }
}

/// The end of a chain of merges starting at `id`.
fn follow<'a>(
    by_id: &std::collections::HashMap<&str, &'a MemoryEntry>,
    id: &Id,
) -> Option<&'a MemoryEntry> {
    let mut at = *by_id.get(id.as_str())?;
    for _ in 0..64 {
        match &at.status {
            Status::Merged { merged_into } => at = *by_id.get(merged_into.as_str())?,
            _ => return Some(at),
        }
    }
    None
}

/// Where new entries are written: each to the file holding most of the
/// entries folded into it or retired by it, else to the first file with
/// entries (not a read-only one, nor an empty one). Never to Claude Code's
/// index, of which only the head loads, while a topic file can take them;
/// when none can, entries that would take the index past its head go to a
/// topic file of their own (`markdown::overflow`). Read from the store
/// once for all the new entries.
struct Homes<'a> {
    /// Per new entry, the files of the entries that point at it.
    votes: std::collections::HashMap<&'a str, Vec<usize>>,
    first: usize,
    /// The layout's files by path.
    by_path: std::collections::HashMap<&'a str, usize>,
}

impl<'a> Homes<'a> {
    fn of(
        layout: &'a Layout,
        store: &'a MemoryStore,
        doc_of: &std::collections::HashMap<&str, usize>,
    ) -> Self {
        let index = |d: &Document| markdown::is_index(&d.path);
        let topic = layout.documents.iter().position(|d| !d.spans.is_empty() && !index(d));
        let first = topic
            .or_else(|| layout.documents.iter().position(|d| !d.spans.is_empty()))
            .unwrap_or(0);
        let mut votes: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        for other in &store.entries {
            let target = match &other.status {
                Status::Merged { merged_into } => merged_into,
                Status::Superseded { superseded_by, .. } => superseded_by,
                _ => continue,
            };
            // The index votes for nothing while a topic file can take it.
            let home = doc_of.get(other.id.as_str()).copied();
            if let Some(d) = home.filter(|&d| topic.is_none() || !index(&layout.documents[d])) {
                votes.entry(target.as_str()).or_default().push(d);
            }
        }
        let by_path =
            layout.documents.iter().enumerate().map(|(d, doc)| (doc.path.as_str(), d)).collect();
        Homes { votes, first, by_path }
    }

    /// The file `e` is written to: the one its `file:` tag names, if the
    /// layout has it (an instruction proposed for the rules), else by vote.
    fn of_entry(&self, e: &MemoryEntry) -> usize {
        let named = e.tags.iter().filter_map(|t| t.strip_prefix(FILE_TAG));
        if let Some(d) = named.filter_map(|p| self.by_path.get(p)).next() {
            return *d;
        }
        let Some(docs) = self.votes.get(e.id.as_str()) else { return self.first };
        let mut count: std::collections::BTreeMap<usize, usize> = Default::default();
        for &d in docs {
            *count.entry(d).or_default() += 1;
        }
        // The most votes; among equals, the first file.
        count
            .into_iter()
            .max_by_key(|&(d, n)| (n, std::cmp::Reverse(d)))
            .map_or(self.first, |(d, _)| d)
    }
}

/// The start of the ids of a file's entries: its name and its path's
/// hash, made once per file.
fn id_prefix(path: &str) -> String {
    format!("{}.{:08x}", id_stem(path), crate::hash::hash_str(path) as u32)
}

/// The id of the `k`th entry (from 0) of the file whose ids start with
/// `prefix` (see `id_prefix`) and whose text hashes to `text`.
fn content_id(prefix: &str, text: u64, k: usize) -> Id {
    let id = match k {
        0 => format!("{prefix}.{:08x}", text as u32),
        k => format!("{prefix}.{:08x}.{k}", text as u32),
    };
    Id::new(id).expect("a file's name as id characters, a dot and hex digits make an id")
}

/// A file's name as the start of an id: letters, digits, `-` and `_`.
fn id_stem(path: &str) -> String {
    path.rsplit('/')
        .next()
        .unwrap_or(path)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect()
}

/// An id for the `n`th entry of the file at `path`, as a reader names it
/// before [`import`] gives it its id from its text.
pub(crate) fn entry_id(path: &str, n: usize) -> Id {
    Id::new(format!("{}.{n}", id_prefix(path)))
        .expect("a file's name as id characters, a dot and hex digits make an id")
}

/// The line end a file uses: `\r\n` if it has one, else `\n`; new lines
/// written into it follow the file.
pub(crate) fn line_end(content: &str) -> &'static str {
    if content.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// The 1-based line of byte `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests;
