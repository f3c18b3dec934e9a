//! Transcript import: turns the session transcripts agent frameworks already
//! produce (Anthropic Messages, OpenAI chat, or Reverie's own JSON) into
//! [`Session`]s, keeping tool output in messages of its own so it is never
//! mistaken for something the user said.
//!
//! The chat shapes are read from a [`serde_json::Value`] tree rather than
//! derived structs so that every error names the full JSON path of the
//! problem (`messages[3].content[1].name: missing`): a developer pushing a
//! transcript from their framework should see at once which part we could
//! not read, and serde's derive messages cannot say which field failed.

use std::fmt::Display;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entry::{Id, Timestamp};
use crate::error::{Error, Result};
use crate::session::{Message, Role, Session};

const ANTHROPIC: &str = "anthropic transcript";
const OPENAI: &str = "openai transcript";
const REVERIE: &str = "reverie session";
/// Used by [`detect_format`], before the format is known.
const UNKNOWN: &str = "transcript";

/// Errors quote the input back; these caps keep a megabyte of hostile input
/// out of logs and HTTP answers.
const MAX_ERROR_BYTES: usize = 400;
const MAX_QUOTE_BYTES: usize = 60;

/// The transcript shapes [`import_session`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptFormat {
    /// A full [`Session`] object, exactly as Reverie stores it.
    Reverie,
    /// An Anthropic Messages API body, `{"system": ..., "messages": [...]}`,
    /// or a bare array of its messages.
    Anthropic,
    /// An OpenAI chat completions body, `{"messages": [...]}`, or a bare
    /// array of its messages.
    #[serde(rename = "openai")]
    OpenAi,
}

/// Metadata the caller supplies (the chat formats carry no ids or times).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    /// The session's id.
    pub id: Id,
    /// The agent the session belongs to.
    pub agent_id: Id,
    /// When the session started.
    pub started_at: Timestamp,
    /// When the session ended; `None` if not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// Parses `json` in `format` into a validated [`Session`].
///
/// For the chat formats the ids and times come from `meta`, messages carry no
/// `at`, and trust follows the role (tool results become `tool` messages).
/// Fields a request body carries besides the transcript (`model`, `tools`,
/// `max_tokens`…) are ignored. Messages whose rendered content is blank, such
/// as an assistant turn holding only thinking blocks, are dropped.
///
/// For [`TranscriptFormat::Reverie`] the JSON is a complete session with its
/// own `id`, `agent_id` and times; `meta` is ignored, so a stored session
/// re-imports unchanged.
///
/// A transcript that does not fit `format` is an [`Error::Json`] naming the
/// JSON path; a session that breaks [`Session::validate`] (a message over
/// `MAX_MESSAGE_BYTES`, `ended_at` before `started_at`) is an
/// [`Error::Invalid`].
pub fn import_session(format: TranscriptFormat, json: &str, meta: SessionMeta) -> Result<Session> {
    let session = match format {
        TranscriptFormat::Reverie => {
            serde_json::from_str(json).map_err(|e| Reader { what: REVERIE }.error("", e))?
        }
        TranscriptFormat::Anthropic => {
            meta.into_session(anthropic_messages(&parse(json, ANTHROPIC)?)?)
        }
        TranscriptFormat::OpenAi => meta.into_session(openai_messages(&parse(json, OPENAI)?)?),
    };
    session.validate()?;
    Ok(session)
}

