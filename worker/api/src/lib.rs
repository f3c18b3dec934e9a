//! The contract between Reverie's service (`worker`) and its dashboard
//! (`web`): the request and response bodies of `/api/v1` and the status
//! words, as types both sides build and read. The service makes its
//! answers from these types only, and the dashboard reads them with the
//! same, so a field renamed on one side is a compile error on the other.
//!
//! Times are milliseconds since the Unix epoch.

#![warn(missing_docs)]

mod requests;
mod status;

use reverie_core::apply::Decision;
use reverie_core::audit::{AuditRecord, Verification};
use reverie_core::diff::{DiffSpan, EntryDiff};
use reverie_core::formats::{File, Format, Skipped};
use reverie_core::outcomes::{Comparison, SessionMetrics};
use reverie_core::{Change, MemoryEntry, Message, Summary, TokenCost};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use requests::{
    AgentPatch, EntryEdit, MetricsBody, NewAgent, NewComparison, NewEntry, NewImport, NewSession,
    NewStore, NewToken, NewWebhook, PartialAccept, ProposalRest, RejectBody, RevertRequest,
    RollbackRequest,
};
pub use status::{DeliveryStatus, PassStage, PassStatus, ProposalStatus, Role};

/// `GET /me`: who the token belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// The token's id (`admin` for the environment's admin token).
    #[serde(default)]
    pub token_id: String,
    /// How the audit log names the caller: `role:label`.
    #[serde(default)]
    pub actor: String,
    /// What the token may do.
    pub role: Role,
    /// The token's label, as its maker named it.
    pub label: String,
    /// The agents the token may act for (every agent for an admin).
    pub agents: Vec<String>,
}

/// `POST /tokens`: a new token; its secret is in this answer only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The token's id.
    pub id: String,
    /// The secret to send as `Authorization: Bearer …`.
    pub token: String,
    /// What it may do.
    pub role: Role,
    /// The agents it may act for.
    pub agents: Vec<String>,
    /// Whose it is.
    pub label: String,
    /// When it was made.
    pub created_at: i64,
}

/// A token as `GET /tokens` lists it: never its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// The token's id.
    pub id: String,
    /// What it may do.
    pub role: Role,
    /// Whose it is.
    pub label: String,
    /// When it was made.
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The agents it may act for.
    pub agents: Vec<String>,
}

/// `GET /tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenList {
    /// Oldest first.
    pub tokens: Vec<Token>,
}

/// A webhook of an agent (its secret is shown only when it is made).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// The webhook's id.
    pub id: String,
    /// The agent whose events it receives.
    pub agent_id: String,
    /// Where deliveries are posted.
    pub url: String,
    /// When it was made.
    pub created_at: i64,
    /// The events it receives.
    pub events: Vec<String>,
    /// The secret's last four characters, to tell webhooks apart.
    pub secret_hint: String,
    /// The signing secret: in the answer that makes the webhook only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `GET /agents/{id}/webhooks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<Webhook>,
}

/// One delivery of an event to a webhook, with its attempts so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The delivery's id.
    pub id: String,
    /// The webhook it goes to.
    pub webhook_id: String,
    /// The event.
    pub event: String,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i64,
    /// The HTTP status of the last attempt, if it got one.
    pub last_status: Option<i64>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<i64>,
    /// When the event happened.
    pub created_at: i64,
    /// When it was delivered, once it was.
    pub delivered_at: Option<i64>,
    /// The body sent, when asked for with `payload=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// `GET /agents/{id}/webhooks/deliveries`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<Delivery>,
}

/// An agent's memory store, as an agent shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreSummary {
    /// The store's id (shared stores are named by their users).
    pub id: String,
    /// `private` or `shared`; absent before the store's first write.
    pub scope: Option<String>,
    /// Whether other agents use the store too.
    pub shared: bool,
    /// The current version; absent before the first write.
    pub version: Option<i64>,
    /// Entries currently active.
    pub active_entries: i64,
}

/// The last pass of an agent, as the agent list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassBrief {
    /// The pass's id.
    pub id: i64,
    /// Where it is.
    pub status: PassStatus,
    /// What started it: `schedule:<schedule>` or `on-demand:<actor>`.
    #[serde(default)]
    pub trigger: Option<String>,
    /// When it started.
    pub started_at: i64,
    /// When it finished, if it has.
    #[serde(default)]
    pub finished_at: Option<i64>,
    /// The proposal it made, if any.
    pub proposal_id: Option<String>,
}

