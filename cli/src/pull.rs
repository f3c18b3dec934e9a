//! `reverie pull DIR --agent A`: the files of the last push as the store
//! has them now, written back only where a review changed them, and only
//! over files nobody edited here since.

use std::fs;
use std::path::{Path, PathBuf};

use reverie_api::StoreExport;
use reverie_core::formats::File;

use crate::files;
use crate::http::{seg, Client};
use crate::show::count;
use crate::state::{self, AgentState, PullState};

pub fn run(client: &Client, pushed: &Path, agent: &str) -> Result<(), String> {
    let dir = &files::state_dir(pushed);
    let mut all = state::load(dir)?;
    let entry = all.agents.get_mut(agent).filter(|e| e.import_id.is_some());
    let Some(entry) = entry else {
        return Err(format!(
            "{} holds no push to agent {agent}: run `reverie push claude-code {} --agent {agent}` \
             (or `push files`) first",
            state::path(dir).display(),
            pushed.display()
        ));
    };
    let (Some(store), Some(import)) = (entry.store_id.clone(), entry.import_id.clone()) else {
        return Err(format!("{} names no store or import", state::path(dir).display()));
    };
    let path = format!("/stores/{}/export?import={}", seg(&store), seg(&import));
    let export: StoreExport = client.get(&path).map_err(|e| match e.status() {
        Some(410) => format!(
            "{e}\nThe service keeps the files of a store's latest imports only, and this \
             folder's push ({import}) is older: push again, then pull."
        ),
        _ => e.to_string(),
    })?;
    if export.changed.is_empty() {
        println!(
            "No approved change since the push: store {} at version {}, {} as pushed. \
             Nothing written.",
            export.store_id,
            export.version,
            count(export.unchanged as u64, "file")
        );
        return Ok(());
    }
    let plan = plan(entry, &export.changed).map_err(|problems| {
        format!(
            "nothing was written: {} changed in Reverie, but here too since the push (or \
             cannot be checked):\n{}\nCopy your edits elsewhere and undo them here, pull \
             again, then make them on top of what the pull wrote.",
            if problems.len() == 1 { "a file was" } else { "files were" },
            problems.join("\n")
        )
    })?;
    if !plan.foreign.is_empty() {
        println!(
            "Left alone, not pushed from here: {} (changed in store {}, from another push)",
            plan.foreign.join(", "),
            export.store_id
        );
    }
    if plan.writes.is_empty() && plan.current.is_empty() {
        println!("No approved change to the files pushed from here. Nothing written.");
        return Ok(());
    }
    if plan.writes.is_empty() {
        println!(
            "No approved change since the last pull: store {} at version {}; the files it \
             changed are here as Reverie has them ({}). Nothing written.",
            export.store_id,
            export.version,
            plan.current.join(", ")
        );
        return Ok(());
    }
    let now = files::unix_millis();
    let backup = state::home(dir).join("backup").join(now.to_string());
    let result = apply(entry, &plan, &backup);
    let written: Vec<String> = result.written.iter().map(|w| w.path.clone()).collect();
    if !written.is_empty() {
        entry.last_pull =
            Some(PullState { at: now, version: export.version, written, backup: backup.clone() });
    }
    // Saved whatever happened: a file written is a file whose new hash
    // the next pull must check against.
    state::save(dir, &all)?;
    println!(
        "Wrote store {} version {} into {}:",
        export.store_id,
        export.version,
        count(result.written.len() as u64, "file")
    );
    for w in &result.written {
        println!("  {}  ({})", w.path, w.disk.display());
    }
    if result.written.iter().any(|w| w.made) {
        println!(
            "The *{} files list the updates and deletes (by id, with the hash each record \
             must still have) for the service that keeps the listing; the listing itself is \
             left as it was.",
            files::OPERATIONS
        );
    }
    if !result.written.is_empty() {
        println!("Previous contents backed up under {}", backup.display());
    }
    match result.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What a pull will write.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Files to replace.
    writes: Vec<Write>,
    /// Changed files that hold the new bytes already (a pull before).
    current: Vec<String>,
    /// Changed files this folder did not push: the service carries into
    /// each import the files earlier pushes held (another folder's, or
    /// `compare`'s), and they are not this folder's to write.
    foreign: Vec<String>,
}

#[derive(Debug, PartialEq)]
struct Write {
    path: String,
    disk: PathBuf,
    content: String,
    /// A file the pull makes beside a pushed one (a listing's operations):
    /// never pushed, so never checked for edits; replaced after a backup.
    made: bool,
}

