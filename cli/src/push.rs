//! `reverie push claude-code DIR --agent A`: the memory files as one
//! import, then each transcript not sent yet as a session.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use reverie_api::{Imported, NewImport, NewSession};
use reverie_core::formats::Format;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::files::{self, LocalFile};
use crate::http::{seg, Client};
use crate::show::count;
use crate::state::{self, AgentState, FileState, SessionState, State};

pub fn run(client: &Client, dir: &Path, agent: &str, rules: Option<&Path>) -> Result<(), String> {
    let local = files::claude_code(dir, rules)?;
    // Every file is checked before anything is sent.
    let bundle = files::bundle(&local)?;
    let transcripts = files::transcripts(dir)?;
    let mut all = state::load(dir)?;
    // Rule files count as deleted only when rules are pushed.
    let deleted =
        deleted_here(&all, agent, &bundle, |p| rules.is_some() || !p.starts_with("rules/"));
    let import_failed = if bundle.is_empty() && deleted.is_empty() {
        println!(
            "memory: no *.md files under {}{}; nothing imported",
            dir.join("memory").display(),
            if rules.is_some() { " nor rule files in the project" } else { "" }
        );
        None
    } else {
        // The folder names the source: its next push is compared with this.
        let push = Push {
            dir,
            pushed: dir,
            agent,
            format: Some(Format::Markdown),
            source: format!("claude-code:{}", dir.display()),
        };
        import(client, &push, &mut all, &local, bundle, deleted)?
    };
    let entry = all.agents.entry(agent.to_string()).or_default();
    let tally = push_sessions(client, agent, &transcripts, entry);
    state::save(dir, &all)?;
    tally.print();
    match import_failed {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// `reverie push files PATH`: memory in any format, from a folder or one
/// file, as one import; the state goes in the folder (a file's folder).
pub fn files(
    client: &Client,
    path: &Path,
    agent: &str,
    format: Option<Format>,
) -> Result<(), String> {
    let (local, left) = files::memory_files(path)?;
    let bundle = files::bundle(&local)?;
    let dir = files::state_dir(path);
    let mut all = state::load(&dir)?;
    let deleted = deleted_here(&all, agent, &bundle, |_| true);
    if !left.is_empty() {
        let shown: Vec<&str> = left.iter().take(5).map(String::as_str).collect();
        let more =
            if left.len() > 5 { format!(" and {} more", left.len() - 5) } else { String::new() };
        println!("not sent, no memory format keeps files so named: {}{more}", shown.join(", "));
    }
    if bundle.is_empty() && deleted.is_empty() {
        return Err(format!(
            "{} holds no *.md, *.markdown, *.txt, *.json or *.jsonl file; nothing imported",
            path.display()
        ));
    }
    let disk =
        fs::canonicalize(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let push = Push {
        dir: &dir,
        pushed: path,
        agent,
        format,
        source: format!("files:{}", disk.display()),
    };
    let failed = import(client, &push, &mut all, &local, bundle, deleted)?;
    failed.map_or(Ok(()), Err)
}

/// `reverie push sessions FILE...`: each transcript as a session, under
/// its file name; the service takes one sent before once.
pub fn sessions(client: &Client, paths: &[PathBuf], agent: &str) -> Result<(), String> {
    let mut transcripts = Vec::with_capacity(paths.len());
    for p in paths {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a file name in UTF-8", p.display()))?;
        if !p.is_file() {
            return Err(format!("{} is not a file; nothing was sent", p.display()));
        }
        transcripts.push((name.to_string(), p.clone()));
    }
    let mut entry = AgentState::default();
    let tally = push_sessions(client, agent, &transcripts, &mut entry);
    tally.print();
    if tally.failed > 0 || tally.not_tried > 0 {
        return Err(format!(
            "{} of {} transcripts were not taken",
            tally.failed + tally.not_tried,
            paths.len()
        ));
    }
    Ok(())
}

/// Files the last push from here held that are gone now (and `counts`):
/// deleted here, so the push says so and their entries go too.
fn deleted_here(
    all: &State,
    agent: &str,
    bundle: &[reverie_core::formats::File],
    counts: impl Fn(&str) -> bool,
) -> Vec<String> {
    let pushed = all.agents.get(agent).map(|a| &a.files[..]).unwrap_or_default();
    pushed
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| counts(p) && !bundle.iter().any(|f| &f.path == p))
        .collect()
}

/// One push of memory files.
struct Push<'a> {
    /// Where the state is kept.
    dir: &'a Path,
    /// What the user named, for messages.
    pushed: &'a Path,
    agent: &'a str,
    format: Option<Format>,
    /// What the service compares the next push of the same source with.
    source: String,
}

/// Sends the import and records it in `all`: `Ok(None)` when taken,
/// `Ok(Some(why))` when refused in a way that leaves the sessions worth
/// sending, `Err` when nothing further can go.
fn import(
    client: &Client,
    push: &Push<'_>,
    all: &mut State,
    local: &[LocalFile],
    bundle: Vec<reverie_core::formats::File>,
    deleted: Vec<String>,
) -> Result<Option<String>, String> {
    let agent = push.agent;
    if !deleted.is_empty() {
        println!(
            "memory: {} deleted here since the last push: {}",
            deleted.len(),
            deleted.join(", ")
        );
    }
    let body = NewImport {
        format: push.format,
        files: bundle,
        source: Some(push.source.clone()),
        deleted: deleted.clone(),
    };
    match client.post::<_, Imported>(&format!("/agents/{}/imports", seg(agent)), &body) {
        Ok(done) => {
            print_import(&done);
            let now = files::unix_millis();
            let entry = all.agents.entry(agent.to_string()).or_default();
            let import =
                Import { store_id: &done.store_id, id: &done.import_id, version: done.version };
            record_import(entry, client.base(), import, local, &deleted, now);
            state::save(push.dir, all)?;
            Ok(None)
        }
        Err(e) if e.stops_everything() => Err(format!("nothing was pushed: {e}")),
        Err(e) => {
            let why = match e.status() {
                Some(409) => format!(
                    "pull first: these files changed here and in Reverie since the last push \
                     (`reverie pull {} --agent {agent}`, then push again). {e}",
                    push.pushed.display()
                ),
                _ => e.to_string(),
            };
            // The reason ends the output, after the sessions' lines.
            eprintln!("memory: not imported (see below)");
            Ok(Some(why))
        }
    }
}

fn print_import(done: &Imported) {
    println!(
        "memory: {} read, {}: {} added, {} removed, {} unchanged (import {}, store {} at \
         version {})",
        count(done.files as u64, "file"),
        count(done.entries as u64, "entry"),
        done.added,
        done.removed,
        done.unchanged,
        done.import_id,
        done.store_id,
        done.version
    );
    if !done.skipped.is_empty() {
        println!("  kept as written, not read as entries:");
        for s in &done.skipped {
            match s.line {
                Some(line) => println!("    {}:{line}: {}", s.path, s.reason),
                None => println!("    {}: {}", s.path, s.reason),
            }
        }
    }
}

/// What the state keeps of an import's answer.
#[derive(Clone, Copy)]
struct Import<'a> {
    store_id: &'a str,
    id: &'a str,
    version: i64,
}

