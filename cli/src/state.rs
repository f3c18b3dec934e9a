//! What a folder last sent and received, kept in `DIR/.reverie/state.json`
//! so that `pull` knows which import to ask for and where each file goes,
//! and can tell a file edited here since the push from one it may replace.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files;

/// The layout of `state.json` this client writes.
const FORMAT: u32 = 1;

/// Everything kept for one folder, by agent: one folder may be pushed to
/// more than one agent, and each has its own import and sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The layout's version.
    #[serde(default)]
    pub format: u32,
    /// By agent id.
    #[serde(default)]
    pub agents: BTreeMap<String, AgentState>,
}

/// What was pushed to, and pulled from, one agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// The service pushed to.
    #[serde(default)]
    pub url: Option<String>,
    /// The agent's store.
    #[serde(default)]
    pub store_id: Option<String>,
    /// The last import: what `pull` exports.
    #[serde(default)]
    pub import_id: Option<String>,
    /// The store version that import made.
    #[serde(default)]
    pub import_version: Option<i64>,
    /// When the files were last pushed (ms since the epoch).
    #[serde(default)]
    pub pushed_at: Option<i64>,
    /// The files of the last import.
    #[serde(default)]
    pub files: Vec<FileState>,
    /// Transcripts the service has taken.
    #[serde(default)]
    pub sessions: Vec<SessionState>,
    /// The last pull that wrote something.
    #[serde(default)]
    pub last_pull: Option<PullState>,
}

/// One pushed file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Its path in the bundle (`memory/MEMORY.md`, `rules/CLAUDE.md`).
    pub path: String,
    /// Where it is on disk.
    pub disk: PathBuf,
    /// SHA-256 of its bytes as pushed, or as the last pull wrote them.
    pub sha256: String,
}

/// One transcript sent as a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// Its file name in the folder.
    pub file: String,
    /// Its size when sent.
    pub size: u64,
    /// SHA-256 of its bytes when sent.
    pub sha256: String,
    /// The session's id in the service.
    pub session_id: String,
    /// When it was sent.
    pub pushed_at: i64,
}

/// A pull that wrote files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullState {
    /// When.
    pub at: i64,
    /// The store version written.
    pub version: i64,
    /// The bundle paths written.
    pub written: Vec<String>,
    /// Where the files' previous bytes were copied.
    pub backup: PathBuf,
}

impl AgentState {
    /// The pushed file with this bundle path.
    pub fn file_mut(&mut self, path: &str) -> Option<&mut FileState> {
        self.files.iter_mut().find(|f| f.path == path)
    }
}

/// `DIR/.reverie`.
pub fn home(dir: &Path) -> PathBuf {
    dir.join(".reverie")
}

/// `DIR/.reverie/state.json`.
pub fn path(dir: &Path) -> PathBuf {
    home(dir).join("state.json")
}

/// The folder's state; empty when nothing was pushed from it yet.
pub fn load(dir: &Path) -> Result<State, String> {
    let path = path(dir);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{} is not state this client wrote ({e}); move it away to start over",
            path.display()
        )
    })?;
    if state.format > FORMAT {
        return Err(format!(
            "{} was written by a newer reverie (format {}); update this client",
            path.display(),
            state.format
        ));
    }
    Ok(state)
}

/// Writes the folder's state whole (creating `.reverie/`), atomically.
pub fn save(dir: &Path, state: &State) -> Result<(), String> {
    let path = path(dir);
    let mut state = state.clone();
    state.format = FORMAT;
    let mut json = serde_json::to_vec_pretty(&state)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    json.push(b'\n');
    fs::create_dir_all(home(dir))
        .and_then(|()| files::write_atomic(&path, &json))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::tests::TempDir;

    #[test]
    fn state_is_written_and_read_back() {
        let dir = TempDir::new("state");
        assert_eq!(load(&dir.0).unwrap(), State::default());
        let mut state = State::default();
        let a = state.agents.entry("a1".into()).or_default();
        a.store_id = Some("a1".into());
        a.import_id = Some("imp_1".into());
        a.files.push(FileState {
            path: "memory/MEMORY.md".into(),
            disk: dir.0.join("memory/MEMORY.md"),
            sha256: files::sha256(b"x"),
        });
        a.sessions.push(SessionState {
            file: "s.jsonl".into(),
            size: 3,
            sha256: files::sha256(b"abc"),
            session_id: "s".into(),
            pushed_at: 1,
        });
        save(&dir.0, &state).unwrap();
        let back = load(&dir.0).unwrap();
        assert_eq!(back.format, FORMAT);
        assert_eq!(back.agents, state.agents);
        // Saved again over itself.
        save(&dir.0, &back).unwrap();
        assert_eq!(load(&dir.0).unwrap(), back);
    }

    #[test]
    fn broken_or_newer_state_is_refused_not_overwritten() {
        let dir = TempDir::new("badstate");
        dir.write(".reverie/state.json", b"{not json");
        assert!(load(&dir.0).unwrap_err().contains("move it away"));
        dir.write(".reverie/state.json", br#"{"format": 99, "agents": {}}"#);
        assert!(load(&dir.0).unwrap_err().contains("newer"));
        // Fields this client does not know yet are read past.
        dir.write(".reverie/state.json", br#"{"format": 1, "agents": {"a": {"x": 1}}}"#);
        assert_eq!(load(&dir.0).unwrap().agents["a"], AgentState::default());
    }
}
