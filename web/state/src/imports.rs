//! Importing memory files and exporting them back: which of the files a
//! person picks are read and under which path, the checks made before
//! anything is sent (size, UTF-8, the service's limits), the format, and
//! the sentences the screen says about an import and an export. The
//! browser's part (reading the bytes, downloads) stays in the dashboard.

use reverie_api::{Imported, NewImport, NewSession, StoreExport};
use reverie_core::formats::{File, Format, Skipped, MAX_FILE_BYTES};
use serde_json::value::RawValue;

/// The most files one import may hold (the service refuses more).
pub const MAX_FILES: usize = 20_000;

/// The largest request body the service reads for an import, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The sentence said with a 409: the service's version of a file must be
/// taken before the file is pushed again.
pub const CONFLICT_HINT: &str =
    "Export the store's version first, apply your edits, then import again.";

/// What to do after an import failed with `status` (`None`: no answer at
/// all), said under the service's own words.
pub fn failure_hint(status: Option<u16>) -> &'static str {
    match status {
        None => {
            "The service cannot be reached: nothing was imported. Import again once it is back."
        }
        Some(401) => "Sign in again with a valid token.",
        Some(403) => "Importing needs an admin token or an ingest token granted this agent.",
        Some(409) => CONFLICT_HINT,
        Some(400 | 422) => "Nothing was imported: fix the file named, pick it again and import.",
        Some(_) => "Nothing was imported. This may pass: try again in a moment.",
    }
}

/// The path a picked file has in the bundle. A file picked with its folder
/// has a relative path starting with that folder's name, which is dropped
/// so paths are relative to the folder picked; a file picked alone (or
/// dropped) has only its name.
pub fn bundle_path(name: &str, relative: &str) -> String {
    let relative = relative.trim_start_matches('/');
    match relative.split_once('/') {
        Some((_, rest)) if !rest.is_empty() => rest.to_string(),
        _ if !relative.is_empty() => relative.to_string(),
        _ => name.to_string(),
    }
}

/// Why a picked file is not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leave {
    /// In a hidden folder (`.git`), or hidden itself: not memory.
    Hidden,
    /// Installed packages' files (`node_modules`): documentation of
    /// others' code, never this agent's memory.
    Packages,
    /// Not a memory file: only `.md`, `.markdown`, `.txt`, `.jsonl` and
    /// `.json` (a service's listing) are read.
    NotMemory,
}

/// Whether the file at bundle path `path` is read, and if not, why.
pub fn leave(path: &str) -> Option<Leave> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|p| p.starts_with('.')) {
        return Some(Leave::Hidden);
    }
    if parts.contains(&"node_modules") {
        return Some(Leave::Packages);
    }
    let lower = path.to_ascii_lowercase();
    if [".md", ".markdown", ".txt", ".jsonl", ".json"].iter().any(|x| lower.ends_with(x)) {
        None
    } else {
        Some(Leave::NotMemory)
    }
}

/// A file as the browser offers it, before its bytes are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picked {
    /// Its path in the bundle (see [`bundle_path`]).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The picked files sorted: those to read, those left out, and what stops
/// the import before any byte is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sorted {
    /// Indexes into the picked files of those to read, by path.
    pub read: Vec<usize>,
    /// The files left out, and why.
    pub left: Vec<(String, Leave)>,
    /// Files refused (too large, named twice), in words naming the file.
    pub problems: Vec<String>,
}

/// Sorts the picked files: memory files outside hidden folders are read,
/// unless one is larger than a memory file may be or two share a path.
pub fn sort(picked: &[Picked]) -> Sorted {
    let mut out = Sorted::default();
    let mut read: Vec<usize> = Vec::new();
    for (i, p) in picked.iter().enumerate() {
        match leave(&p.path) {
            Some(why) => out.left.push((p.path.clone(), why)),
            None if p.size > MAX_FILE_BYTES as u64 => out.problems.push(format!(
                "{} is {}; a memory file may be at most 1 MiB.",
                p.path,
                size_text(p.size)
            )),
            None => read.push(i),
        }
    }
    read.sort_by(|a, b| picked[*a].path.cmp(&picked[*b].path));
    for pair in read.windows(2) {
        if picked[pair[0]].path == picked[pair[1]].path {
            out.problems.push(format!(
                "Two files are named {}: pick their folder instead, so each has its own path.",
                picked[pair[0]].path
            ));
        }
    }
    read.dedup_by(|a, b| picked[*a].path == picked[*b].path);
    out.read = read;
    out
}

/// A file's bytes as a bundle file, or why they are refused: the service
/// reads text, and a file that is not UTF-8 would arrive altered.
pub fn decode(path: &str, bytes: Vec<u8>) -> Result<File, String> {
    match String::from_utf8(bytes) {
        Ok(content) if content.len() > MAX_FILE_BYTES => Err(format!(
            "{path} is {}; a memory file may be at most 1 MiB.",
            size_text(content.len() as u64)
        )),
        Ok(content) => Ok(File { path: path.to_string(), content }),
        Err(e) => Err(format!(
            "{path} is not UTF-8 text (byte {} is not valid): save it as UTF-8 and pick it again.",
            e.utf8_error().valid_up_to() + 1
        )),
    }
}

