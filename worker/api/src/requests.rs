//! The request bodies of `/api/v1`. Unknown fields are refused, so a
//! misspelt field is an error rather than a silent default.

use std::collections::BTreeMap;

use reverie_core::apply::Decision;
use reverie_core::formats::{File, Format};
use reverie_core::import::TranscriptFormat;
use reverie_core::{EntryKind, Provenance, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::Role;

/// `POST /agents`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// The agent's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its dreaming config; the recommended one when absent.
    #[serde(default)]
    pub config: Option<Value>,
}

/// `PATCH /agents/{id}`: a new name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    /// The new display name.
    pub name: String,
}

/// `POST /tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token may do.
    pub role: Role,
    /// The agents it may act for (none for an admin).
    #[serde(default)]
    pub agents: Vec<String>,
    /// Whose it is.
    pub label: String,
}

/// An entry as a client sends it (`POST /stores/{id}/entries`): the
/// service sets times and status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// Its id; one is made when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// What it says.
    pub text: String,
    /// Its kind; `fact` when absent.
    #[serde(default)]
    pub kind: Option<EntryKind>,
    /// Who or what it is about.
    #[serde(default)]
    pub subject: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where it comes from; the caller's word when absent.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    /// When what it says was observed; now when absent.
    #[serde(default)]
    pub observed_at: Option<Timestamp>,
    /// How sure its writer is, 0 to 1.
    #[serde(default)]
    pub confidence: Option<f32>,
}

/// `PATCH /stores/{id}/entries/{entry}`: the fields to change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryEdit {
    /// New text.
    #[serde(default)]
    pub text: Option<String>,
    /// New kind.
    #[serde(default)]
    pub kind: Option<EntryKind>,
    /// New subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// New tags, replacing the old.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// New confidence.
    #[serde(default)]
    pub confidence: Option<f32>,
}

/// What the pending changes a decision does not name get.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalRest {
    /// Rejected (the default: "accept these").
    #[default]
    Reject,
    /// Accepted.
    Accept,
    /// Accepted unless they carry a risk flag of their own (flags about
    /// the whole proposal or store, such as a shared store, do not
    /// count); flagged changes stay pending, each to be decided on its
    /// own.
    AcceptUnflagged,
    /// Left pending, for later.
    Pending,
}

impl ProposalRest {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalRest::Reject => "reject",
            ProposalRest::Accept => "accept",
            ProposalRest::AcceptUnflagged => "accept_unflagged",
            ProposalRest::Pending => "pending",
        }
    }
}

/// `POST /proposals/{id}/partial_accept`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialAccept {
    /// Decisions by change id.
    pub decisions: BTreeMap<String, Decision>,
    /// What the other pending changes get; `reject` when absent.
    #[serde(default)]
    pub rest: Option<ProposalRest>,
    /// Why the rest is rejected, if it is.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /proposals/{id}/reject`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why, kept with the proposal and in review memory.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /agents/{id}/sessions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// Its id; one is made when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// When it started; read from the transcript or now when absent.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    /// The transcript's shape; detected when absent.
    #[serde(default)]
    pub format: Option<TranscriptFormat>,
    /// The transcript, kept byte for byte as it came.
    pub transcript: Box<RawValue>,
    /// Outcome metrics of the session.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

/// `POST /agents/{id}/sessions/{sid}/metrics`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsBody {
    /// Metrics to add or replace.
    pub metrics: BTreeMap<String, f64>,
}

/// `POST /stores`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    /// The store's id.
    pub id: String,
    /// `private` or `shared`.
    pub scope: String,
}

/// `POST /stores/{id}/rollback`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version to return to.
    pub version: i64,
    /// Why, for the audit log.
    #[serde(default)]
    pub reason: Option<String>,
    /// The store version the caller saw (or `If-Match`); another is 409.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// `POST /proposals/{id}/changes/{change_id}/revert`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertRequest {
    /// Why, for the audit log: required.
    pub reason: String,
    /// The store version the caller saw (or `If-Match`); another is 409.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// `POST /agents/{id}/webhooks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries go.
    pub url: String,
    /// The events it wants; every event when absent.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// The signing secret; one is made when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// `POST /agents/{id}/imports`: memory files in another tool's format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewImport {
    /// The files' format; told from their names and content when absent.
    #[serde(default)]
    pub format: Option<Format>,
    /// The files, with paths relative to the folder imported.
    pub files: Vec<File>,
    /// Which folder or service they come from, as the sender names it (a
    /// path, a project's name): a push is compared with the last push of
    /// the same source and format. Empty when absent.
    #[serde(default)]
    pub source: Option<String>,
    /// Files of the last push from this source deleted since: their
    /// entries are deleted too (a file a review changed is a conflict).
    #[serde(default)]
    pub deleted: Vec<String>,
}

/// `POST /agents/{id}/imports/compare`: a memory before and after another
/// system consolidated it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComparison {
    /// The files' format; told from the `before` files when absent.
    #[serde(default)]
    pub format: Option<Format>,
    /// The files as they were: pushed to the store.
    pub before: Vec<File>,
    /// The same files as the other system left them.
    pub after: Vec<File>,
}