/// `GET /agents/{id}` (and each item of `GET /agents`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// When it was made.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// When its settings last changed.
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// The store its memory lives in.
    pub store: StoreSummary,
    /// Whether scheduled passes run.
    pub enabled: bool,
    /// `daily`, `weekly`, `hourly` or `manual`.
    pub schedule: String,
    /// The time of day (UTC) scheduled passes start, `HH:MM`.
    pub schedule_time: String,
    /// Which sessions a pass reads.
    pub sessions_since: String,
    /// Whether a person must approve changes before they apply.
    pub require_approval: bool,
    /// Webhook URLs told about passes and reviews.
    pub notify: Vec<String>,
    /// When the next scheduled pass is due, if one is.
    pub next_run_at: Option<i64>,
    /// The latest pass, if any ran.
    pub last_pass: Option<PassBrief>,
    /// Proposals waiting for a decision.
    pub pending_proposals: i64,
    /// The agent's full settings, as `PUT /agents/{id}/config` takes them.
    pub config: Value,
}

/// `GET /agents`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentList {
    /// The agents the caller may read, by id.
    pub agents: Vec<Agent>,
}

/// `GET /passes/{id}` (and each item of `GET /passes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    /// The pass's id.
    pub id: i64,
    /// The agent it ran for.
    pub agent_id: String,
    /// What started it: `schedule:<schedule>` or `on-demand:<actor>`.
    pub trigger: String,
    /// Where it is.
    pub status: PassStatus,
    /// The stage reached.
    pub stage: Option<PassStage>,
    /// When it started.
    pub started_at: i64,
    /// When it finished, if it has.
    pub finished_at: Option<i64>,
    /// How long it took, once finished.
    #[serde(default)]
    pub duration_ms: Option<i64>,
    /// The proposal it made, if any.
    pub proposal_id: Option<String>,
    /// The store it read.
    #[serde(default)]
    pub store_id: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// What it did, stage by stage (counts, the model's part, times);
    /// `null` until it completes, and for a pass that failed.
    #[serde(default)]
    pub stats: Option<PassStats>,
}

/// What a completed pass did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassStats {
    /// Entries in the store it read, whatever their status.
    pub entries: usize,
    /// Of those, active.
    pub active_entries: usize,
    /// The store version it read.
    pub base_version: u64,
    /// Sessions it read.
    pub sessions: usize,
    /// The start of the session window it read.
    pub window_since: i64,
    /// Changes proposed.
    pub changes: usize,
    /// Changes by kind.
    pub changes_by_kind: BTreeMap<String, u32>,
    /// Entries the changes retire.
    pub retires: usize,
    /// Changes with a risk flag.
    pub risky_changes: usize,
    /// Groups the rules left open.
    pub unsettled_groups: usize,
    /// Changes held back by the review history.
    pub held_back: u32,
    /// Changes found beyond the most one proposal holds, left for the
    /// next pass.
    #[serde(default)]
    pub deferred: u32,
    /// Changes still waiting in the store's open proposals, on entries
    /// as they are: what they touch was left to them.
    #[serde(default)]
    pub waiting: u32,
    /// Changes from the model dropped as invalid.
    pub dropped_llm_changes: u32,
    /// Tokens sent to the model.
    pub input_tokens: u64,
    /// Tokens the model answered with.
    pub output_tokens: u64,
    /// What the model cost, in US dollars.
    pub cost_usd: f64,
    /// Whether and how the model was asked.
    pub llm: LlmUse,
    /// What was applied without review, when approval is off.
    pub auto_apply: Option<AutoApply>,
    /// The engine's WebAssembly memory when the pass ended, in bytes: the
    /// most it has needed since its isolate started. `None` for passes
    /// recorded before it was measured.
    #[serde(default)]
    pub engine_memory_bytes: Option<u64>,
    /// Milliseconds per stage.
    pub timings_ms: PassTimings,
}

/// Whether a pass asked the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmMode {
    /// The rules alone.
    RulesOnly,
    /// The rules, then the model on what they left open.
    Llm,
}

/// The model's part in a pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmUse {
    /// Whether it was asked.
    pub mode: LlmMode,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The wire format used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<reverie_core::llm::Provider>,
    /// The model asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What the calls did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<LlmReport>,
}