/// Guesses the format of `json`. The rules, in order:
///
/// 1. An object with `id`, `agent_id` and `messages` is a Reverie session.
/// 2. Otherwise the transcript must be an object with a `messages` array or a
///    bare array, and every message an object with a string `role`.
/// 3. Anthropic-only signs: a top-level `system` field, or a content block of
///    type `tool_use`, `tool_result`, `image`, `thinking` or
///    `redacted_thinking`.
/// 4. OpenAI-only signs: a message role `system`, `developer`, `tool` or
///    `function`; a message field `tool_calls`, `function_call`,
///    `tool_call_id` or `name`; a content part of type `image_url`.
/// 5. Anthropic signs alone mean Anthropic; both kinds of signs are an error
///    naming one of each; OpenAI signs alone, or none, mean OpenAI: a
///    transcript of plain `user`/`assistant` text reads the same either way.
///
/// Anything else is an [`Error::Json`]. Detection only looks at the shape;
/// [`import_session`] still checks every message.
pub fn detect_format(json: &str) -> Result<TranscriptFormat> {
    let doc = parse(json, UNKNOWN)?;
    if let Value::Object(body) = &doc {
        if ["id", "agent_id", "messages"].iter().all(|key| body.contains_key(*key)) {
            return Ok(TranscriptFormat::Reverie);
        }
    }
    let read = Reader { what: UNKNOWN };
    let ChatBody { body, prefix, messages } = read.chat_body(&doc)?;
    let mut anthropic_sign = body
        .filter(|b| b.contains_key("system"))
        .map(|_| "the top-level \"system\" field".to_string());
    let mut openai_sign = None;
    for (i, message) in messages.iter().enumerate() {
        let path = format!("{prefix}[{i}]");
        let fields = read.object(message, &path)?;
        let role = read.string(fields, "role", &path)?;
        if openai_sign.is_none() {
            if matches!(role, "system" | "developer" | "tool" | "function") {
                openai_sign = Some(format!("{path}.role {}", quote(role)));
            } else if let Some(key) = ["tool_calls", "function_call", "tool_call_id", "name"]
                .into_iter()
                .find(|key| fields.contains_key(*key))
            {
                openai_sign = Some(format!("{path}.{key}"));
            }
        }
        let Some(Value::Array(blocks)) = fields.get("content") else { continue };
        for (j, block) in blocks.iter().enumerate() {
            let Some(block_type) = block.get("type").and_then(Value::as_str) else { continue };
            let sign = || format!("{path}.content[{j}] of type {block_type}");
            match block_type {
                "tool_use" | "tool_result" | "image" | "thinking" | "redacted_thinking" => {
                    anthropic_sign.get_or_insert_with(sign);
                }
                "image_url" => {
                    openai_sign.get_or_insert_with(sign);
                }
                _ => {}
            }
        }
    }
    match (anthropic_sign, openai_sign) {
        (Some(anthropic), Some(openai)) => Err(read.error(
            "",
            format!("ambiguous: {anthropic} is only found in Anthropic transcripts but {openai} only in OpenAI ones"),
        )),
        (Some(_), None) => Ok(TranscriptFormat::Anthropic),
        (None, _) => Ok(TranscriptFormat::OpenAi),
    }
}

impl SessionMeta {
    fn into_session(self, messages: Vec<Message>) -> Session {
        Session {
            id: self.id,
            agent_id: self.agent_id,
            started_at: self.started_at,
            ended_at: self.ended_at,
            messages,
        }
    }
}

fn parse(json: &str, what: &'static str) -> Result<Value> {
    // serde_json stops at 128 levels of nesting, so hostile depth is an error, not a stack overflow.
    serde_json::from_str(json).map_err(|e| Reader { what }.error("", e))
}

fn anthropic_messages(doc: &Value) -> Result<Vec<Message>> {
    let read = Reader { what: ANTHROPIC };
    let ChatBody { body, prefix, messages } = read.chat_body(doc)?;
    let mut out = MessageBuilder::new(Role::System);
    if let Some(system) = body.and_then(|b| b.get("system")) {
        match read.content(Some(system), "system")? {
            Content::Text(text) => out.push(text),
            Content::Blocks(blocks) => {
                for (j, block) in blocks.iter().enumerate() {
                    out.push(anthropic_plain_block(read, block, &format!("system[{j}]"))?);
                }
            }
        }
    }
    for (i, message) in messages.iter().enumerate() {
        let path = format!("{prefix}[{i}]");
        let fields = read.object(message, &path)?;
        let role = match read.string(fields, "role", &path)? {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(read.error(
                    &format!("{path}.role"),
                    format!(
                        "unknown role {}; Anthropic messages are \"user\" or \"assistant\" and the system prompt \
                         goes in the top-level \"system\" field",
                        quote(other)
                    ),
                ))
            }
        };
        out.start(role);
        let content_path = format!("{path}.content");
        match read.content(fields.get("content"), &content_path)? {
            Content::Text(text) => out.push(text),
            Content::Blocks(blocks) => {
                for (j, block) in blocks.iter().enumerate() {
                    anthropic_block(read, block, &format!("{content_path}[{j}]"), role, &mut out)?;
                }
            }
        }
    }
    Ok(out.finish())
}