/// The format the person chose for the files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// Told from the files' names and first lines.
    #[default]
    Auto,
    /// This format, whatever the files look like.
    Named(Format),
}

impl Choice {
    /// The choice's value in the screen's select.
    pub fn value(self) -> &'static str {
        match self {
            Choice::Auto => "auto",
            Choice::Named(f) => f.as_str(),
        }
    }

    /// The choice a select's value names (`auto` for anything else).
    pub fn parse(value: &str) -> Choice {
        Format::named(value).map_or(Choice::Auto, Choice::Named)
    }
}

/// A format as the screen names it (by its word on the wire, so formats
/// the service learns later are named too).
pub fn format_name(format: Format) -> &'static str {
    match format.as_str() {
        "markdown" => "Markdown",
        "mcp_memory" => "MCP memory (memory.jsonl)",
        "mem0" => "mem0 listing (get_all as JSON)",
        "anthropic_memory_store" => "Memory store listing (JSON)",
        other => other,
    }
}

/// What an import will send, shown before it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    /// The memory files read, by path.
    pub files: Vec<File>,
    /// The session transcripts read (a Claude Code log, OpenAI Responses
    /// items, a chat body): sent as sessions, not as memory.
    pub transcripts: Vec<File>,
    /// How many picked files are left out.
    pub left: usize,
    /// Why nothing may be sent yet, in words naming the files; empty when
    /// the files may be sent.
    pub problems: Vec<String>,
}

impl Preview {
    /// The preview of `files`, read from the picked files sorted as
    /// `sorted`; `problems` are those found reading them (not UTF-8).
    /// The service's limits on a bundle are checked here too.
    pub fn new(files: Vec<File>, sorted: &Sorted, problems: Vec<String>) -> Preview {
        let (transcripts, files): (Vec<File>, Vec<File>) =
            files.into_iter().partition(is_transcript);
        let mut out = Preview {
            files,
            transcripts,
            left: sorted.left.len(),
            problems: sorted.problems.clone(),
        };
        out.problems.extend(problems);
        if out.files.len() > MAX_FILES {
            out.problems.push(format!(
                "{} memory files were picked; one import takes at most {MAX_FILES}: import the \
                 folder in parts.",
                out.files.len()
            ));
        }
        let body: usize = out.files.iter().map(|f| json_len(&f.path) + json_len(&f.content)).sum();
        if body > MAX_BODY_BYTES {
            out.problems.push(format!(
                "The files come to {}; one import takes at most 16 MiB: import the folder in \
                 parts.",
                size_text(body as u64)
            ));
        }
        out
    }

    /// The format the files' names and first lines say, if they say one.
    pub fn detected(&self) -> Option<Format> {
        Format::detect(&self.files)
    }

    /// The format the import is read in, or why there is none.
    pub fn format(&self, choice: Choice) -> Result<Format, String> {
        match choice {
            Choice::Named(f) => Ok(f),
            Choice::Auto => self.detected().ok_or_else(|| {
                "The format cannot be told from these files (neither, or both): choose one."
                    .to_string()
            }),
        }
    }

    /// The format in words: chosen, or told from the files.
    pub fn format_text(&self, choice: Choice) -> String {
        match (choice, self.detected()) {
            (Choice::Named(f), _) => format_name(f).to_string(),
            (Choice::Auto, Some(f)) => format!("{} (told from the files)", format_name(f)),
            (Choice::Auto, None) => "not told from the files".to_string(),
        }
    }

    /// The request to send, when the files may be sent in `choice`.
    pub fn request(&self, choice: Choice) -> Option<NewImport> {
        if self.files.is_empty() || !self.problems.is_empty() {
            return None;
        }
        let format = self.format(choice).ok()?;
        Some(NewImport {
            format: Some(format),
            files: self.files.clone(),
            source: None,
            deleted: Vec::new(),
        })
    }

    /// The transcripts as sessions to send, each under its file name
    /// (without `.jsonl` or `.json`) when that makes an id: a JSON file as
    /// its JSON, a log of JSON lines as one string.
    pub fn sessions(&self) -> Vec<NewSession> {
        if !self.problems.is_empty() {
            return Vec::new();
        }
        self.transcripts
            .iter()
            .filter_map(|f| {
                let name = f.path.rsplit('/').next().unwrap_or(&f.path);
                let stem = name.strip_suffix(".jsonl").or_else(|| name.strip_suffix(".json"));
                let id = stem.filter(|s| reverie_core::Id::new(*s).is_ok()).map(str::to_string);
                let one_value = !name.ends_with(".jsonl")
                    && serde_json::from_str::<&RawValue>(&f.content).is_ok();
                let json = if one_value {
                    f.content.clone()
                } else {
                    serde_json::to_string(&f.content).ok()?
                };
                Some(NewSession {
                    id,
                    started_at: None,
                    ended_at: None,
                    format: None,
                    transcript: RawValue::from_string(json).ok()?,
                    metrics: Default::default(),
                })
            })
            .collect()
    }

