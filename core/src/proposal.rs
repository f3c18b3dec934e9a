//! Proposals: the reviewable output of a pass. Each change says what it does
//! to which entries, why, on what evidence, how sure it is, and what risks a
//! reviewer should weigh.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::entry::{Id, MemoryEntry, Timestamp};
use crate::{Error, Result};

/// What a change does to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Duplicates (paraphrases included) become one entry.
    Merge,
    /// Newer information overrides an entry; it stays in history.
    Supersede,
    /// An outdated or contradicted entry with no successor is retired.
    Prune,
    /// A pattern recurring across sessions becomes an explicit entry.
    Promote,
    /// Related notes become one coherent entry.
    Consolidate,
    /// A durable fact learnt in the transcripts becomes an entry.
    Add,
    /// An entry's wording changes.
    Edit,
}

impl ChangeKind {
    /// Every kind, in declaration order.
    pub const ALL: [ChangeKind; 7] = [
        ChangeKind::Merge,
        ChangeKind::Supersede,
        ChangeKind::Prune,
        ChangeKind::Promote,
        ChangeKind::Consolidate,
        ChangeKind::Add,
        ChangeKind::Edit,
    ];

    /// The kind's name on the wire: "merge", "supersede", ….
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Merge => "merge",
            ChangeKind::Supersede => "supersede",
            ChangeKind::Prune => "prune",
            ChangeKind::Promote => "promote",
            ChangeKind::Consolidate => "consolidate",
            ChangeKind::Add => "add",
            ChangeKind::Edit => "edit",
        }
    }
}

/// Where a quote comes from. Quotes must occur verbatim there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum EvidenceSource {
    /// A message of a session transcript.
    Message {
        /// The session holding the message.
        session_id: Id,
        /// The message's 0-based position in the session's transcript.
        message_index: u32,
    },
    /// An entry of the store.
    Entry {
        /// The entry quoted.
        entry_id: Id,
    },
}

/// A quote that backs a change, and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Text that occurs verbatim in the source.
    pub quote: String,
    /// Where the quote comes from; in JSON its fields sit beside `quote`.
    #[serde(flatten)]
    pub source: EvidenceSource,
}

/// Evidence quoting an entry whole.
pub(crate) fn entry_quote(e: &MemoryEntry) -> Evidence {
    Evidence { quote: e.text.clone(), source: EvidenceSource::Entry { entry_id: e.id.clone() } }
}

/// The sorts of risk a reviewer should weigh before accepting a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// Evidence contains instruction-like text from an untrusted source.
    PoisoningSuspected,
    /// Some or all evidence comes from tool output or external content.
    UntrustedSource,
    /// A claim from a transcript reaches beyond its speaker: it speaks for
    /// other people, names an address to send things to, lowers a check,
    /// writes memory directly or orders the agent to act on others. A
    /// user's word is trusted about the user only.
    Overreach,
    /// The store is shared by several agents.
    SharedStore,
    /// The change retires many entries at once.
    LargeDeletion,
    /// The proposal as a whole retires a large share of the store; the
    /// change is one of those retiring entries.
    ProposalWideDeletion,
    /// The resulting entry holds what looks like a secret (a password, a
    /// key, a card number).
    SensitiveData,
    /// A merge joins entries that each name something the other does not
    /// ("Umbrella's plan is Pro." and "Zorg's plan is Pro."): they may be
    /// facts about different things that only read alike.
    DifferentNames,
}

/// A risk raised on a change, for the reviewer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskFlag {
    /// What sort of risk.
    pub kind: RiskKind,
    /// The specifics in words, e.g. "retires 12 entries at once".
    pub detail: String,
}

/// The model stage that made a change, or worded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmStage {
    /// Read the sessions and proposed a memory from them.
    Learn,
    /// Settled a group the rules left open (duplicate, supersedes).
    Judge,
    /// Gave a consolidation or a promotion one concise wording.
    Rewrite,
    /// Turned a recurring mistake into an instruction to the agent.
    Synthesize,
}

/// Which model stage made or worded a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeBy {
    /// The stage.
    pub stage: LlmStage,
    /// The model, as the provider names it.
    pub model: String,
    /// The change's share of the call that made it: the call's tokens
    /// shared evenly among the changes it made.
    #[serde(default)]
    pub tokens: TokenCost,
}

impl MadeBy {
    /// Made by `stage` of `model`, as one of `made` changes of a call that
    /// spent `call`.
    pub fn new(stage: LlmStage, model: &str, call: TokenCost, made: usize) -> MadeBy {
        let made = made.max(1) as u64;
        MadeBy {
            stage,
            model: model.to_string(),
            tokens: TokenCost {
                input_tokens: call.input_tokens / made,
                output_tokens: call.output_tokens / made,
                cache_write_tokens: call.cache_write_tokens / made,
                cache_read_tokens: call.cache_read_tokens / made,
            },
        }
    }
}