fn anthropic_block(
    read: Reader,
    block: &Value,
    path: &str,
    role: Role,
    out: &mut MessageBuilder,
) -> Result<()> {
    let fields = read.object(block, path)?;
    match read.string(fields, "type", path)? {
        "text" => out.push(read.string(fields, "text", path)?),
        "image" => out.push("[image]"),
        "tool_use" => {
            let name = read.string(fields, "name", path)?;
            let input = fields.get("input").filter(|input| !input.is_null()).map(Value::to_string);
            out.push(render_call("tool_use", name, input.as_deref()));
        }
        // Anthropic sends tool results inside user turns, but the text is
        // tool output: it gets a message of its own so its trust is Tool.
        "tool_result" => {
            out.start(Role::Tool);
            out.push(anthropic_tool_result(read, fields, path)?);
            out.start(role);
        }
        // Model reasoning is scratch work, not memory material.
        "thinking" | "redacted_thinking" => {}
        other => return Err(read.error(path, format!("unknown block type {}", quote(other)))),
    }
    Ok(())
}

fn anthropic_tool_result(read: Reader, fields: &Map<String, Value>, path: &str) -> Result<String> {
    let is_error = match fields.get("is_error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            return Err(read.error(
                &format!("{path}.is_error"),
                format!("expected a boolean, got {}", kind(other)),
            ))
        }
    };
    let content_path = format!("{path}.content");
    let text = match read.content(fields.get("content"), &content_path)? {
        Content::Text(text) => text.to_string(),
        Content::Blocks(blocks) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (k, block) in blocks.iter().enumerate() {
                parts.push(anthropic_plain_block(read, block, &format!("{content_path}[{k}]"))?);
            }
            join_non_blank(parts)
        }
    };
    Ok(match (is_error, text.trim().is_empty()) {
        (false, _) => text,
        (true, true) => "[error]".to_string(),
        (true, false) => format!("[error] {text}"),
    })
}

/// A block of the system prompt or of a tool result: text or an image.
fn anthropic_plain_block(read: Reader, block: &Value, path: &str) -> Result<String> {
    let fields = read.object(block, path)?;
    match read.string(fields, "type", path)? {
        "text" => Ok(read.string(fields, "text", path)?.to_string()),
        "image" => Ok("[image]".to_string()),
        other => Err(read.error(path, format!("unknown block type {}", quote(other)))),
    }
}

fn openai_messages(doc: &Value) -> Result<Vec<Message>> {
    let read = Reader { what: OPENAI };
    let ChatBody { body, prefix, messages } = read.chat_body(doc)?;
    // Silently skipping it would lose the system prompt of an Anthropic
    // transcript imported under the wrong format.
    if body.is_some_and(|b| b.contains_key("system")) {
        return Err(read.error(
            "system",
            "OpenAI chat carries the system prompt as a \"system\" message; a top-level \"system\" field means \
             an Anthropic transcript",
        ));
    }
    let mut out = MessageBuilder::new(Role::System);
    for (i, message) in messages.iter().enumerate() {
        let path = format!("{prefix}[{i}]");
        let fields = read.object(message, &path)?;
        let role = match read.string(fields, "role", &path)? {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" | "function" => Role::Tool,
            other => {
                return Err(
                    read.error(&format!("{path}.role"), format!("unknown role {}", quote(other)))
                )
            }
        };
        out.start(role);
        let content_path = format!("{path}.content");
        match read.content(fields.get("content"), &content_path)? {
            Content::Text(text) => out.push(text),
            Content::Blocks(parts) => {
                for (j, part) in parts.iter().enumerate() {
                    let part_path = format!("{content_path}[{j}]");
                    let part = read.object(part, &part_path)?;
                    match read.string(part, "type", &part_path)? {
                        "text" => out.push(read.string(part, "text", &part_path)?),
                        "image_url" => out.push("[image]"),
                        other => {
                            return Err(read.error(
                                &part_path,
                                format!("unknown content part type {}", quote(other)),
                            ))
                        }
                    }
                }
            }
        }
        for (j, call) in read.optional_array(fields, "tool_calls", &path)?.iter().enumerate() {
            let call_path = format!("{path}.tool_calls[{j}]");
            let call = read.object(call, &call_path)?;
            let function_path = format!("{call_path}.function");
            let function =
                read.object(read.field(call, "function", &call_path)?, &function_path)?;
            out.push(openai_function_call(read, function, &function_path)?);
        }
        // The pre-`tools` API: one `function_call`, answered by a `function` message.
        if let Some(function) = fields.get("function_call").filter(|f| !f.is_null()) {
            let function_path = format!("{path}.function_call");
            out.push(openai_function_call(
                read,
                read.object(function, &function_path)?,
                &function_path,
            )?);
        }
    }
    Ok(out.finish())
}