    /// Whether anything may be sent in `choice`: memory files that make an
    /// import, or transcripts alone.
    pub fn sendable(&self, choice: Choice) -> bool {
        self.request(choice).is_some()
            || self.files.is_empty() && !self.transcripts.is_empty() && self.problems.is_empty()
    }

    /// The import button's words.
    pub fn button(&self) -> String {
        match (self.files.len(), self.transcripts.len()) {
            (f, 0) => format!("Import {}", count(f, "file", "files")),
            (0, t) => format!("Send {}", count(t, "session", "sessions")),
            (f, t) => format!(
                "Import {} and send {}",
                count(f, "file", "files"),
                count(t, "session", "sessions")
            ),
        }
    }

    /// What was left out, as a sentence; `None` when every file is read.
    pub fn left_text(&self) -> Option<String> {
        (self.left > 0).then(|| {
            format!(
                "{} skipped: only .md, .markdown, .txt, .jsonl and .json files outside hidden folders \
                 are read.",
                count(self.left, "file", "files")
            )
        })
    }

    /// Why there is nothing to import, when the files picked hold no
    /// memory file.
    pub fn empty_text(&self) -> Option<String> {
        (self.files.is_empty() && self.transcripts.is_empty() && self.problems.is_empty()).then(
            || {
                "None of the files picked is a memory file (.md, .markdown, .txt, .jsonl or .json)."
                    .to_string()
            },
        )
    }
}

/// Whether a picked file is a session transcript rather than memory: its
/// content reads as a transcript format and as no memory format.
fn is_transcript(f: &File) -> bool {
    (f.path.ends_with(".jsonl") || f.path.ends_with(".json"))
        && Format::detect(std::slice::from_ref(f)).is_none()
        && reverie_core::import::detect_format(&f.content).is_ok()
}

/// What sending sessions did, as a sentence.
pub fn sessions_text(sent: usize, already: usize, failed: &[String]) -> String {
    let mut out = format!("Sent {}", count(sent, "session", "sessions"));
    if already > 0 {
        out.push_str(&format!(" ({already} there already)"));
    }
    out.push('.');
    for f in failed {
        out.push_str(&format!(" {f}"));
    }
    out
}

/// Bytes a string takes in a JSON body, closely enough for a limit: its
/// bytes, its quotes, and one more for each character escaped.
fn json_len(s: &str) -> usize {
    s.len() + 2 + s.bytes().filter(|b| matches!(b, b'"' | b'\\' | b'\n' | b'\r' | b'\t')).count()
}

/// `n` with its noun: `1 file`, `3 files`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A size in bytes as people read it: `812 bytes`, `4.2 KB`, `1.5 MB`
/// (1024 bytes a KB, as file browsers count).
pub fn size_text(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        count(bytes as usize, "byte", "bytes")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else {
        format!("{:.1} MB", b / (KB * KB))
    }
}

/// What an import did, as sentences.
pub fn imported_text(done: &Imported) -> String {
    let read = format!(
        "Read {} in {}: {}.",
        count(done.files, "file", "files"),
        format_name(done.format),
        count(done.entries, "entry", "entries"),
    );
    // Edits come only from formats whose records keep a service's ids.
    let edited = if done.edited > 0 { format!(", {} edited", done.edited) } else { String::new() };
    let did = format!(
        "{} added{edited}, {} removed, {} unchanged.",
        done.added, done.removed, done.unchanged
    );
    let version = if done.added + done.removed + done.edited == 0 {
        format!("Nothing new: the store stays at version {}.", done.version)
    } else {
        format!("The store is now at version {}.", done.version)
    };
    format!("{read} {did} {version}")
}

/// Where a skipped part is (`path:line`, or the path alone).
pub fn skipped_place(s: &Skipped) -> String {
    match s.line {
        Some(line) => format!("{}:{line}", s.path),
        None => s.path.clone(),
    }
}

/// What an export holds, as a sentence.
pub fn export_text(export: &StoreExport) -> String {
    let files = export.changed.len() + export.unchanged;
    if export.changed.is_empty() {
        format!(
            "Nothing changed at version {}: the {} as imported.",
            export.version,
            match files {
                1 => "file is".to_string(),
                n => format!("{n} files are"),
            }
        )
    } else {
        format!(
            "At version {}, {} changed since the import; {} as imported.",
            export.version,
            count(export.changed.len(), "file", "files"),
            match export.unchanged {
                1 => "1 is".to_string(),
                n => format!("{n} are"),
            }
        )
    }
}

/// The version typed in the export's field: `None` for the latest (left
/// empty), else a whole number from 0.
pub fn parse_version(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(v) if v >= 0 => Ok(Some(v)),
        _ => Err(format!("A version is a whole number, 0 or more (not “{text}”).")),
    }
}

/// A file's name without its folders: what a download is saved as.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests;