/// What the model calls of one pass did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmReport {
    /// Calls made.
    pub calls: u32,
    /// Calls retried.
    pub retries: u32,
    /// Groups sent.
    pub groups_sent: usize,
    /// Groups not sent (the budget ran out).
    pub groups_left: usize,
    /// Changes the answers added.
    pub changes_added: usize,
    /// Decisions dropped as invalid.
    pub dropped: u32,
    /// The same, by why (`unanswered`, `malformed`, `unknown_group`,
    /// `unjustified`, `made_up_quote`, `no_wording`, `unknown_ref`,
    /// `repeated`).
    #[serde(default)]
    pub dropped_why: BTreeMap<String, u32>,
    /// Tokens sent.
    pub input_tokens: u64,
    /// Tokens answered.
    pub output_tokens: u64,
    /// Tokens sent and written to the provider's prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Tokens sent and read from the provider's prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Calls answered through a Message Batch (billed at half).
    #[serde(default)]
    pub batched_calls: u32,
    /// Message Batches made.
    #[serde(default)]
    pub batches: u32,
    /// How long the pass waited for its batches, in milliseconds.
    #[serde(default)]
    pub batch_wait_ms: u64,
    /// What the calls cost, in US dollars: each call's tokens at the
    /// configured prices (cache writes and reads at theirs), a batch's at
    /// half.
    pub cost_usd: f64,
    /// Whether the token budget stopped the calls.
    pub budget_exhausted: bool,
    /// Tokens possibly billed for attempts that got no usable answer
    /// (timeouts, errors), counted at their upper bound.
    pub unanswered_tokens: u64,
    /// Why calls failed; the groups they carried stay with the rules.
    pub failures: Vec<String>,
    /// The rewrite stage, when it ran (its calls and tokens are in the
    /// totals above too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<RewriteReport>,
    /// The learn stage, when it ran (its calls and tokens are in the
    /// totals above too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learn: Option<LearnReport>,
    /// The synthesize stage (recurring mistakes made instructions), when
    /// it ran; counted as the rewrite stage is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthesize: Option<RewriteReport>,
    /// What each stage that ran spent, by its name (`learn`, `judge`,
    /// `rewrite`, `synthesize`); together, the totals above.
    #[serde(default)]
    pub stages: BTreeMap<String, StageCost>,
}

impl LlmReport {
    /// The tokens the calls spent, as one count.
    pub fn tokens(&self) -> TokenCost {
        TokenCost {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_write_tokens: self.cache_write_tokens,
            cache_read_tokens: self.cache_read_tokens,
        }
    }

    /// Counts a call's tokens.
    pub fn add_tokens(&mut self, t: TokenCost) {
        self.input_tokens += t.input_tokens;
        self.output_tokens += t.output_tokens;
        self.cache_write_tokens += t.cache_write_tokens;
        self.cache_read_tokens += t.cache_read_tokens;
    }
}

/// What one model stage of a pass spent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCost {
    /// Calls made.
    pub calls: u32,
    /// Of those, answered through a Message Batch.
    #[serde(default)]
    pub batched_calls: u32,
    /// Tokens sent and read afresh.
    pub input_tokens: u64,
    /// Tokens answered.
    pub output_tokens: u64,
    /// Tokens sent and written to the prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Tokens sent and read from the prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// In US dollars, at the configured prices.
    pub cost_usd: f64,
}

/// What the learn stage of a pass did: the messages the rules picked from
/// the sessions for the model, and the memories it proposed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnReport {
    /// What the rules picked from the sessions, and left out: `messages`,
    /// `picked`, `chit_chat`, `known`, `no_statement`, `tool_output`,
    /// `sessions`.
    #[serde(flatten)]
    pub selection: reverie_core::llm::learn::Selection,
    /// Picked messages sent to the model.
    pub sent: usize,
    /// Picked messages not sent (the budget ran out, or a call failed).
    pub left: usize,
    /// Calls whose answer was cut off at their output limit, sent again
    /// as two calls of half the excerpts each.
    #[serde(default)]
    pub split: usize,
    /// Memories proposed as changes.
    pub taken: usize,
    /// Memories dropped, by why (`made_up_quote`, `duplicate`,
    /// `no_evidence`, `unusable`, `malformed`).
    pub dropped: std::collections::BTreeMap<String, usize>,
    /// Tokens the stage sent.
    pub input_tokens: u64,
    /// Tokens the stage was answered.
    pub output_tokens: u64,
}

