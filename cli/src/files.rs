//! Memory files on disk: which files a push reads and the paths the
//! service knows them by, their hashes, and writing them back safely.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use reverie_core::formats::File;
use sha2::{Digest, Sha256};

/// A file read from disk, with the path the bundle names it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    /// The bundle path: relative, `/`-separated (`memory/MEMORY.md`).
    pub path: String,
    /// Where it is on disk (symbolic links followed, so a pull writes the
    /// file itself rather than replacing the link).
    pub disk: PathBuf,
    /// Its bytes as read.
    pub bytes: Vec<u8>,
}

/// The files a Claude Code project folder holds as memory: every `*.md`
/// under `dir/memory/` as `memory/...`, and with `rules` that project's
/// `CLAUDE.md` family as `rules/...`.
pub fn claude_code(dir: &Path, rules: Option<&Path>) -> Result<Vec<LocalFile>, String> {
    is_dir(dir)?;
    let memory = dir.join("memory");
    let mut out = if memory.is_dir() { markdown_tree(&memory, "memory/")? } else { Vec::new() };
    if let Some(project) = rules {
        out.extend(rule_files(project)?);
    }
    Ok(out)
}

/// The Markdown files of a memory folder, by their paths inside it.
pub fn memory_folder(dir: &Path) -> Result<Vec<LocalFile>, String> {
    is_dir(dir)?;
    markdown_tree(dir, "")
}

/// Names of files a memory format may be kept in: Markdown and text (a
/// memory-tool tree, a Letta repository), JSON listings and JSON lines.
const MEMORY_EXTENSIONS: [&str; 5] = [".md", ".markdown", ".txt", ".json", ".jsonl"];

/// What `push files` sends from `path`: the file itself (named by its file
/// name), or every file under the folder whose name a memory format uses,
/// by its path inside it. Hidden files and folders (`.git`, `.reverie`) and
/// the operations files a pull writes are left out; so are other files,
/// whose paths come back second.
pub fn memory_files(path: &Path) -> Result<(Vec<LocalFile>, Vec<String>), String> {
    let meta = fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_dir() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: the name is not UTF-8", path.display()))?;
        return Ok((vec![read(path, name.to_string())?], Vec::new()));
    }
    let mut out = Vec::new();
    let mut left = Vec::new();
    for (disk, rel) in walk(path, "")? {
        if MEMORY_EXTENSIONS.iter().any(|x| rel.ends_with(x)) && !rel.ends_with(OPERATIONS) {
            out.push(read(&disk, rel)?);
        } else {
            left.push(rel);
        }
    }
    Ok((out, left))
}

/// The ending of the file a pull writes beside a listing (mem0's, a memory
/// store's): the operations that send the review's changes to it.
pub const OPERATIONS: &str = ".operations.json";

/// Every regular file under `root` but hidden ones, in name order (files
/// before the folders beside them), as (path on disk, `prefix` + path
/// below `root`). Linked folders are not entered (a link back up would
/// never end); linked files are read.
fn walk(root: &Path, prefix: &str) -> Result<Vec<(PathBuf, String)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), prefix.to_string())];
    while let Some((dir, rel)) = stack.pop() {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(&dir)
            .and_then(|it| it.collect::<io::Result<Vec<_>>>())
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                return Err(format!("{}: the name is not UTF-8", path.display()));
            };
            if name.starts_with('.') {
                continue;
            }
            let kind =
                entry.file_type().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if kind.is_dir() {
                subdirs.push((path, format!("{rel}{name}/")));
            } else if fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                out.push((path, format!("{rel}{name}")));
            }
        }
        // Folders after the files beside them, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

/// Where the state of a push from `path` is kept: the folder itself, or
/// the folder holding the file.
pub fn state_dir(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.to_path_buf();
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn is_dir(dir: &Path) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a folder", dir.display())),
        Err(e) => Err(format!("cannot read {}: {e}", dir.display())),
    }
}

/// A project's instructions to Claude Code: `CLAUDE.md`,
/// `.claude/CLAUDE.md`, `CLAUDE.local.md` and `.claude/rules/**/*.md`.
fn rule_files(project: &Path) -> Result<Vec<LocalFile>, String> {
    is_dir(project)?;
    let mut out = Vec::new();
    for name in ["CLAUDE.md", ".claude/CLAUDE.md", "CLAUDE.local.md"] {
        let path = project.join(name);
        if path.is_file() {
            out.push(read(&path, format!("rules/{name}"))?);
        }
    }
    let rules = project.join(".claude/rules");
    if rules.is_dir() {
        out.extend(markdown_tree(&rules, "rules/.claude/rules/")?);
    }
    Ok(out)
}