/// The import as the folder's state remembers it: the files sent, where
/// they are, and their hashes, for `pull` to check. Files pushed before
/// and left out now stay listed: the service carries them over into the
/// new import as they were.
fn record_import(
    entry: &mut AgentState,
    url: &str,
    import: Import<'_>,
    local: &[LocalFile],
    deleted: &[String],
    now: i64,
) {
    entry.url = Some(url.to_string());
    entry.store_id = Some(import.store_id.to_string());
    entry.import_id = Some(import.id.to_string());
    entry.import_version = Some(import.version);
    entry.pushed_at = Some(now);
    let mut files: Vec<FileState> = local
        .iter()
        .map(|f| FileState {
            path: f.path.clone(),
            disk: f.disk.clone(),
            sha256: files::sha256(&f.bytes),
        })
        .collect();
    let carried = entry
        .files
        .drain(..)
        .filter(|old| !local.iter().any(|f| f.path == old.path) && !deleted.contains(&old.path));
    files.extend(carried);
    entry.files = files;
}

/// What happened to the transcripts.
#[derive(Default)]
struct Tally {
    pushed: usize,
    already: usize,
    changed: usize,
    failed: usize,
    not_tried: usize,
}

impl Tally {
    fn print(&self) {
        let mut parts = vec![format!("{} pushed", self.pushed)];
        if self.already > 0 {
            parts.push(format!("{} pushed before", self.already));
        }
        if self.changed > 0 {
            parts.push(format!("{} changed since pushed (skipped)", self.changed));
        }
        parts.push(format!("{} failed", self.failed));
        if self.not_tried > 0 {
            parts.push(format!("{} not tried", self.not_tried));
        }
        println!("sessions: {}", parts.join(", "));
    }
}

