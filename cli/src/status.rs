//! `reverie status [DIR] --agent A`: the agent as the service sees it,
//! its proposals waiting for review, and what DIR last pushed and pulled.

use std::fmt::Write as _;
use std::path::Path;

use reverie_api::{Agent, ProposalList};

use crate::http::{seg, Client};
use crate::show::{count, utc};
use crate::state::{self, AgentState};

pub fn run(client: &Client, dir: &Path, agent_id: &str) -> Result<(), String> {
    let agent: Agent =
        client.get(&format!("/agents/{}", seg(agent_id))).map_err(|e| e.to_string())?;
    print!("{}", describe_agent(&agent));
    if agent.pending_proposals > 0 {
        let path = format!("/proposals?agent_id={}&status=pending&limit=20", seg(agent_id));
        match client.get::<ProposalList>(&path) {
            Ok(list) => {
                for p in &list.proposals {
                    println!(
                        "  {}: {} undecided of {}, {}/#/proposals/{}",
                        p.id,
                        p.pending_count,
                        count(p.change_count.max(0) as u64, "change"),
                        client.base(),
                        p.id
                    );
                }
            }
            Err(e) => eprintln!("  (cannot list them: {e})"),
        }
    }
    // The folder's side is extra: a broken state file is said, not fatal.
    let dir = &crate::files::state_dir(dir);
    match state::load(dir) {
        Ok(all) => print!("{}", describe_folder(dir, all.agents.get(agent_id))),
        Err(e) => eprintln!("{e}"),
    }
    Ok(())
}

fn describe_agent(a: &Agent) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "agent {} ({})", a.id, a.name);
    let version = a.store.version.map_or("no version yet".to_string(), |v| format!("version {v}"));
    let _ = writeln!(
        s,
        "  store {}: {version}, {} active entries{}",
        a.store.id,
        a.store.active_entries,
        if a.store.shared { ", shared" } else { "" }
    );
    let _ = writeln!(
        s,
        "  passes: {} {} at {}{}",
        if a.enabled { "scheduled" } else { "not scheduled" },
        a.schedule,
        a.schedule_time,
        if a.require_approval {
            ", changes wait for approval"
        } else {
            ", changes apply unattended"
        }
    );
    match &a.last_pass {
        Some(p) => {
            let _ = writeln!(
                s,
                "  last pass: #{} {}, started {}{}{}",
                p.id,
                p.status.as_str(),
                utc(p.started_at),
                p.finished_at.map(|t| format!(", finished {}", utc(t))).unwrap_or_default(),
                p.proposal_id.as_ref().map(|id| format!(", proposal {id}")).unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(s, "  last pass: none yet");
        }
    }
    let _ = writeln!(s, "  proposals pending: {}", a.pending_proposals);
    s
}

fn describe_folder(dir: &Path, entry: Option<&AgentState>) -> String {
    let mut s = String::new();
    let Some(e) = entry.filter(|e| e.pushed_at.is_some() || !e.sessions.is_empty()) else {
        let _ = writeln!(s, "{}: nothing pushed to this agent from here", dir.display());
        return s;
    };
    let _ = writeln!(s, "{}:", dir.display());
    match (e.pushed_at, &e.import_id) {
        (Some(at), Some(import)) => {
            let _ = writeln!(
                s,
                "  last push: {}, {} as import {import} (store {}{})",
                utc(at),
                count(e.files.len() as u64, "file"),
                e.store_id.as_deref().unwrap_or("?"),
                e.import_version.map(|v| format!(" at version {v}")).unwrap_or_default()
            );
        }
        _ => {
            let _ = writeln!(s, "  last push: no memory files yet");
        }
    }
    let _ = writeln!(s, "  sessions pushed: {}", e.sessions.len());
    match &e.last_pull {
        Some(p) => {
            let _ = writeln!(
                s,
                "  last pull: {}, version {} into {} (backup {})",
                utc(p.at),
                p.version,
                count(p.written.len() as u64, "file"),
                p.backup.display()
            );
        }
        None => {
            let _ = writeln!(s, "  last pull: none");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{FileState, PullState};

    #[test]
    fn the_folder_says_what_it_pushed_and_pulled() {
        let none = describe_folder(Path::new("d"), None);
        assert!(none.contains("nothing pushed"), "{none}");
        let e = AgentState {
            store_id: Some("s".into()),
            import_id: Some("imp_1".into()),
            import_version: Some(4),
            pushed_at: Some(0),
            files: vec![FileState {
                path: "memory/a.md".into(),
                disk: "/a".into(),
                sha256: "0".into(),
            }],
            last_pull: Some(PullState {
                at: 60_000,
                version: 5,
                written: vec!["memory/a.md".into()],
                backup: "/b".into(),
            }),
            ..AgentState::default()
        };
        let text = describe_folder(Path::new("d"), Some(&e));
        assert!(text.contains("1 file as import imp_1 (store s at version 4)"), "{text}");
        assert!(text.contains("last pull: 1970-01-01 00:01 UTC, version 5 into 1 file"), "{text}");
    }
}