/// `POST /agents/{id}/passes?dry_run=true`: what a pass would propose by
/// its rules now, and the model calls it would make, with their cost,
/// without calling anything or saving anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    /// The agent.
    pub agent_id: String,
    /// Its store, and the version the pass would read.
    pub store_id: String,
    /// The store version read.
    pub base_version: i64,
    /// Sessions in the pass's window.
    pub sessions: usize,
    /// Changes the rules would propose.
    pub changes: usize,
    /// By kind.
    pub changes_by_kind: std::collections::BTreeMap<String, u32>,
    /// Groups the rules leave open.
    pub unsettled_groups: usize,
    /// The model calls, or why there would be none.
    pub llm: PlannedLlm,
}

/// The model calls a pass would make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedLlm {
    /// `llm`, or `rules_only` with the reason.
    pub mode: LlmMode,
    /// Why no model would be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The endpoint's wire format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<reverie_core::llm::Provider>,
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Per stage, in the order they run (learn, judge, rewrite, synthesize).
    pub stages: Vec<PlannedStage>,
    /// Input tokens of every call, estimated at four bytes a token.
    pub input_tokens: u64,
    /// The most output tokens the calls may take.
    pub max_output_tokens: u64,
    /// The estimate in US dollars, the calls made one by one: input as
    /// estimated (the prefix a stage's calls share read from the cache
    /// after the first, where it is long enough), output at its most.
    pub usd_estimate: f64,
    /// The same calls as Message Batches (half the price), as scheduled
    /// passes send them when `scheduled_batched`.
    pub usd_batched: f64,
    /// Whether scheduled passes send their calls as batches.
    pub scheduled_batched: bool,
    /// The pass's token budget.
    pub token_budget: u64,
    /// Whether every call fits the budget as a pass counts it (input at
    /// two bytes a token, every output token allowed, no retries); calls
    /// past it would not be made.
    pub within_budget: bool,
}

/// One model stage of a planned pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStage {
    /// `learn`, `judge`, `rewrite` or `synthesize`.
    pub stage: reverie_core::LlmStage,
    /// Calls it would make.
    pub calls: usize,
    /// Groups it would judge, or changes it would word.
    pub items: usize,
    /// Input tokens, estimated at four bytes a token.
    pub input_tokens: u64,
    /// Of those, read from the prompt cache (the prefix its calls share,
    /// after the first call).
    pub cache_read_tokens: u64,
    /// The most output tokens its calls may take.
    pub max_output_tokens: u64,
    /// Its cost estimate in US dollars, its calls made one by one.
    pub usd_estimate: f64,
    /// Its cost estimate as a Message Batch.
    pub usd_batched: f64,
}

/// What the rewrite stage of a pass did: consolidations and promotions
/// sent to the model for one concise wording, and what came of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RewriteReport {
    /// Changes sent.
    pub sent: usize,
    /// Changes not sent (the budget ran out, or a call failed).
    pub left: usize,
    /// Changes that took the model's wording.
    pub taken: usize,
    /// Changes that kept the rules' wording, by why (`loses_facts`,
    /// `longer`, `injection`, `secret`, `unchanged`, `empty`, `malformed`,
    /// `unanswered`).
    pub kept_rules_wording: std::collections::BTreeMap<String, usize>,
    /// Tokens the stage sent.
    pub input_tokens: u64,
    /// Tokens the stage was answered.
    pub output_tokens: u64,
}

/// What an unattended pass applied, and what waits for a person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoApply {
    /// Changes applied.
    pub applied: usize,
    /// The store version the apply made, if it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Changes left for a person.
    pub waiting: usize,
    /// Why each waits.
    #[serde(default)]
    pub wait: Vec<Waiting>,
    /// Why nothing was applied, when the store moved during the pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A change an unattended pass left for a person, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// The change.
    pub change_id: String,
    /// Why it waits (a risk flag, a large deletion).
    pub reason: String,
}

/// Milliseconds a pass spent per stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PassTimings {
    /// Reading the store and sessions.
    pub load: i64,
    /// The rules.
    pub rules: i64,
    /// The model.
    pub llm: i64,
    /// Saving the proposal.
    pub save: i64,
    /// Applying without review.
    pub auto_apply: i64,
    /// All of it.
    pub total: i64,
}

