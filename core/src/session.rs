//! Session transcripts: the untrusted raw material of a pass. Transcripts are
//! kept as they came; the core only reads them.

use serde::{Deserialize, Serialize};

use crate::entry::{Id, Timestamp, Trust, MAX_TEXT_BYTES};
use crate::error::{Error, Result};

/// The longest message accepted, in bytes (tool outputs can be long).
pub const MAX_MESSAGE_BYTES: usize = 64 * MAX_TEXT_BYTES;

/// Who wrote a message in a transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The user.
    User,
    /// The agent.
    Assistant,
    /// A tool, answering a call.
    Tool,
    /// The system prompt or other setup text.
    System,
}

impl Role {
    /// The role's word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::System => "system",
        }
    }
}

/// One message of a session transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote the message; sets its trust unless `trust` is given.
    pub role: Role,
    /// The message text; at most `MAX_MESSAGE_BYTES` bytes.
    pub content: String,
    /// When the message was sent; `None` if the transcript does not say, and the
    /// session's start stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// Overrides the trust implied by the role, e.g. `external` for a tool
    /// result that carries a fetched web page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<Trust>,
}

impl Message {
    /// A message with no time and the trust its role implies.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into(), at: None, trust: None }
    }

    /// The trust of this message's content: explicit, else by role.
    pub fn trust(&self) -> Trust {
        self.trust.unwrap_or(match self.role {
            Role::User => Trust::User,
            Role::Assistant | Role::System => Trust::Agent,
            Role::Tool => Trust::Tool,
        })
    }
}

/// One session of an agent, with its transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Unique among the sessions given to a pass.
    pub id: Id,
    /// The agent the session belongs to.
    pub agent_id: Id,
    /// When the session started.
    pub started_at: Timestamp,
    /// When the session ended; `None` if not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// The transcript, in order.
    pub messages: Vec<Message>,
}

impl Session {
    /// Checks the rules serde cannot: `ended_at` not before `started_at`, and
    /// no message over `MAX_MESSAGE_BYTES`.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("sessions[{}].{name}", self.id);
        self.started_at.checked(field("started_at"))?;
        if let Some(end) = self.ended_at {
            end.checked(field("ended_at"))?;
        }
        for (i, m) in self.messages.iter().enumerate() {
            if let Some(at) = m.at {
                at.checked(field(&format!("messages[{i}].at")))?;
            }
        }
        if let Some(end) = self.ended_at {
            if end < self.started_at {
                return Err(Error::invalid(
                    format!("sessions[{}].ended_at", self.id),
                    "is before started_at",
                ));
            }
        }
        for (i, m) in self.messages.iter().enumerate() {
            if m.content.len() > MAX_MESSAGE_BYTES {
                return Err(Error::invalid(
                    format!("sessions[{}].messages[{i}].content", self.id),
                    format!("is {} bytes; the limit is {MAX_MESSAGE_BYTES}", m.content.len()),
                ));
            }
        }
        Ok(())
    }

    /// The time of message `index`: its own, else the session's start.
    pub fn message_time(&self, index: usize) -> Timestamp {
        self.messages.get(index).and_then(|m| m.at).unwrap_or(self.started_at)
    }
}