/// Sends each transcript the state does not list with this size and
/// hash. A failure is reported and the next one tried; only sessions the
/// service took are recorded.
fn push_sessions(
    client: &Client,
    agent: &str,
    transcripts: &[(String, std::path::PathBuf)],
    entry: &mut AgentState,
) -> Tally {
    let mut tally = Tally::default();
    let path = format!("/agents/{}/sessions", seg(agent));
    for (i, (name, disk)) in transcripts.iter().enumerate() {
        let bytes = match fs::read(disk) {
            Ok(b) => b,
            Err(e) => {
                tally.failed += 1;
                eprintln!("  session {name}: cannot read {}: {e}", disk.display());
                continue;
            }
        };
        let size = bytes.len() as u64;
        let hash = files::sha256(&bytes);
        if entry.sessions.iter().any(|s| s.file == *name && s.size == size && s.sha256 == hash) {
            tally.already += 1;
            continue;
        }
        let body = match session_body(name, bytes) {
            Ok(b) => b,
            Err(why) => {
                tally.failed += 1;
                eprintln!("  session {name}: {why}");
                continue;
            }
        };
        match client.post::<_, Value>(&path, &body) {
            Ok(answer) => {
                let id = answer["session"]["id"].as_str().map(str::to_string);
                let id = id.or(body.id).unwrap_or_default();
                // `created: false`: sent before (a state file lost or
                // moved), the same bytes under the same id.
                if let Some(n) = answer["grew_by"].as_u64() {
                    tally.pushed += 1;
                    println!("  session {name}: {id} gained {n} messages");
                } else if answer["created"] == Value::Bool(false) {
                    tally.already += 1;
                    println!("  session {name}: in Reverie already as {id}");
                } else {
                    tally.pushed += 1;
                    println!("  session {name}: pushed as {id}");
                }
                entry.sessions.retain(|s| s.file != *name);
                entry.sessions.push(SessionState {
                    file: name.clone(),
                    size,
                    sha256: hash,
                    session_id: id,
                    pushed_at: files::unix_millis(),
                });
            }
            Err(e) if e.status() == Some(409) => {
                tally.changed += 1;
                eprintln!(
                    "  session {name}: changed since it was pushed, not only grown; skipped \
                     ({})",
                    e.message()
                );
            }
            Err(e) => {
                tally.failed += 1;
                eprintln!("  session {name}: {e}");
                if e.stops_everything() {
                    tally.not_tried = transcripts.len() - i - 1;
                    break;
                }
            }
        }
    }
    tally
}

/// A transcript as a session, under its file name's id when that is a
/// valid id: a JSON file (a request body, a list of items) as its JSON, a
/// log of JSON lines as one JSON string.
fn session_body(name: &str, bytes: Vec<u8>) -> Result<NewSession, String> {
    let text = String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {}); not sent", e.utf8_error().valid_up_to()))?;
    let one_value = !name.ends_with(".jsonl") && serde_json::from_str::<&RawValue>(&text).is_ok();
    let json =
        if one_value { text } else { serde_json::to_string(&text).map_err(|e| e.to_string())? };
    let transcript = RawValue::from_string(json).map_err(|e| e.to_string())?;
    Ok(NewSession {
        id: files::session_id(name),
        started_at: None,
        ended_at: None,
        format: None,
        transcript,
        metrics: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_goes_as_one_json_string() {
        let body =
            session_body("abc-1.jsonl", b"{\"type\":\"user\"}\n{\"x\":\"\xc3\xa9\"}\n".to_vec())
                .unwrap();
        assert_eq!(body.id.as_deref(), Some("abc-1"));
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["transcript"], "{\"type\":\"user\"}\n{\"x\":\"é\"}\n");
        assert!(json.get("format").is_none_or(Value::is_null));
        // A JSON file goes as its JSON; other text as a string.
        let body = session_body("run-2.json", br#"{"input": []}"#.to_vec()).unwrap();
        assert_eq!(body.id.as_deref(), Some("run-2"));
        assert_eq!(body.transcript.get(), r#"{"input": []}"#);
        let body = session_body("one.jsonl", br#"{"type":"user"}"#.to_vec()).unwrap();
        assert_eq!(body.transcript.get(), r#""{\"type\":\"user\"}""#);
        let err = session_body("b.jsonl", b"\xfe".to_vec()).unwrap_err();
        assert!(err.contains("UTF-8"), "{err}");
        assert_eq!(session_body("a b.jsonl", b"{}".to_vec()).unwrap().id, None);
    }

    #[test]
    fn an_import_is_recorded_with_hashes_and_places() {
        let done = Import { store_id: "s1", id: "imp_1", version: 3 };
        let local = [LocalFile {
            path: "memory/a.md".into(),
            disk: "/x/memory/a.md".into(),
            bytes: b"- a\n".to_vec(),
        }];
        let mut entry = AgentState::default();
        entry.files.push(FileState {
            path: "memory/old.md".into(),
            disk: "/o".into(),
            sha256: "0".into(),
        });
        record_import(&mut entry, "http://h", done, &local, &[], 7);
        assert_eq!(entry.import_id.as_deref(), Some("imp_1"));
        assert_eq!(entry.store_id.as_deref(), Some("s1"));
        assert_eq!(entry.pushed_at, Some(7));
        // The file pushed before and left out now is carried over.
        assert_eq!(
            entry.files,
            [
                FileState {
                    path: "memory/a.md".into(),
                    disk: "/x/memory/a.md".into(),
                    sha256: files::sha256(b"- a\n")
                },
                FileState { path: "memory/old.md".into(), disk: "/o".into(), sha256: "0".into() },
            ]
        );
    }
}