/// `GET /passes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassList {
    /// Newest first.
    pub passes: Vec<Pass>,
}

/// A proposal without its changes (each item of `GET /proposals`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalBrief {
    /// The proposal's id.
    pub id: String,
    /// The agent whose pass made it.
    pub agent_id: String,
    /// The store it changes.
    pub store_id: String,
    /// The pass that made it.
    #[serde(default)]
    pub pass_id: Option<i64>,
    /// The store version it was made against.
    pub base_version: i64,
    /// Where it is.
    pub status: ProposalStatus,
    /// When it was made.
    pub created_at: i64,
    /// When it was last decided on.
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// Its changes.
    pub change_count: i64,
    /// Its changes not yet decided.
    pub pending_count: i64,
    /// Counts by kind, and what the rules left for the model.
    pub summary: Summary,
    /// What the model cost.
    pub token_cost: TokenCost,
    /// Why it was closed without a review, if it was.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `GET /proposals`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalList {
    /// Pending first, then newest.
    pub proposals: Vec<ProposalBrief>,
}

/// A change as the service shows it for review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeView {
    /// The change as the pass proposed it.
    #[serde(flatten)]
    pub change: Change,
    /// Its place in the proposal, from 1.
    pub seq: usize,
    /// The entries it changes, as they are now.
    pub before: Vec<MemoryEntry>,
    /// Word diff of the first entry's text against the result's.
    pub diff: Vec<DiffSpan>,
    /// The decision on it, once made.
    pub decision: Option<Decision>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    #[serde(default)]
    pub decided_at: Option<i64>,
    /// The store version the decision made, when it was applied.
    pub applied_version: Option<i64>,
}

/// `GET /proposals/{id}`: a proposal with its changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The proposal.
    #[serde(flatten)]
    pub brief: ProposalBrief,
    /// Its changes, in order (a page of them when asked with `offset`
    /// and `limit`).
    pub changes: Vec<ChangeView>,
    /// The place of the first change shown, from 0.
    #[serde(default)]
    pub offset: usize,
}

/// `POST /proposals/{id}/review`: what a review did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    /// The proposal reviewed.
    #[serde(default)]
    pub proposal_id: String,
    /// The proposal's status after the review.
    pub status: ProposalStatus,
    /// The store version after it.
    pub version: i64,
    /// Changes this review accepted.
    #[serde(default)]
    pub accepted: usize,
    /// Changes this review rejected.
    #[serde(default)]
    pub rejected: usize,
    /// Changes still waiting.
    #[serde(default)]
    pub pending: usize,
}

/// A session as stored: when, in which format it was sent, its size and
/// its outcome metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The session's id.
    pub id: String,
    /// The agent it belongs to.
    pub agent_id: String,
    /// When it started.
    pub started_at: i64,
    /// When it ended, if known.
    pub ended_at: Option<i64>,
    /// The transcript format it was sent in: `reverie`, `anthropic` or
    /// `openai`.
    pub format: String,
    /// Its messages.
    pub message_count: usize,
    /// Outcome metrics, by name.
    pub metrics: BTreeMap<String, f64>,
}

/// `POST /agents/{id}/sessions`: the session stored, or found stored
/// already with the same content (`created` false).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionWritten {
    /// The session.
    pub session: SessionSummary,
    /// Whether this request stored it.
    pub created: bool,
    /// Lines or items of the transcript passed over, counted by reason
    /// (`unreadable`, `not_a_message`, `off_branch`, `meta`, `reasoning`), so
    /// a sender can see what was left out; for `claude_code` and
    /// `openai_responses`, the formats that skip rather than refuse, and for
    /// any format whose tool output was shortened (`tool_output_shortened`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<BTreeMap<String, usize>>,
    /// When the session was stored before and this transcript begins with
    /// it: the messages it gained (the stored session now holds them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grew_by: Option<usize>,
}

/// `GET /agents/{id}/sessions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionList {
    /// Oldest first.
    pub sessions: Vec<SessionSummary>,
    /// The cursor for the next page (`after=`), when there may be one.
    pub next_after: Option<String>,
}

/// `GET /agents/{id}/sessions/{sid}?around=`: a session, or the messages a
/// change cites with their neighbours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionExcerpt {
    /// The session.
    #[serde(flatten)]
    pub session: SessionSummary,
    /// The index of the first message shown.
    pub first_index: usize,
    /// The messages shown.
    pub messages: Vec<Message>,
}

