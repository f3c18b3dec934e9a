//! The audit log: append-only records of every mutation (who, when, which
//! proposal and change, the entry before and after), each hashed with the
//! previous record's hash, so that changing, dropping or reordering any
//! record breaks the chain where it happened.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entry::{Id, MemoryEntry, Timestamp};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audited event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// An accepted change of a proposal wrote the entry.
    ApplyChange,
    /// A reviewer rejected a change of a proposal; `note` holds the reason, if any.
    RejectChange,
    /// A whole proposal was rejected.
    RejectProposal,
    /// A rollback returned the entry to its state at an earlier version.
    Rollback,
    /// The entry was edited directly, outside any proposal.
    EditEntry,
    /// The entry was added directly, outside any proposal.
    AddEntry,
    /// The entry was deleted directly, outside any proposal.
    DeleteEntry,
}

/// What happened, as the caller describes it; `chain` makes it a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who acted, as the caller names them, e.g. `user:alice`.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// The store acted on.
    pub store_id: Id,
    /// The store version this event produced or was reviewed against.
    pub store_version: u64,
    /// The proposal the change belongs to; None outside proposals (direct
    /// writes, rollbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<Id>,
    /// The change of that proposal; None outside proposals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<Id>,
    /// The entry acted on; None for a rejected change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<Id>,
    /// The entry before the event; None when it did not exist yet, or for a
    /// rejected change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<MemoryEntry>,
    /// The entry after the event; None when the event removed it (a deletion
    /// or a rollback), or for a rejected change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<MemoryEntry>,
    /// A reject reason or a rollback's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An event as stored: numbered and hash-chained to the record before it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 0-based and consecutive.
    pub seq: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// The previous record's `hash`, or `GENESIS` for the first record.
    pub prev_hash: String,
    /// Hex SHA-256 of `prev_hash`, a newline, and the canonical JSON of
    /// `seq` and the event.
    pub hash: String,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    event: &'a AuditEvent,
}