/// One reviewable change to the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Unique within the proposal: "c0001", "c0002", ….
    pub id: Id,
    /// What the change does.
    pub kind: ChangeKind,
    /// Existing entries this change retires or rewrites.
    pub targets: Vec<Id>,
    /// The entry as it will be after the change (new, rewritten, or the
    /// successor of a superseded entry); `None` for a prune.
    pub result: Option<MemoryEntry>,
    /// Why the change is proposed, in plain words.
    pub justification: String,
    /// Quotes from the transcripts or entries that back the change.
    pub evidence: Vec<Evidence>,
    /// 0.0 ..= 1.0
    #[serde(serialize_with = "crate::entry::short_f32")]
    pub confidence: f32,
    /// Risks a reviewer should weigh; empty when none were found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk: Vec<RiskFlag>,
    /// For promotions: how many distinct sessions show the pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_seen: Option<u32>,
    /// The model stage that made or worded the change; absent when the
    /// rules alone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<MadeBy>,
}

impl RiskKind {
    /// Whether the flag is about the whole proposal or store rather than
    /// the change itself (a reviewer reads it once, not per change).
    pub fn is_proposal_wide(self) -> bool {
        matches!(self, RiskKind::SharedStore | RiskKind::ProposalWideDeletion)
    }
}

impl Change {
    /// Whether any risk was flagged: such a change never applies without
    /// a person.
    pub fn is_risky(&self) -> bool {
        !self.risk.is_empty()
    }

    /// Whether a flag of the change's own (not one of the whole
    /// proposal's) asks a person to decide this change by itself, never in
    /// bulk.
    pub fn needs_own_decision(&self) -> bool {
        self.risk.iter().any(|r| !r.kind.is_proposal_wide())
    }
}

/// Tokens spent on the LLM for a proposal (zero for rules-only passes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCost {
    /// Tokens sent to the model and read afresh (not from its prompt
    /// cache).
    pub input_tokens: u64,
    /// Tokens the model wrote.
    pub output_tokens: u64,
    /// Tokens sent and written to the provider's prompt cache (billed
    /// above plain input).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// Tokens sent and read from the provider's prompt cache (billed at a
    /// fraction of plain input).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_read_tokens: u64,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

impl TokenCost {
    /// Every token sent and written, as a token budget counts them.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens
    }

    /// Adds `other`'s tokens.
    pub fn add(&mut self, other: TokenCost) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
    }

    /// What was spent since `before` (a total this one grew from).
    pub fn since(&self, before: TokenCost) -> TokenCost {
        TokenCost {
            input_tokens: self.input_tokens - before.input_tokens,
            output_tokens: self.output_tokens - before.output_tokens,
            cache_write_tokens: self.cache_write_tokens - before.cache_write_tokens,
            cache_read_tokens: self.cache_read_tokens - before.cache_read_tokens,
        }
    }
}

/// What a proposal holds and left out, in numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Changes per kind, by the kind's name.
    pub counts: BTreeMap<String, u32>,
    /// Candidate changes left out because review history raised the bar.
    pub held_back: u32,
    /// LLM-proposed changes dropped as invalid (bad schema, evidence not
    /// found verbatim in the inputs).
    pub dropped_llm_changes: u32,
    /// Groups the rules could not settle (sent to the LLM when one is
    /// configured).
    pub unsettled_groups: u32,
    /// Changes the rules found beyond the most one proposal holds
    /// (`PassConfig::max_changes`): a later pass proposes them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferred: u32,
    /// Changes still waiting in the store's open proposals when the pass
    /// ran: the entries they touch were left to them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waiting: u32,
}

impl Summary {
    /// Changes per kind, by the kind's name, for kinds with any.
    pub(crate) fn count(changes: &[Change]) -> BTreeMap<String, u32> {
        let mut per_kind = [0u32; ChangeKind::ALL.len()];
        for change in changes {
            per_kind[ChangeKind::ALL.iter().position(|k| *k == change.kind).unwrap_or(0)] += 1;
        }
        ChangeKind::ALL
            .iter()
            .zip(per_kind)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.as_str().to_string(), n))
            .collect()
    }
}

/// The changes a pass proposes for one store, to be reviewed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Chosen by the caller of the pass.
    pub id: Id,
    /// The store the changes are for.
    pub store_id: Id,
    /// The store version the pass read.
    pub base_version: u64,
    /// When the pass ran: the `now` its caller passed in.
    pub created_at: Timestamp,
    /// The proposed changes.
    pub changes: Vec<Change>,
    /// Tokens spent on the LLM for this proposal.
    pub token_cost: TokenCost,
    /// The changes counted per kind, and what was left out.
    pub summary: Summary,
    /// Fingerprint of every target entry as it was at the base version; a
    /// change whose targets no longer match has moved under the reviewer.
    pub base_fingerprints: BTreeMap<Id, Fingerprint>,
}