/// `PUT /agents/{id}/sessions/{sid}/metrics`: the session's metrics after
/// the update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionMetricsSet {
    /// The session.
    pub session_id: String,
    /// Its metrics, by name.
    pub metrics: BTreeMap<String, f64>,
}

/// `GET /stores/{id}` (and each item of `GET /stores`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Store {
    /// The store's id.
    pub id: String,
    /// `private` or `shared`.
    pub scope: String,
    /// The agent a private store belongs to.
    pub owner_agent: Option<String>,
    /// The agents that use it.
    pub agents: Vec<String>,
    /// Its current version.
    pub version: i64,
    /// When it was made.
    pub created_at: i64,
    /// Its entries, whatever their status.
    pub entries: i64,
    /// Its active entries.
    pub active_entries: i64,
    /// Its entries by status.
    pub by_status: BTreeMap<String, i64>,
}

/// `GET /stores`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreList {
    /// The stores the caller may read, by id.
    pub stores: Vec<Store>,
}

/// `GET /stores/{id}/entries` and `GET /stores/{id}/versions/{v}`: a page
/// of entries by id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryPage {
    /// The store.
    pub store_id: String,
    /// The version the entries are read at.
    pub version: i64,
    /// The entries, by id.
    pub entries: Vec<MemoryEntry>,
    /// The cursor for the next page (`after=`), when there may be one.
    pub next_after: Option<String>,
}

/// `POST /stores/{id}/entries`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntriesAdded {
    /// The store.
    pub store_id: String,
    /// The version the write made.
    pub version: i64,
    /// Entries added.
    pub added: usize,
    /// Their ids.
    pub ids: Vec<String>,
}

/// `PATCH /stores/{id}/entries/{entry}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryWritten {
    /// The store.
    pub store_id: String,
    /// The store's version after the edit.
    pub version: i64,
    /// The entry as it is now.
    pub entry: MemoryEntry,
    /// Whether the edit changed anything (no new version when not).
    pub changed: bool,
}

/// `DELETE /stores/{id}/entries/{entry}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryDeleted {
    /// The store.
    pub store_id: String,
    /// The version the deletion made.
    pub version: i64,
    /// The entry deleted.
    pub deleted: String,
}

/// A version of a store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The version number.
    pub version: i64,
    /// When it was made.
    pub created_at: i64,
    /// Who made it.
    pub actor: String,
    /// What made it: a review, a rollback, an entry write.
    pub cause: String,
    /// The proposal a review applied.
    pub proposal_id: Option<String>,
    /// A note, such as a rollback's reason.
    pub note: Option<String>,
    /// Entries active in it.
    pub active_entries: i64,
}

/// `GET /stores/{id}/versions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionList {
    /// The store.
    #[serde(default)]
    pub store_id: String,
    /// The version to ask for the next (older) page with.
    #[serde(default)]
    pub next_before: Option<i64>,
    /// The store's version now.
    pub current_version: i64,
    /// Newest first.
    pub versions: Vec<Version>,
}

/// `GET /stores/{id}/versions/{v}/diff`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionDiff {
    /// The store.
    #[serde(default)]
    pub store_id: String,
    /// The version shown.
    #[serde(default)]
    pub version: i64,
    /// The version it is compared with: the one before, or the current
    /// one for a rollback's preview (`diff=current`).
    #[serde(default)]
    pub against: i64,
    /// Entries that differ, by id.
    pub diffs: Vec<EntryDiff>,
    /// For a version a proposal's review made (`diff=previous`): the
    /// change that touched each entry, by entry id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_change: BTreeMap<String, String>,
}

/// `POST /proposals/{id}/changes/{change_id}/revert`: one applied change
/// undone, as a new version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reverted {
    /// The store.
    pub store_id: String,
    /// The proposal.
    pub proposal_id: String,
    /// The change undone.
    pub change_id: String,
    /// The new version.
    pub version: i64,
    /// Entries it changed back.
    pub entries_changed: usize,
}