/// Checks every changed file this folder pushed before any is written:
/// it must still hold the bytes it was pushed (or last pulled) with.
/// Returns one line per file that does not, naming it.
fn plan(entry: &AgentState, changed: &[File]) -> Result<Plan, Vec<String>> {
    let mut out = Plan::default();
    let mut problems = Vec::new();
    for file in changed {
        // A listing's operations: written beside the listing pushed.
        let listing = file.path.strip_suffix(files::OPERATIONS);
        let beside = listing.and_then(|p| entry.files.iter().find(|f| f.path == p));
        if let Some(known) = beside {
            let mut disk = known.disk.clone().into_os_string();
            disk.push(files::OPERATIONS);
            let disk = PathBuf::from(disk);
            if fs::read(&disk).is_ok_and(|b| b == file.content.as_bytes()) {
                out.current.push(file.path.clone());
            } else {
                let content = file.content.clone();
                out.writes.push(Write { path: file.path.clone(), disk, content, made: true });
            }
            continue;
        }
        let Some(known) = entry.files.iter().find(|f| f.path == file.path) else {
            // A file the export made (entries MEMORY.md had no room for):
            // written beside the files pushed from the same folder, when
            // nothing is there yet; anything else is another push's.
            let disk = listing.is_none().then(|| beside_pushed(entry, &file.path)).flatten();
            match disk.filter(|disk| !disk.exists()) {
                Some(disk) => {
                    let content = file.content.clone();
                    out.writes.push(Write { path: file.path.clone(), disk, content, made: true });
                }
                None => out.foreign.push(file.path.clone()),
            }
            continue;
        };
        let bytes = match fs::read(&known.disk) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("  {} ({}): {e}", known.disk.display(), file.path));
                continue;
            }
        };
        if bytes == file.content.as_bytes() {
            out.current.push(file.path.clone());
        } else if files::sha256(&bytes) != known.sha256 {
            problems.push(format!(
                "  {} ({}): edited since the push",
                known.disk.display(),
                file.path
            ));
        } else {
            out.writes.push(Write {
                path: file.path.clone(),
                disk: known.disk.clone(),
                content: file.content.clone(),
                made: false,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Where a file of bundle path `path` goes on disk: in the folder of a
/// pushed file whose bundle path has the same folder.
fn beside_pushed(entry: &AgentState, path: &str) -> Option<PathBuf> {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let sibling =
        entry.files.iter().find(|f| f.path.rsplit_once('/').map_or("", |(d, _)| d) == folder)?;
    Some(sibling.disk.parent()?.join(name))
}

/// What `apply` did: the files written, and the error that stopped it.
struct Applied<'a> {
    written: Vec<&'a Write>,
    error: Option<String>,
}

/// Backs up and replaces each file in turn, updating its hash in `entry`
/// as it goes; stops at the first failure.
fn apply<'a>(entry: &mut AgentState, plan: &'a Plan, backup: &Path) -> Applied<'a> {
    let mut written = Vec::new();
    for w in &plan.writes {
        let old = match fs::read(&w.disk) {
            Err(e) if w.made && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            read => read.map(Some),
        };
        let step = old
            .and_then(|old| {
                old.map_or(Ok(()), |old| files::back_up(backup, &w.path, &old).map(drop))
            })
            .and_then(|()| files::write_atomic(&w.disk, w.content.as_bytes()));
        if let Err(e) = step {
            let error = format!(
                "stopped at {} ({e}); {} of {} files were written",
                w.disk.display(),
                written.len(),
                plan.writes.len()
            );
            return Applied { written, error: Some(error) };
        }
        if let Some(f) = entry.file_mut(&w.path) {
            f.sha256 = files::sha256(w.content.as_bytes());
        }
        written.push(w);
    }
    Applied { written, error: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::tests::TempDir;
    use crate::state::FileState;

    fn pushed(dir: &TempDir, files: &[(&str, &str)]) -> AgentState {
        let mut entry = AgentState::default();
        for (path, content) in files {
            let disk = dir.write(path, content.as_bytes());
            entry.files.push(FileState {
                path: path.to_string(),
                disk,
                sha256: files::sha256(content.as_bytes()),
            });
        }
        entry
    }

    fn file(path: &str, content: &str) -> File {
        File { path: path.into(), content: content.into() }
    }

    #[test]
    fn files_edited_here_are_all_named_and_nothing_is_planned() {
        let dir = TempDir::new("refuse");
        let entry = pushed(
            &dir,
            &[("memory/a.md", "- a\n"), ("memory/b.md", "- b\n"), ("memory/c.md", "- c\n")],
        );
        dir.write("memory/a.md", b"- a, edited\n");
        fs::remove_file(dir.0.join("memory/c.md")).unwrap();
        let changed = [
            file("memory/a.md", "- A\n"),
            file("memory/b.md", "- B\n"),
            file("memory/c.md", "- C\n"),
            file("memory/z.md", "- Z\n"),
        ];
        let problems = plan(&entry, &changed).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("memory/a.md") && problems[0].contains("edited"));
        assert!(problems[1].contains("memory/c.md"));
        // b.md, which could be written, was not.
        assert_eq!(fs::read(dir.0.join("memory/b.md")).unwrap(), b"- b\n");
    }

    #[test]
    fn a_pull_backs_up_writes_and_records_the_new_hashes() {
        let dir = TempDir::new("apply");
        let mut entry =
            pushed(&dir, &[("memory/a.md", "- a\n- dup\n"), ("rules/CLAUDE.md", "- r\n")]);
        let changed = [file("memory/a.md", "- a\n"), file("rules/CLAUDE.md", "- r\n")];
        dir.write("rules/CLAUDE.md", b"- r\n");
        let p = plan(&entry, &changed).unwrap();
        // CLAUDE.md already holds what Reverie has: left alone.
        assert_eq!(p.current, ["rules/CLAUDE.md"]);
        assert_eq!(p.writes.len(), 1);
        let backup = dir.0.join(".reverie/backup/123");
        let done = apply(&mut entry, &p, &backup);
        assert!(done.error.is_none());
        assert_eq!(done.written.len(), 1);
        assert_eq!(fs::read(dir.0.join("memory/a.md")).unwrap(), b"- a\n");
        assert_eq!(fs::read(backup.join("memory/a.md")).unwrap(), b"- a\n- dup\n");
        assert_eq!(entry.files[0].sha256, files::sha256(b"- a\n"));
        // Pulled again, the file holds the new bytes: nothing to write. A
        // file another push brought is left alone.
        let again = plan(&entry, &[file("memory/a.md", "- a\n"), file("MEMORY.md", "- x\n")]);
        let again = again.unwrap();
        assert!(again.writes.is_empty());
        assert_eq!(again.foreign, ["MEMORY.md"]);
    }

    #[test]
    fn a_listings_operations_are_written_beside_it_and_backed_up_when_replaced() {
        let dir = TempDir::new("ops");
        let mut entry = pushed(&dir, &[("mem0.json", "{\"results\": []}")]);
        let ops = file("mem0.json.operations.json", "[{\"op\":\"delete\",\"id\":\"a\"}]");
        let p = plan(&entry, std::slice::from_ref(&ops)).unwrap();
        assert_eq!(p.writes.len(), 1);
        assert!(p.writes[0].made);
        assert_eq!(p.writes[0].disk, dir.0.join("mem0.json.operations.json"));
        let backup = dir.0.join(".reverie/backup/1");
        assert!(apply(&mut entry, &p, &backup).error.is_none());
        assert_eq!(
            fs::read_to_string(dir.0.join("mem0.json.operations.json")).unwrap(),
            ops.content
        );
        assert!(!backup.exists(), "nothing was there to back up");
        // The listing itself is untouched, and its pushed hash stands.
        assert_eq!(entry.files[0].sha256, files::sha256(b"{\"results\": []}"));
        // The same operations again: nothing to write. Others replace them,
        // the earlier ones backed up.
        assert_eq!(plan(&entry, std::slice::from_ref(&ops)).unwrap().current.len(), 1);
        let newer = file("mem0.json.operations.json", "[]");
        let p = plan(&entry, &[newer]).unwrap();
        assert!(apply(&mut entry, &p, &backup).error.is_none());
        assert_eq!(
            fs::read_to_string(backup.join("mem0.json.operations.json")).unwrap(),
            ops.content
        );
        // Operations for a listing not pushed from here are another's.
        let foreign = file("other.json.operations.json", "[]");
        assert_eq!(plan(&entry, &[foreign]).unwrap().foreign, ["other.json.operations.json"]);
    }

    #[test]
    fn a_file_the_export_made_is_written_beside_its_folder_once() {
        let dir = TempDir::new("made");
        let mut entry = pushed(&dir, &[("memory/MEMORY.md", "- a\n")]);
        let notes = file("memory/reverie-notes.md", "- b\n");
        let p = plan(&entry, std::slice::from_ref(&notes)).unwrap();
        assert_eq!(p.writes.len(), 1);
        assert_eq!(p.writes[0].disk, dir.0.join("memory/reverie-notes.md"));
        assert!(apply(&mut entry, &p, &dir.0.join("backup")).error.is_none());
        assert_eq!(fs::read(dir.0.join("memory/reverie-notes.md")).unwrap(), b"- b\n");
        // There now, it is the user's: never overwritten. A file in a
        // folder nothing was pushed from is another push's.
        let again = plan(&entry, &[file("memory/reverie-notes.md", "- c\n")]).unwrap();
        assert_eq!(again.foreign, ["memory/reverie-notes.md"]);
        let elsewhere = plan(&entry, &[file("rules/x.md", "- c\n")]).unwrap();
        assert_eq!(elsewhere.foreign, ["rules/x.md"]);
    }

    #[test]
    fn a_write_that_fails_stops_and_keeps_the_hashes_of_files_written() {
        let dir = TempDir::new("fail");
        let mut entry = pushed(&dir, &[("memory/a.md", "a"), ("memory/b.md", "b")]);
        let p = plan(&entry, &[file("memory/a.md", "A"), file("memory/b.md", "B")]).unwrap();
        // b.md is gone by the time it is written.
        fs::remove_file(dir.0.join("memory/b.md")).unwrap();
        let done = apply(&mut entry, &p, &dir.0.join("backup"));
        assert_eq!(done.written.len(), 1);
        assert!(done.error.unwrap().contains("1 of 2"));
        assert_eq!(entry.files[0].sha256, files::sha256(b"A"));
        assert_eq!(entry.files[1].sha256, files::sha256(b"b"));
    }
}
