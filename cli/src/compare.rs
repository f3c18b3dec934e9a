//! `reverie compare BEFORE AFTER --agent A`: two versions of a memory
//! folder, sent for Reverie to propose the change between them.

use std::path::Path;

use reverie_api::{DreamCompared, NewComparison};
use reverie_core::formats::Format;

use crate::files;
use crate::http::{seg, Client};
use crate::show::count;

pub fn run(client: &Client, before: &Path, after: &Path, agent: &str) -> Result<(), String> {
    let read = |dir: &Path| files::memory_folder(dir).and_then(|f| files::bundle(&f));
    let body = NewComparison {
        format: Some(Format::Markdown),
        before: read(before)?,
        after: read(after)?,
    };
    if body.before.is_empty() && body.after.is_empty() {
        return Err(format!(
            "neither {} nor {} holds a *.md file",
            before.display(),
            after.display()
        ));
    }
    let path = format!("/agents/{}/imports/compare", seg(agent));
    let done: DreamCompared = client.post(&path, &body).map_err(|e| e.to_string())?;
    println!(
        "compared {} before with {} after (import {}, store {} at version {})",
        count(body.before.len() as u64, "file"),
        body.after.len(),
        done.import_id,
        done.store_id,
        done.version
    );
    print!("{}", report(client.base(), &done));
    Ok(())
}

fn report(base: &str, done: &DreamCompared) -> String {
    let kinds: Vec<String> = done.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let kinds = if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) };
    let id = &done.proposal_id;
    let mut out = format!(
        "proposal {id}: {}{kinds}\nreview it at {base}/#/proposals/{id}\n",
        count(done.changes as u64, "change")
    );
    for s in &done.skipped {
        let line = s.line.map(|l| format!(":{l}")).unwrap_or_default();
        out.push_str(&format!("  kept as written, not read: {}{line}: {}\n", s.path, s.reason));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_shown_with_a_dashboard_link() {
        let done: DreamCompared = serde_json::from_str(
            r#"{"import_id":"imp_1","store_id":"s","version":2,"proposal_id":"prop_9",
                "changes":3,"by_kind":{"merge":2,"prune":1},
                "skipped":[{"path":"MEMORY.md","line":4,"reason":"index line"}]}"#,
        )
        .unwrap();
        assert_eq!(
            report("http://h:1", &done),
            "proposal prop_9: 3 changes (merge 2, prune 1)\n\
             review it at http://h:1/#/proposals/prop_9\n\
             \x20 kept as written, not read: MEMORY.md:4: index line\n"
        );
    }

    #[test]
    fn the_request_names_both_sides() {
        let body = NewComparison {
            format: Some(Format::Markdown),
            before: vec![reverie_core::formats::File {
                path: "MEMORY.md".into(),
                content: "- a\n".into(),
            }],
            after: vec![],
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"format": "markdown",
                "before": [{"path": "MEMORY.md", "content": "- a\n"}], "after": []})
        );
    }
}