/// `GET /stores/{id}/audit`: a page of the audit chain, oldest first
/// (from `after`), or newest first with `order=desc` (from `before`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The store.
    #[serde(default)]
    pub store_id: String,
    /// The records of the page.
    pub records: Vec<AuditRecord>,
    /// Newest first: the sequence number to ask for the next page with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
    /// Oldest first: the sequence number to ask for the next page with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// `GET /stores/{id}/audit/verify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verified {
    /// The store.
    #[serde(default)]
    pub store_id: String,
    /// Whether the chain is intact, and where it breaks if not.
    pub verification: Verification,
}

/// `POST /stores/{id}/rollback`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolledBack {
    /// The store.
    #[serde(default)]
    pub store_id: String,
    /// The version whose content the new version has.
    #[serde(default)]
    pub rolled_back_to: i64,
    /// The new version, equal in content to the one rolled back to.
    pub version: i64,
    /// Entries the rollback changed.
    pub entries_changed: usize,
}

/// A new store version, on the outcome charts' time line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// The version made.
    pub version: i64,
    /// When.
    pub at: i64,
    /// What made it.
    pub cause: String,
    /// The proposal a review applied.
    #[serde(default)]
    pub proposal_id: Option<String>,
}

/// A pass, on the outcome charts' time line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassMark {
    /// The pass's id.
    pub id: i64,
    /// When it started.
    pub at: i64,
    /// Where it is.
    pub status: PassStatus,
    /// The proposal it made, if any.
    #[serde(default)]
    pub proposal_id: Option<String>,
}

/// `GET /agents/{id}/outcomes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcomes {
    /// The agent.
    #[serde(default)]
    pub agent_id: String,
    /// The window's start.
    #[serde(default)]
    pub since: i64,
    /// The window's end (not included).
    #[serde(default)]
    pub until: i64,
    /// The agent's store.
    pub store_id: String,
    /// Per-session metrics, oldest first.
    pub sessions: Vec<SessionMetrics>,
    /// New store versions: applies, rollbacks, entry writes.
    pub markers: Vec<Marker>,
    /// Passes in the window.
    #[serde(default)]
    pub passes: Vec<PassMark>,
}

/// A window of sessions compared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Its start.
    pub from: i64,
    /// Its end (not included).
    pub to: i64,
    /// Sessions in it.
    pub sessions: usize,
}

/// `GET /agents/{id}/outcomes/compare`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    /// The agent.
    #[serde(default)]
    pub agent_id: String,
    /// Its store.
    #[serde(default)]
    pub store_id: String,
    /// The resampling seed, for the same intervals again.
    #[serde(default)]
    pub seed: u64,
    /// The two windows compared, metric by metric.
    pub comparison: Comparison,
    /// Whether the candidate window is worse beyond noise.
    pub regressed: bool,
    /// The version to roll back to when it is.
    pub rollback_to: Option<i64>,
    /// The baseline window.
    pub baseline: Window,
    /// The candidate window.
    pub candidate: Window,
}

/// `GET /health`: the service, its database and how passes decide.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` (a service that is not answers 503).
    pub status: String,
    /// The engine's version.
    pub core_version: String,
    /// The database's answer to one query.
    pub d1: HealthD1,
    /// Whether passes ask a model.
    pub llm: LlmSettings,
    /// Bytes of WebAssembly memory the engine holds in this isolate.
    #[serde(default)]
    pub engine_memory_bytes: u64,
}

/// The database probe of `GET /health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthD1 {
    /// Agents in the database.
    pub agents: i64,
    /// How long the query took, in milliseconds.
    pub roundtrip_ms: f64,
}

/// How passes settle what the rules leave open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmSettings {
    /// Whether passes ask a model.
    pub mode: LlmMode,
    /// The model's provider, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<reverie_core::llm::Provider>,
    /// The model, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Why the model settings are unusable, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LlmSettings {
    /// Passes use the rules alone; `error` says why the model settings
    /// are unusable, when they are set but wrong.
    pub fn rules_only(error: Option<String>) -> LlmSettings {
        LlmSettings { mode: LlmMode::RulesOnly, provider: None, model: None, error }
    }
}

/// A run of the scheduler (the cron trigger).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchedulerRun {
    /// The time the run acted as of.
    pub at: i64,
    /// Passes run for due slots.
    pub passes: Vec<ScheduledPass>,
    /// Due webhook deliveries attempted again.
    pub webhook_deliveries_retried: usize,
}

/// A pass the scheduler ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledPass {
    /// The agent.
    pub agent_id: String,
    /// The pass.
    pub pass_id: i64,
    /// The slot it ran for.
    pub slot: i64,
}

