//! Stage 5: durable statements from the transcripts not already in memory.

use rustc_hash::FxHashSet as HashSet;

use crate::entry::Id;
use crate::proposal::{Change, ChangeKind};

use super::builder::{placeholder_id, said_quote, Builder};

impl Builder<'_, '_> {
    /// Durable statements from the transcripts not already in memory.
    pub(super) fn add_statements(&mut self) {
        // Statements are the rows after the store's entries.
        let statements = self.items.entries..self.items.len();
        if statements.is_empty() {
            return;
        }
        // A statement whose message an entry already cites is in memory.
        let cited: HashSet<(&Id, u32)> = self.items[..self.items.entries]
            .iter()
            .filter_map(|i| i.entry)
            .flat_map(|e| e.provenance.sources.iter().map(|s| (&s.session_id, s.message_index)))
            .collect();
        for i in statements {
            let Some(s) = self.items[i].statement else { continue };
            if self.claimed[i]
                || s.retraction
                || cited.contains(&(&s.said.session_id, s.said.message_index))
            {
                continue;
            }
            self.claimed[i] = true;
            let result = self.entry_for_statement(i);
            self.push(
                Change {
                    id: placeholder_id(),
                    kind: ChangeKind::Add,
                    targets: Vec::new(),
                    justification: format!("the user stated it in session {}", s.said.session_id),
                    evidence: vec![said_quote(&s.said)],
                    result: Some(result),
                    confidence: 0.75,
                    risk: Vec::new(),
                    sessions_seen: None,
                    made_by: None,
                },
                &[i],
            );
        }
    }
}