fn openai_function_call(read: Reader, function: &Map<String, Value>, path: &str) -> Result<String> {
    let name = read.string(function, "name", path)?;
    let arguments = match function.get("arguments") {
        None | Some(Value::Null) => None,
        Some(Value::String(arguments)) => Some(arguments.as_str()),
        Some(other) => {
            return Err(read.error(
                &format!("{path}.arguments"),
                format!("expected a string of JSON, as OpenAI sends it, got {}", kind(other)),
            ))
        }
    };
    Ok(render_call("tool_call", name, arguments))
}

fn render_call(label: &str, name: &str, arguments: Option<&str>) -> String {
    match arguments {
        Some(arguments) => format!("[{label} {name} {arguments}]"),
        None => format!("[{label} {name}]"),
    }
}

fn join_non_blank(parts: Vec<String>) -> String {
    parts.into_iter().filter(|part| !part.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

/// Gathers rendered blocks into messages: blocks pushed after one `start`
/// join with newlines into one message, and a message with nothing but blank
/// content is never emitted.
struct MessageBuilder {
    messages: Vec<Message>,
    role: Role,
    parts: Vec<String>,
}

impl MessageBuilder {
    fn new(role: Role) -> Self {
        MessageBuilder { messages: Vec::new(), role, parts: Vec::new() }
    }

    fn start(&mut self, role: Role) {
        self.flush();
        self.role = role;
    }

    fn push(&mut self, part: impl Into<String>) {
        let part = part.into();
        if !part.trim().is_empty() {
            self.parts.push(part);
        }
    }

    fn flush(&mut self) {
        if !self.parts.is_empty() {
            let content = std::mem::take(&mut self.parts).join("\n");
            self.messages.push(Message::new(self.role, content));
        }
    }

    fn finish(mut self) -> Vec<Message> {
        self.flush();
        self.messages
    }
}

/// Message or block content: both chat formats allow a plain string or an
/// array of typed blocks; absent and null read as no blocks.
enum Content<'a> {
    Text(&'a str),
    Blocks(&'a [Value]),
}

/// A chat transcript's messages, and the request body around them when
/// there is one (the Anthropic system prompt lives there).
struct ChatBody<'a> {
    body: Option<&'a Map<String, Value>>,
    /// The JSON path of the message array: `messages`, or empty for a bare array.
    prefix: &'static str,
    messages: &'a [Value],
}

/// Reads one wire format out of a JSON tree, naming the format and the JSON
/// path in every error.
#[derive(Clone, Copy)]
struct Reader {
    what: &'static str,
}

impl Reader {
    fn error(self, path: &str, problem: impl Display) -> Error {
        let message =
            if path.is_empty() { problem.to_string() } else { format!("{path}: {problem}") };
        Error::Json { what: self.what, message: shorten(&message, MAX_ERROR_BYTES) }
    }

    /// The messages of `{"messages": [...]}` or of a bare array.
    fn chat_body(self, doc: &Value) -> Result<ChatBody<'_>> {
        match doc {
            Value::Array(messages) => Ok(ChatBody { body: None, prefix: "", messages }),
            Value::Object(body) => match body.get("messages") {
                Some(Value::Array(messages)) => {
                    Ok(ChatBody { body: Some(body), prefix: "messages", messages })
                }
                Some(other) => {
                    Err(self.error("messages", format!("expected an array, got {}", kind(other))))
                }
                None => Err(self.error(
                    "messages",
                    "missing; expected {\"messages\": [...]} or an array of messages",
                )),
            },
            other => Err(self.error(
                "",
                format!(
                    "expected an object with \"messages\" or an array of messages, got {}",
                    kind(other)
                ),
            )),
        }
    }

    fn object<'a>(self, value: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
        match value {
            Value::Object(fields) => Ok(fields),
            other => Err(self.error(path, format!("expected an object, got {}", kind(other)))),
        }
    }

    fn field<'a>(self, fields: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value> {
        fields.get(key).ok_or_else(|| self.error(&format!("{path}.{key}"), "missing"))
    }

    fn string<'a>(self, fields: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str> {
        match self.field(fields, key, path)? {
            Value::String(text) => Ok(text),
            other => Err(self.error(
                &format!("{path}.{key}"),
                format!("expected a string, got {}", kind(other)),
            )),
        }
    }

    fn optional_array<'a>(
        self,
        fields: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'a [Value]> {
        match fields.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.error(
                &format!("{path}.{key}"),
                format!("expected an array, got {}", kind(other)),
            )),
        }
    }

    fn content<'a>(self, value: Option<&'a Value>, path: &str) -> Result<Content<'a>> {
        match value {
            None | Some(Value::Null) => Ok(Content::Blocks(&[])),
            Some(Value::String(text)) => Ok(Content::Text(text)),
            Some(Value::Array(blocks)) => Ok(Content::Blocks(blocks)),
            Some(other) => Err(self.error(
                path,
                format!("expected a string or an array of blocks, got {}", kind(other)),
            )),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `text` as an escaped, quoted, length-capped literal for error messages.
fn quote(text: &str) -> String {
    if text.len() <= MAX_QUOTE_BYTES {
        return format!("{text:?}");
    }
    let end = floor_char_boundary(text, MAX_QUOTE_BYTES);
    format!("{:?}…", &text[..end])
}

/// `text` cut to about `max_bytes` by dropping its middle, which keeps both
/// the JSON path at the start and serde's "at line L column C" at the end.
fn shorten(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let head_end = floor_char_boundary(text, max_bytes * 3 / 4);
    let mut tail_start = text.len() - max_bytes / 4;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!("{} … {}", &text[..head_end], &text[tail_start..])
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Trust;
    use crate::session::MAX_MESSAGE_BYTES;
    use TranscriptFormat::{Anthropic, OpenAi, Reverie};

    const ANTHROPIC_TOOL_LOOP: &str = r#"{"model":"claude-x","max_tokens":1024,"system":"You are a weather bot.",
"messages":[
{"role":"user","content":"Weather in Paris?"},
{"role":"assistant","content":[
  {"type":"thinking","thinking":"They want weather.","signature":"sig"},
  {"type":"text","text":"Let me check."},
  {"type":"tool_use","id":"tu_1","name":"get_weather","input":{"city":"Paris"}}]},
{"role":"user","content":[
  {"type":"tool_result","tool_use_id":"tu_1","content":"22C sunny"},
  {"type":"text","text":"And tomorrow?"}]},
{"role":"assistant","content":[{"type":"redacted_thinking","data":"abc"}]},
{"role":"assistant","content":"Rain tomorrow."}]}"#;

    const ANTHROPIC_BLOCKS: &str = r#"{"system":[
  {"type":"text","text":"Be brief."},
  {"type":"text","text":"Cite sources.","cache_control":{"type":"ephemeral"}}],