/// `PUT /agents/{id}/config`: the config as saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigUpdated {
    /// The config, canonical and nested.
    pub config: Value,
    /// The same as YAML.
    pub yaml: String,
    /// When the next scheduled pass is due, if one is.
    pub next_run_at: Option<i64>,
}

/// Every error answer: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong, in words.
    pub message: String,
    /// The fields some errors add.
    #[serde(flatten)]
    pub details: ErrorDetails,
}

/// The fields some errors add next to `status` and `message`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// 409 on a decision: the version the proposal was made against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i64>,
    /// 409: the store's version now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// 409 on a write: the version the caller saw (`expected_version` or
    /// `If-Match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
    /// 409 on a decision: the accepted changes whose targets moved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting_changes: Vec<String>,
    /// 409 on adding entries: ids the store holds already.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existing_ids: Vec<String>,
}

/// The webhook event `pass.completed`: a pass made a proposal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassCompleted {
    /// The agent.
    pub agent_id: String,
    /// Its store.
    pub store_id: String,
    /// The pass.
    pub pass_id: i64,
    /// The proposal made.
    pub proposal_id: String,
    /// The proposal's status.
    pub status: ProposalStatus,
    /// What a person should do, in words.
    pub suggested_action: String,
    /// What an unattended apply did, when approval is off.
    pub auto_apply: Option<AutoApply>,
    /// Addresses the agent's config names.
    pub notify: Vec<String>,
    /// The proposal's summary.
    pub summary: Summary,
    /// What the model cost.
    pub token_cost: TokenCost,
    /// What the model cost, by stage (empty for a rules-only pass).
    #[serde(default)]
    pub cost_by_stage: BTreeMap<String, StageCost>,
    /// The first changes (secrets hidden).
    pub changes: Vec<ChangeView>,
    /// Changes in all.
    pub changes_total: usize,
    /// Whether `changes` holds fewer than all.
    pub changes_truncated: bool,
}

/// The webhook events `proposal.applied` and `proposal.rejected`: a
/// review was recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalReviewed {
    /// The agent.
    pub agent_id: String,
    /// Its store.
    pub store_id: String,
    /// What the review did, as its answer said.
    #[serde(flatten)]
    pub decided: Decided,
    /// Who decided (`role:label`).
    pub decided_by: String,
}

/// `POST /agents/{id}/imports`: what was read, and the version it made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    /// The import's id: name it to export this bundle again.
    pub import_id: String,
    /// The agent's store.
    pub store_id: String,
    /// The store's version after the import (unchanged when every entry
    /// was there already).
    pub version: i64,
    /// The format read.
    pub format: Format,
    /// Files read.
    pub files: usize,
    /// Entries read from them.
    pub entries: usize,
    /// Entries new to the store, added by this import.
    pub added: usize,
    /// Entries of the last push gone from their file since, deleted.
    #[serde(default)]
    pub removed: usize,
    /// Records a service changed since the last push (same id, new text),
    /// edited in the store.
    #[serde(default)]
    pub edited: usize,
    /// Entries the store already held as read.
    pub unchanged: usize,
    /// What was kept as it is rather than read as an entry, and why.
    pub skipped: Vec<Skipped>,
}

/// `GET /stores/{id}/export`: an imported bundle as a version of the store
/// has it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreExport {
    /// The store.
    pub store_id: String,
    /// The version exported.
    pub version: i64,
    /// The import whose files were written.
    pub import_id: String,
    /// Their format.
    pub format: Format,
    /// The files whose bytes differ from the files imported, whole. Every
    /// other file is as it was imported.
    pub changed: Vec<File>,
    /// How many files are as they were imported.
    pub unchanged: usize,
}

/// `POST /agents/{id}/imports/compare`: the push of the `before` files and
/// the proposal that turns them into the `after` files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DreamCompared {
    /// The push of the `before` files.
    pub import_id: String,
    /// The agent's store.
    pub store_id: String,
    /// The store's version after the push, which the proposal is based on.
    pub version: i64,
    /// The proposal to review.
    pub proposal_id: String,
    /// How many changes it holds.
    pub changes: usize,
    /// Its changes per kind.
    pub by_kind: BTreeMap<String, u32>,
    /// What of the `before` files was kept as it is rather than read.
    pub skipped: Vec<Skipped>,
}