/// The id of a proposal's `n`-th change (from 1): "c0001", "c0002", ….
pub(crate) fn change_id(n: usize) -> Id {
    use std::io::Write;
    // Written on the stack: a pass numbers every change it makes, and an
    // id this short is held inline, so numbering allocates nothing.
    const SPACE: usize = 24;
    let mut buffer = [0u8; SPACE];
    let mut rest = &mut buffer[..];
    write!(rest, "c{n:04}").expect("a usize has at most 20 digits");
    let len = SPACE - rest.len();
    Id::new(std::str::from_utf8(&buffer[..len]).expect("digits are UTF-8"))
        .expect("change numbers make valid ids")
}

impl Proposal {
    /// The change with id `id`, if the proposal has one.
    pub fn change(&self, id: &Id) -> Option<&Change> {
        self.changes.iter().find(|c| &c.id == id)
    }

    /// The same proposal with only the changes `keep` accepts, and the
    /// fingerprints of their targets: what is left to review after part of
    /// it was decided.
    pub fn subset(&self, keep: impl Fn(&Change) -> bool) -> Proposal {
        let changes: Vec<Change> = self.changes.iter().filter(|c| keep(c)).cloned().collect();
        let base_fingerprints = changes
            .iter()
            .flat_map(|c| &c.targets)
            .filter_map(|t| self.base_fingerprints.get(t).map(|&fp| (t.clone(), fp)))
            .collect();
        Proposal {
            id: self.id.clone(),
            store_id: self.store_id.clone(),
            base_version: self.base_version,
            created_at: self.created_at,
            changes,
            token_cost: self.token_cost,
            summary: self.summary.clone(),
            base_fingerprints,
        }
    }
}

/// A stable fingerprint of an entry's full content: FNV-1a over every
/// field, each length-prefixed so no two entries share an encoding. The
/// same on every platform; written as sixteen hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// The fingerprint of `entry` as it is now.
    pub fn of(entry: &MemoryEntry) -> Fingerprint {
        Fingerprint(hash_entry(entry))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Fingerprint> {
        let hex = s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
        match u64::from_str_radix(s, 16) {
            Ok(hash) if hex => Ok(Fingerprint(hash)),
            _ => {
                Err(Error::invalid("fingerprint", format!("must be sixteen hex digits, got `{s}`")))
            }
        }
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

fn hash_entry(entry: &MemoryEntry) -> u64 {
    use crate::entry::Status;
    struct Fnv(u64);
    impl Fnv {
        fn bytes(&mut self, b: &[u8]) {
            for &x in (b.len() as u64).to_le_bytes().iter().chain(b) {
                self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        fn str(&mut self, s: &str) {
            self.bytes(s.as_bytes());
        }
        fn num(&mut self, n: i64) {
            self.bytes(&n.to_le_bytes());
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.str(entry.id.as_str());
    h.str(&entry.text);
    h.num(entry.kind as i64);
    h.str(entry.subject.as_deref().unwrap_or("\u{0}none"));
    h.num(entry.tags.len() as i64);
    for t in &entry.tags {
        h.str(t);
    }
    h.num(entry.provenance.trust as i64);
    for s in &entry.provenance.sources {
        h.str(s.session_id.as_str());
        h.num(i64::from(s.message_index));
    }
    h.num(entry.created_at.0);
    h.num(entry.observed_at.map_or(i64::MIN, |t| t.0));
    match &entry.status {
        Status::Active => h.num(0),
        Status::Superseded { superseded_by, valid_until } => {
            h.num(1);
            h.str(superseded_by.as_str());
            h.num(valid_until.0);
        }
        Status::Merged { merged_into } => {
            h.num(2);
            h.str(merged_into.as_str());
        }
        Status::Pruned { reason } => {
            h.num(3);
            h.str(reason);
        }
    }
    h.num(i64::from(entry.confidence.to_bits()));
    h.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryKind;

    #[test]
    fn fingerprints_are_sixteen_hex_digits_both_ways() {
        let entry = MemoryEntry::new(
            Id::new("m1").unwrap(),
            "User prefers tabs",
            EntryKind::Preference,
            Timestamp(0),
        );
        let fp = Fingerprint::of(&entry);
        let json = serde_json::to_string(&fp).unwrap();
        assert_eq!(json.len(), 18, "quoted sixteen digits: {json}");
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), fp);
        let mut edited = entry.clone();
        edited.text.push('.');
        assert_ne!(Fingerprint::of(&edited), fp);
        for bad in ["", "12", "+123456789abcdef", "0123456789abcdeg", "0123456789abcdef0"] {
            assert!(
                matches!(bad.parse::<Fingerprint>(), Err(Error::Invalid { .. })),
                "`{bad}` is not a fingerprint"
            );
        }
        assert!(serde_json::from_str::<Fingerprint>("\"xyz\"").is_err());
        assert!(serde_json::from_str::<Fingerprint>("7").is_err());
    }
}
