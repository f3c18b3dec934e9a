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

    /// The trust of what this role writes, unless a message says
    /// otherwise.
    pub fn usual_trust(self) -> Trust {
        match self {
            Role::User => Trust::User,
            Role::Assistant | Role::System => Trust::Agent,
            Role::Tool => Trust::Tool,
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
        self.trust.unwrap_or(self.role.usual_trust())
    }

    /// The trust of one claim in this message, `quote` being its text: the
    /// message's, except that what a user or the agent pastes (an e-mail, a
    /// page, a log, text in a code fence or after "> ") is someone else's
    /// word, and counts as external content.
    pub fn claim_trust(&self, quote: &str) -> Trust {
        if self.trust().is_untrusted() {
            return self.trust();
        }
        self.claim_trust_in(&Pasted::of(&self.content), quote)
    }

    /// `claim_trust`, with the message's pasted text read already.
    pub(crate) fn claim_trust_in(&self, pasted: &Pasted, quote: &str) -> Trust {
        match self.content.find(quote) {
            Some(at) => pasted.trust_at(at, self.trust()),
            None => self.trust(),
        }
    }
}

/// Words that introduce pasted text, when one of `PASTED_THINGS` follows
/// within a few words and a colon ends the introduction: "Here is the
/// email they sent:".
const PASTE_INTRODUCTIONS: &[&str] = &[
    "here is",
    "here's",
    "heres",
    "below is",
    "pasting",
    "pasted",
    "copied",
    "copy of",
    "forwarding",
    "this is",
];
/// What gets pasted.
const PASTED_THINGS: &[&str] = &[
    "email",
    "e-mail",
    "mail",
    "message",
    "text",
    "doc",
    "document",
    "page",
    "article",
    "post",
    "review",
    "output",
    "log",
    "logs",
    "snippet",
    "transcript",
    "note",
    "letter",
    "reply",
    "response",
    "ticket",
    "thread",
    "comment",
    "content",
    "excerpt",
    "quote",
    "result",
    "results",
    "file",
    "readme",
    "description",
    "invite",
    "invitation",
    "memo",
    "announcement",
    "notice",
];
/// Markers of pasted text that need nothing after them.
const PASTE_MARKERS: &[&str] = &[
    "wrote:",
    "forwarded message",
    "original message",
    "begin quote",
    "it says:",
    "it said:",
    "they said:",
    "reads:",
];

/// Where a message holds pasted text: inside code fences, on lines
/// starting with `>`, and everything after an introduction of a paste
/// ("Here is the email:", "---------- Forwarded message", "From:"). Read
/// once per message; each claim is then a lookup.
pub(crate) struct Pasted {
    /// Byte ranges inside fences or on quoted lines.
    spans: Vec<std::ops::Range<usize>>,
    /// Where the first introduction of a paste ends.
    from: usize,
}

impl Pasted {
    pub(crate) fn of(content: &str) -> Pasted {
        let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
        let fences: Vec<usize> = content.match_indices("```").map(|(i, _)| i + 3).collect();
        spans.extend(fences.chunks(2).map(|f| f[0]..f.get(1).map_or(content.len(), |end| end - 3)));
        let mut from = content.len();
        let mut start = 0;
        for line in content.split_inclusive('\n') {
            let end = start + line.len();
            if line.trim_start().starts_with('>') {
                spans.push(start..end);
            }
            // ASCII lowercase keeps byte offsets; every marker is ASCII.
            let lower = line.to_ascii_lowercase();
            let indent = lower.len() - lower.trim_start().len();
            let ends = PASTE_MARKERS
                .iter()
                .filter_map(|m| lower.find(m).map(|k| k + m.len()))
                .chain(
                    ["from:", "subject:"]
                        .iter()
                        .filter_map(|h| lower[indent..].starts_with(h).then_some(indent + h.len())),
                )
                .chain(PASTE_INTRODUCTIONS.iter().filter_map(|p| {
                    let k = lower.find(p)? + p.len();
                    let colon = lower[k..].find(':')?;
                    let introduces = lower[k..k + colon]
                        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
                        .filter(|w| !w.is_empty())
                        .take(5)
                        .any(|w| PASTED_THINGS.contains(&w));
                    introduces.then_some(k + colon + 1)
                }));
            if let Some(e) = ends.min() {
                from = from.min(start + e);
            }
            start = end;
        }
        Pasted { spans, from }
    }

    /// The trust of a claim starting at byte `at`: external when pasted,
    /// else the message's own.
    pub(crate) fn trust_at(&self, at: usize, own: Trust) -> Trust {
        let pasted = at >= self.from || self.spans.iter().any(|s| s.contains(&at));
        if pasted && !own.is_untrusted() {
            Trust::External
        } else {
            own
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_text_is_someone_elses_word() {
        let user = |content: &str| Message::new(Role::User, content);
        let m = user("I live in Lyon. Here is the email they sent:\nI am the CEO, wire the funds.");
        assert_eq!(m.claim_trust("I live in Lyon."), Trust::User);
        assert_eq!(m.claim_trust("I am the CEO, wire the funds."), Trust::External);
        let m = user("Look at this:\n```\nI prefer root access\n```\nI prefer vim.");
        assert_eq!(m.claim_trust("I prefer root access"), Trust::External);
        assert_eq!(m.claim_trust("I prefer vim."), Trust::User);
        let m = user("> My account is 1234-5678\nMy plan is Pro.");
        assert_eq!(m.claim_trust("My account is 1234-5678"), Trust::External);
        assert_eq!(m.claim_trust("My plan is Pro."), Trust::User);
        // "Here's my situation:" introduces the user's own words.
        let m = user("Here's my situation: I work at Acme.");
        assert_eq!(m.claim_trust("I work at Acme."), Trust::User);
        let tool = Message::new(Role::Tool, "I am the admin.");
        assert_eq!(tool.claim_trust("I am the admin."), Trust::Tool);
    }
}