"messages":[
{"role":"user","content":[
  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
  {"type":"text","text":"What is this?"}]},
{"role":"assistant","content":[
  {"type":"tool_use","id":"a","name":"lookup","input":{}},
  {"type":"tool_use","id":"b","name":"ocr","input":{"lang":"en"}}]},
{"role":"user","content":[
  {"type":"tool_result","tool_use_id":"a","is_error":true,"content":"timeout"},
  {"type":"tool_result","tool_use_id":"b","content":[{"type":"text","text":"STOP"},{"type":"image","source":{}}]},
  {"type":"tool_result","tool_use_id":"c","content":[]}]}]}"#;

    const ANTHROPIC_BARE: &str = r#"[
{"role":"user","content":"hi"},
{"role":"assistant","content":[{"type":"text","text":"hello"},{"type":"text","text":"there"}]}]"#;

    const OPENAI_CHAT: &str = r#"{"model":"gpt-x","messages":[
{"role":"developer","content":"You are a weather bot."},
{"role":"user","name":"sam","content":[
  {"type":"text","text":"Weather here?"},
  {"type":"image_url","image_url":{"url":"https://example.com/sky.png"}}]},
{"role":"assistant","content":null,"tool_calls":[
  {"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
{"role":"tool","tool_call_id":"c1","content":"22C sunny"},
{"role":"assistant","content":"Sunny, 22C."},
{"role":"assistant","content":"","function_call":{"name":"log","arguments":"{}"}},
{"role":"function","name":"log","content":"ok"},
{"role":"user","content":null}]}"#;

    const OPENAI_BARE: &str = r#"[
{"role":"system","content":"Be kind."},
{"role":"user","content":"hi"},
{"role":"assistant","content":"Checking.","tool_calls":[{"id":"c","type":"function","function":{"name":"now"}}]}]"#;

    const REVERIE_SESSION: &str = r#"{"id":"s9","agent_id":"a9","started_at":5,"ended_at":9,"messages":[
{"role":"user","content":"read this"},
{"role":"tool","content":"page text","trust":"external","at":7}]}"#;

    fn meta() -> SessionMeta {
        SessionMeta {
            id: Id::new("s1").unwrap(),
            agent_id: Id::new("a1").unwrap(),
            started_at: Timestamp(1_000),
            ended_at: None,
        }
    }

    /// One line per message; newlines inside a message show as ` | `.
    fn render(session: &Session) -> String {
        let line = |m: &Message| {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
                Role::System => "system",
            };
            format!("{role}: {}", m.content.replace('\n', " | "))
        };
        session.messages.iter().map(line).collect::<Vec<_>>().join("\n")
    }

    fn check(format: TranscriptFormat, input: &str, expected: &str) {
        let session = import_session(format, input, meta())
            .unwrap_or_else(|e| panic!("{format:?}: {e}\n{input}"));
        assert_eq!(render(&session), expected, "{format:?}\n{input}");
    }

    fn check_err(format: TranscriptFormat, input: &str, expected: &str) {
        match import_session(format, input, meta()) {
            Ok(session) => panic!("{format:?} accepted {input}\n -> {}", render(&session)),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{format:?} {input}\n -> {e}\n expected {expected:?}"
            ),
        }
    }

    #[test]
    fn chat_transcripts_render_into_sessions() {
        check(
            Anthropic,
            ANTHROPIC_TOOL_LOOP,
            r#"system: You are a weather bot.
user: Weather in Paris?
assistant: Let me check. | [tool_use get_weather {"city":"Paris"}]
tool: 22C sunny
user: And tomorrow?
assistant: Rain tomorrow."#,
        );
        check(
            Anthropic,
            ANTHROPIC_BLOCKS,
            r#"system: Be brief. | Cite sources.
user: [image] | What is this?
assistant: [tool_use lookup {}] | [tool_use ocr {"lang":"en"}]
tool: [error] timeout
tool: STOP | [image]"#,
        );
        check(Anthropic, ANTHROPIC_BARE, "user: hi\nassistant: hello | there");
        check(Anthropic, r#"{"messages":[]}"#, "");
        check(
            OpenAi,
            OPENAI_CHAT,
            r#"system: You are a weather bot.
user: Weather here? | [image]
assistant: [tool_call get_weather {"city":"Paris"}]
tool: 22C sunny
assistant: Sunny, 22C.
assistant: [tool_call log {}]
tool: ok"#,
        );
        check(
            OpenAi,
            OPENAI_BARE,
            "system: Be kind.\nuser: hi\nassistant: Checking. | [tool_call now]",
        );
        check(OpenAi, ANTHROPIC_BARE, "user: hi\nassistant: hello | there");
    }

    #[test]
    fn chat_imports_take_meta_and_mark_tool_output_as_tool() {
        let session = import_session(Anthropic, ANTHROPIC_TOOL_LOOP, meta()).unwrap();
        assert_eq!(
            (session.id.as_str(), session.agent_id.as_str(), session.started_at),
            ("s1", "a1", Timestamp(1_000))
        );
        let trusts: Vec<Trust> = session.messages.iter().map(Message::trust).collect();
        assert_eq!(
            trusts,
            [Trust::Agent, Trust::User, Trust::Agent, Trust::Tool, Trust::User, Trust::Agent]
        );
    }

    #[test]
    fn reverie_sessions_import_as_stored_and_ignore_meta() {
        let session = import_session(Reverie, REVERIE_SESSION, meta()).unwrap();
        assert_eq!(session, serde_json::from_str::<Session>(REVERIE_SESSION).unwrap());
        assert_eq!((session.id.as_str(), session.messages[1].trust()), ("s9", Trust::External));
    }

    #[test]
    fn bad_transcripts_are_errors_naming_the_path() {
        let cases = [
            (Anthropic, "{", "malformed anthropic transcript: EOF"),
            (
                Anthropic,
                "7",
                "malformed anthropic transcript: expected an object with \"messages\"",
            ),
            (Anthropic, r#"{"messages":{}}"#, "messages: expected an array, got an object"),
            (
                Anthropic,
                r#"{"messages":[{"role":"user","content":"a"},
{"role":"user","content":[{"type":"text","text":"b"},{"type":"audio"}]}]}"#,
                r#"malformed anthropic transcript: messages[1].content[1]: unknown block type "audio""#,
            ),
            (
                Anthropic,
                r#"[{"role":"system","content":"x"}]"#,
                r#"[0].role: unknown role "system""#,
            ),
            (
                Anthropic,
                r#"[{"role":"assistant","content":[{"type":"tool_use","input":{}}]}]"#,
                "[0].content[0].name: missing",
            ),
            (
                Anthropic,
                r#"[{"role":"user","content":[{"type":"tool_result","is_error":"no"}]}]"#,
                "is_error: expected a boolean",
            ),
            (
                Anthropic,
                r#"{"system":[{"type":"tool_use"}],"messages":[]}"#,
                r#"system[0]: unknown block type "tool_use""#,
            ),
            (
                OpenAi,
                r#"{"messages":[{"role":"robot","content":"x"}]}"#,
                r#"openai transcript: messages[0].role: unknown role "robot""#,
            ),
            (
                OpenAi,
                r#"{"messages":[{"role":7}]}"#,
                "messages[0].role: expected a string, got a number",
            ),
            (
                OpenAi,
                r#"{"messages":[{"role":"user","content":42}]}"#,
                "messages[0].content: expected a string or an array",
            ),
            (
                OpenAi,
                r#"[{"role":"user","content":[{"type":"input_audio"}]}]"#,
                r#"[0].content[0]: unknown content part type "input_audio""#,
            ),
            (
                OpenAi,
                r#"[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]}]"#,
                "[0].tool_calls[0].function.arguments: expected a string of JSON",
            ),
            (
                OpenAi,
                r#"[{"role":"assistant","tool_calls":[{"id":"c"}]}]"#,
                "[0].tool_calls[0].function: missing",
            ),
            (OpenAi, r#"{"system":"x","messages":[]}"#, "openai transcript: system:"),
            (
                Reverie,
                r#"{"id":"s 1","agent_id":"a","started_at":0,"messages":[]}"#,
                "malformed reverie session",
            ),
            (
                Reverie,
                r#"{"id":"s","agent_id":"a","started_at":9,"ended_at":1,"messages":[]}"#,
                "invalid `sessions[s].ended_at`",
            ),
        ];
        for (format, input, expected) in cases {
            check_err(format, input, expected);
        }
        let backwards = SessionMeta { ended_at: Some(Timestamp(1)), ..meta() };
        assert!(matches!(import_session(OpenAi, "[]", backwards), Err(Error::Invalid { .. })));
        let oversize =
            format!(r#"[{{"role":"tool","content":"{}"}}]"#, "x".repeat(MAX_MESSAGE_BYTES + 1));
        check_err(OpenAi, &oversize, "invalid `sessions[s1].messages[0].content`");
    }

    #[test]
    fn formats_are_detected_by_their_own_signs() {
        let cases: [(&str, Result<TranscriptFormat, &str>); 14] = [
            (ANTHROPIC_TOOL_LOOP, Ok(Anthropic)),
            (ANTHROPIC_BLOCKS, Ok(Anthropic)),
            (r#"{"system":"x","messages":[]}"#, Ok(Anthropic)),
            (r#"[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"x"}]}]"#, Ok(Anthropic)),
            (OPENAI_CHAT, Ok(OpenAi)),
            (OPENAI_BARE, Ok(OpenAi)),
            (ANTHROPIC_BARE, Ok(OpenAi)),
            (r#"{"messages":[]}"#, Ok(OpenAi)),
            (REVERIE_SESSION, Ok(Reverie)),
            ("42", Err("malformed transcript: expected an object with \"messages\"")),
            (r#"{"turns":[]}"#, Err("messages: missing")),
            ("[1]", Err("[0]: expected an object, got a number")),
            (r#"{"messages":[{"content":"x"}]}"#, Err("messages[0].role: missing")),
            (
                r#"[{"role":"tool","content":"x"},
{"role":"user","content":[{"type":"tool_result","tool_use_id":"a"}]}]"#,
                Err(
                    "ambiguous: [1].content[0] of type tool_result is only found in Anthropic transcripts but [0].role",
                ),
            ),
        ];
        for (input, expected) in cases {
            match (detect_format(input), expected) {
                (Ok(format), Ok(expected)) => assert_eq!(format, expected, "{input}"),
                (Err(e), Err(expected)) => {
                    assert!(e.to_string().contains(expected), "{input}\n -> {e}")
                }
                (got, expected) => panic!("{input}\n -> {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn hostile_input_is_an_error_or_a_session_never_a_panic() {
        let two_mb = "x".repeat(2 << 20);
        let inputs = [
            String::new(),
            "null".into(),
            "\"messages\"".into(),
            "1e999".into(),
            "\u{0}\u{feff}[]".into(),
            r#"{"messages":null}"#.into(),
            r#"{"id":1,"agent_id":[],"messages":"x"}"#.into(),
            r#"{"system":{"type":"text"},"messages":[[],{},{"role":null}]}"#.into(),
            r#"[{"role":"user","content":[1,[2],{"type":null},{"type":"text","text":{}}]}]"#.into(),
            r#"[{"role":"assistant","tool_calls":[null,{"function":7}],"function_call":"f"}]"#.into(),
            r#"[{"role":"user","content":[{"type":"tool_result","content":{"a":[[[]]]},"is_error":1}]}]"#.into(),
            "[".repeat(100_000),
            format!("{}1{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000)),
            format!(
                r#"[{{"role":"assistant","content":[{{"type":"tool_use","name":"deep","input":{}1{}}}]}}]"#,
                "[".repeat(120),
                "]".repeat(120)
            ),
            format!(r#"[{{"role":"user","content":"{two_mb}"}}]"#),
            format!(r#"[{{"role":"{two_mb}","content":"x"}}]"#),
            format!(r#"[{{"role":"user","content":[{{"type":"é{two_mb}"}}]}}]"#),
            format!(r#"{{"id":"s","agent_id":"a","started_at":"{two_mb}","messages":[]}}"#),
        ];
        for input in &inputs {
            let results = [Reverie, Anthropic, OpenAi]
                .map(|format| import_session(format, input, meta()).map(|_| ()));
            for result in results.into_iter().chain([detect_format(input).map(|_| ())]) {
                if let Err(e) = result {
                    assert!(
                        e.to_string().len() < 1_000,
                        "unbounded error: {}",
                        shorten(&e.to_string(), 200)
                    );
                }
            }
        }
        let too_long = format!(r#"[{{"role":"user","content":"{two_mb}"}}]"#);
        assert!(matches!(import_session(OpenAi, &too_long, meta()), Err(Error::Invalid { .. })));
        // Shortened errors keep serde's position at the end.
        let huge_time =
            format!(r#"{{"id":"s","agent_id":"a","started_at":"{two_mb}","messages":[]}}"#);
        let error = import_session(Reverie, &huge_time, meta()).unwrap_err().to_string();
        assert!(
            error.contains("xxx … xxx") && error.contains("expected i64 at line 1 column"),
            "{error}"
        );
    }
}