/// Every `*.md` under `root` but hidden ones, in name order, named
/// `prefix` + its path below `root`.
fn markdown_tree(root: &Path, prefix: &str) -> Result<Vec<LocalFile>, String> {
    walk(root, prefix)?
        .into_iter()
        .filter(|(_, rel)| rel.ends_with(".md"))
        .map(|(disk, rel)| read(&disk, rel))
        .collect()
}

fn read(path: &Path, bundle_path: String) -> Result<LocalFile, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let disk =
        fs::canonicalize(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(LocalFile { path: bundle_path, disk, bytes })
}

/// The files as the service takes them. Every file must be UTF-8 text;
/// the error names each one that is not.
pub fn bundle(files: &[LocalFile]) -> Result<Vec<File>, String> {
    let mut out = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    for f in files {
        match std::str::from_utf8(&f.bytes) {
            Ok(text) => out.push(File { path: f.path.clone(), content: text.to_string() }),
            Err(e) => bad.push(format!(
                "  {} (byte {}): not UTF-8 text",
                f.disk.display(),
                e.valid_up_to()
            )),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(format!("nothing was sent: memory files must be UTF-8 text\n{}", bad.join("\n")))
    }
}

/// The transcripts Claude Code keeps beside the memory folder:
/// `dir/*.jsonl`, in name order, as (file name, path).
pub fn transcripts(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if name.ends_with(".jsonl") && fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            out.push((name, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The session id a transcript is sent under: its file name without
/// `.jsonl` or `.json` (Claude Code names them by session UUID) when that
/// is a valid id, else none and the service makes one.
pub fn session_id(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".jsonl").or_else(|| file_name.strip_suffix(".json"));
    let stem = stem.unwrap_or(file_name);
    let ok = !stem.is_empty()
        && stem.len() <= 128
        && !stem.bytes().all(|b| b == b'.')
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    ok.then(|| stem.to_string())
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Replaces `path` with `bytes` so that a crash leaves either the old file
/// or the new one, never half of it: a temporary file in the same folder,
/// flushed to disk, renamed over the old one. The old file's permissions
/// are kept.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.reverie-{}-{}.tmp", std::process::id(), unix_millis()));
    let written = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    // The rename itself is made durable by syncing the folder; some file
    // systems refuse to open a folder for that, which loses nothing.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Copies `bytes` (a file's content before a pull) to `backup/<path>`.
pub fn back_up(backup: &Path, bundle_path: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let to = backup.join(bundle_path);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    write_atomic(&to, bytes)?;
    Ok(to)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh folder under the system's temporary folder, removed when
    /// dropped.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> TempDir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "reverie-cli-{name}-{}-{}-{n}",
                std::process::id(),
                unix_millis()
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        pub fn write(&self, rel: &str, content: &[u8]) -> PathBuf {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, content).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_claude_code_folder_is_read_with_bundle_paths() {
        let home = TempDir::new("walk");
        let slug = home.0.join("slug");
        home.write("slug/memory/MEMORY.md", b"- [Topic](topic.md)\n");
        home.write("slug/memory/topic.md", b"- a note\n");
        home.write("slug/memory/deep/er/z.md", b"- deep\n");
        home.write("slug/memory/notes.txt", b"not markdown");
        home.write("slug/memory/a/b.md", b"- b\n");
        home.write("slug/abc.jsonl", b"{}\n");
        home.write("slug/top.md", b"not in memory/");
        home.write("proj/CLAUDE.md", b"- Use pnpm.\n");
        home.write("proj/.claude/CLAUDE.md", b"- Team rule.\n");
        home.write("proj/.claude/rules/style/go.md", b"- gofmt\n");
        home.write("proj/.claude/rules/x.txt", b"no");
        home.write("proj/README.md", b"not a rule file");
        let files = claude_code(&slug, Some(&home.0.join("proj"))).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "memory/MEMORY.md",
                "memory/topic.md",
                "memory/a/b.md",
                "memory/deep/er/z.md",
                "rules/CLAUDE.md",
                "rules/.claude/CLAUDE.md",
                "rules/.claude/rules/style/go.md",
            ]
        );
        let go = files.iter().find(|f| f.path.ends_with("go.md")).unwrap();
        assert_eq!(
            go.disk,
            fs::canonicalize(home.0.join("proj/.claude/rules/style/go.md")).unwrap()
        );
        assert_eq!(go.bytes, b"- gofmt\n");
        // Without --rules, the project is not read; a folder without
        // memory/ holds no memory files.
        assert_eq!(claude_code(&slug, None).unwrap().len(), 4);
        assert!(claude_code(&home.0.join("proj"), None).unwrap().is_empty());
        assert!(claude_code(&home.0.join("nope"), None).unwrap_err().contains("cannot read"));
        let t = transcripts(&slug).unwrap();
        assert_eq!(t, [("abc.jsonl".to_string(), slug.join("abc.jsonl"))]);
        // A memory folder compared is named from inside.
        let inner = memory_folder(&slug.join("memory")).unwrap();
        assert_eq!(inner[0].path, "MEMORY.md");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_back_up_is_not_followed() {
        let home = TempDir::new("loop");
        home.write("memory/a.md", b"- a\n");
        std::os::unix::fs::symlink(&home.0, home.0.join("memory/up")).unwrap();
        std::os::unix::fs::symlink(home.0.join("memory/a.md"), home.0.join("memory/b.md")).unwrap();
        let files = claude_code(&home.0, None).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["memory/a.md", "memory/b.md"]);
        // The link's file is where a pull writes.
        assert_eq!(files[1].disk, files[0].disk);
    }

    #[test]
    fn files_that_are_not_utf8_are_all_named() {
        let f = |path: &str, bytes: &[u8]| LocalFile {
            path: path.to_string(),
            disk: PathBuf::from("/d").join(path),
            bytes: bytes.to_vec(),
        };
        let ok = bundle(&[f("memory/a.md", "- é\n".as_bytes())]).unwrap();
        assert_eq!(ok, [File { path: "memory/a.md".into(), content: "- é\n".into() }]);
        let err = bundle(&[
            f("memory/a.md", b"ok"),
            f("memory/b.md", b"\xff"),
            f("memory/c.md", b"a\xc3"),
        ])
        .unwrap_err();
        assert!(err.contains("/d/memory/b.md (byte 0)"), "{err}");
        assert!(err.contains("/d/memory/c.md (byte 1)"), "{err}");
        assert!(!err.contains("a.md"), "{err}");
    }

    #[test]
    fn a_memory_folder_sends_the_files_formats_use_and_skips_hidden_ones() {
        let dir = TempDir::new("walk");
        dir.write("system/persona.md", b"- a\n");
        dir.write("notes.txt", b"b\n");
        dir.write("memory.jsonl", b"{}\n");
        dir.write("mem0.json", b"{}");
        dir.write("mem0.json.operations.json", b"[]");
        dir.write("photo.png", b"\x89PNG");
        dir.write(".git/HEAD", b"ref\n");
        dir.write(".reverie/state.json", b"{}");
        dir.write("system/.hidden.md", b"- h\n");
        let (sent, left) = memory_files(&dir.0).unwrap();
        let names: Vec<&str> = sent.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["mem0.json", "memory.jsonl", "notes.txt", "system/persona.md"]);
        assert_eq!(left, ["mem0.json.operations.json", "photo.png"]);
        // One file is sent by its name, whatever it is called; its state
        // lives in its folder.
        let one = dir.0.join("memory.jsonl");
        let (sent, left) = memory_files(&one).unwrap();
        assert_eq!((sent[0].path.as_str(), left.len()), ("memory.jsonl", 0));
        assert_eq!(state_dir(&one), dir.0);
        assert_eq!(state_dir(&dir.0), dir.0);
        assert!(memory_files(&dir.0.join("missing")).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn session_ids_come_from_valid_file_names() {
        let uuid = "0b3c7c4e-5f5e-4b8a-9d5c-1f2e3d4c5b6a";
        assert_eq!(session_id(&format!("{uuid}.jsonl")).as_deref(), Some(uuid));
        assert_eq!(session_id("a:b_c.d.jsonl").as_deref(), Some("a:b_c.d"));
        assert_eq!(session_id("has space.jsonl"), None);
        assert_eq!(session_id("ünï.jsonl"), None);
        assert_eq!(session_id("...jsonl"), None);
        assert_eq!(session_id(".jsonl"), None);
        assert_eq!(session_id(&format!("{}.jsonl", "x".repeat(129))), None);
        assert!(session_id(&format!("{}.jsonl", "x".repeat(128))).is_some());
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_keep_a_backup() {
        let home = TempDir::new("write");
        let path = home.write("memory/a.md", b"old\n");
        back_up(&home.0.join("backup/1"), "memory/a.md", b"old\n").unwrap();
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        assert_eq!(fs::read(home.0.join("backup/1/memory/a.md")).unwrap(), b"old\n");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(home.0.join("memory"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.md"]);
        // A folder that is not there fails without writing anything.
        assert!(write_atomic(&home.0.join("nope/a.md"), b"x").is_err());
        assert!(!home.0.join("nope").exists());
    }

    #[test]
    fn hashes_are_sha256() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
