//! Stage 3: time-bound entries past their time, and entries with no
//! durable content, are retired.

use crate::entry::Timestamp;
use crate::proposal::{entry_quote, Change, ChangeKind};

use super::builder::{placeholder_id, Builder};
use super::items::TIME_BOUND;

impl Builder<'_, '_> {
    /// Time-bound entries past their time, and entries with no durable
    /// content, are retired.
    pub(super) fn prune(&mut self) {
        let stale_before = self.config.now.millis() - self.config.stale_after_days * Timestamp::DAY;
        for i in 0..self.items.len() {
            // The row has what the rule reads; the entry is read only to
            // retire it.
            let item = &self.items[i];
            let Some(entry) = item.entry else { continue };
            if !self.free(i) {
                continue;
            }
            let f = &item.features;
            let time_word = self.items.time_bounds[i].map(|k| TIME_BOUND[usize::from(k)]);
            let (reason, confidence) =
                if let (Some(w), true) = (time_word, item.observed.millis() < stale_before) {
                    let days = (self.config.now.millis() - item.observed.millis()) / Timestamp::DAY;
                    (format!("time-bound (\"{w}\") and observed {days} days ago"), 0.7)
                } else if f.no_information {
                    ("carries no durable information (greeting or reaction only)".to_string(), 0.7)
                } else {
                    continue;
                };
            self.claimed[i] = true;
            self.push(
                Change {
                    id: placeholder_id(),
                    kind: ChangeKind::Prune,
                    targets: vec![entry.id.clone()],
                    result: None,
                    justification: reason,
                    evidence: vec![entry_quote(entry)],
                    confidence,
                    risk: Vec::new(),
                    sessions_seen: None,
                    made_by: None,
                },
                &[i],
            );
        }
    }
}