fn hash_of(prev_hash: &str, seq: u64, event: &AuditEvent) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    // Struct fields serialize in declaration order, so the bytes are
    // canonical. Serializing these plain types cannot fail; if it ever did,
    // the hash would cover the error text and verification would fail
    // loudly rather than pass silently.
    match serde_json::to_vec(&Hashed { seq, event }) {
        Ok(bytes) => hasher.update(&bytes),
        Err(e) => hasher.update(format!("unserializable: {e}").as_bytes()),
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `events` after `last` (`None` for an empty log).
pub fn chain(last: Option<&AuditRecord>, events: Vec<AuditEvent>) -> Vec<AuditRecord> {
    let mut seq = last.map_or(0, |r| r.seq + 1);
    let mut prev = last.map_or_else(|| GENESIS.to_string(), |r| r.hash.clone());
    events
        .into_iter()
        .map(|event| {
            let hash = hash_of(&prev, seq, &event);
            let record = AuditRecord {
                seq,
                event,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            };
            seq += 1;
            record
        })
        .collect()
}

/// The result of `verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Whether every record checked is intact and in order.
    pub ok: bool,
    /// Records checked.
    pub records: u64,
    /// The `seq` of the first broken record; None when the chain is intact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bad_seq: Option<u64>,
    /// What is wrong with that record, in words; None when the chain is intact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Verifies a contiguous run of records; `anchor` is the record just before
/// the first (`None` when the run starts the log).
pub fn verify(anchor: Option<&AuditRecord>, records: &[AuditRecord]) -> Verification {
    let first_seq = anchor.map_or(0, |a| a.seq + 1);
    let mut prev = anchor.map_or(GENESIS, |a| a.hash.as_str());
    for (expected_seq, r) in (first_seq..).zip(records) {
        let problem = if r.seq != expected_seq {
            Some(format!(
                "expected record {expected_seq}, found {}: a record was removed or reordered",
                r.seq
            ))
        } else if r.prev_hash != prev {
            Some("its prev_hash does not match the previous record's hash".to_string())
        } else if hash_of(&r.prev_hash, r.seq, &r.event) != r.hash {
            Some("its content does not match its hash: the record was altered".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Verification {
                ok: false,
                records: records.len() as u64,
                first_bad_seq: Some(expected_seq.min(r.seq)),
                problem: Some(format!("record {}: {problem}", r.seq)),
            };
        }
        prev = &r.hash;
    }
    Verification { ok: true, records: records.len() as u64, first_bad_seq: None, problem: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryKind;

    fn event(i: i64) -> AuditEvent {
        let entry = MemoryEntry::new(
            Id::new(format!("m{i}")).unwrap(),
            format!("fact {i}"),
            EntryKind::Fact,
            Timestamp(i),
        );
        let mut after = entry.clone();
        after.text = format!("fact {i}, edited");
        AuditEvent {
            at: Timestamp(1_000 + i),
            actor: "user:alice".into(),
            action: AuditAction::ApplyChange,
            store_id: Id::new("s").unwrap(),
            store_version: 2,
            proposal_id: Some(Id::new("p1").unwrap()),
            change_id: Some(Id::new(format!("c{i}")).unwrap()),
            entry_id: Some(entry.id.clone()),
            before: Some(entry),
            after: Some(after),
            note: None,
        }
    }

    fn log(n: i64) -> Vec<AuditRecord> {
        chain(None, (0..n).map(event).collect())
    }

    fn check(records: &[AuditRecord], expected_bad: Option<u64>) {
        assert_eq!(
            verify(None, records).first_bad_seq,
            expected_bad,
            "{:?}",
            verify(None, records).problem
        );
    }

    #[test]
    fn an_intact_chain_verifies_and_appends() {
        let mut records = log(3);
        check(&records, None);
        let more = chain(records.last(), vec![event(3), event(4)]);
        assert_eq!(more[0].seq, 3);
        records.extend(more);
        check(&records, None);
        assert_eq!(
            verify(Some(&records[1]), &records[2..]),
            Verification { ok: true, records: 3, first_bad_seq: None, problem: None }
        );
    }

    #[test]
    fn tampering_is_found_where_it_happened() {
        let mut r = log(5);
        r[3].event.after.as_mut().unwrap().text.push('!');
        check(&r, Some(3));
        let mut r = log(5);
        r[1].event.actor = "user:mallory".into();
        check(&r, Some(1));
        let mut r = log(5);
        r[4].event.note = Some("hidden".into());
        check(&r, Some(4));
        let mut r = log(5);
        r.remove(2);
        check(&r, Some(2));
        let mut r = log(5);
        r.swap(1, 2);
        check(&r, Some(1));
        let r = log(5);
        assert!(!verify(Some(&r[0]), &r[2..]).ok, "a wrong anchor breaks the chain");
    }

    #[test]
    fn the_hash_format_is_pinned() {
        // The first record of a log hashes 64 zeros, "\n", then
        // {"seq":0,"event":{...}} in field order; this value pins that format.
        let r = chain(None, vec![AuditEvent { before: None, after: None, ..event(0) }]);
        assert_eq!(r[0].prev_hash, GENESIS);
        let json = serde_json::to_string(&Hashed { seq: 0, event: &r[0].event }).unwrap();
        assert!(
            json.starts_with(
                r#"{"seq":0,"event":{"at":1000,"actor":"user:alice","action":"apply_change""#
            ),
            "{json}"
        );
        assert_eq!(
            json,
            r#"{"seq":0,"event":{"at":1000,"actor":"user:alice","action":"apply_change","store_id":"s","store_version":2,"proposal_id":"p1","change_id":"c0","entry_id":"m0"}}"#
        );
        // Computed independently: sha256 over 64 zeros, "\n", and the JSON above.
        assert_eq!(r[0].hash, "0ec18c0dc98528f1d88594278ebfeedd5fa7ad596e8076d96cd222002abb93eb");
    }
}
