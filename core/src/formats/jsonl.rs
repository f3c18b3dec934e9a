//! The MCP memory server's `memory.jsonl`: one JSON object per line, an
//! entity (`name`, `entityType`, `observations`) or a relation.
//!
//! Each string observation of an entity is one entry, about the entity.
//! Lines are never parsed into values and written again: a small scanner
//! finds the byte span of each observation, and export patches only the
//! observations arrays that change, so relations, unknown keys, key order
//! and spacing stay as they were.

use std::collections::HashMap;

use super::{entry_id, Fate, File, Skipped, Span};
use crate::entry::{EntryKind, MemoryEntry, Provenance, Timestamp, Trust};
use crate::error::Result;

/// The entity that entries appended with no subject are written to.
const DEFAULT_ENTITY: &str = "reverie";

/// How deep arrays and objects may nest in a line. Memory lines are flat;
/// the limit only keeps a hostile line from exhausting the stack.
const MAX_DEPTH: usize = 256;

/// Whether `content` looks like memory.jsonl: its first non-blank line is
/// a JSON object with "type" "entity" or "relation".
pub(super) fn looks_like(content: &str) -> bool {
    let Some(line) = lines(content).map(|l| &content[l.start..l.end]).find(|l| !is_blank(l)) else {
        return false;
    };
    match Object::parse(line) {
        Ok(obj) => matches!(obj.string(line, "type").as_deref(), Some("entity" | "relation")),
        Err(_) => false,
    }
}

/// Reads entity observations as entries (pushed to `entries`), returning
/// one Span per entry pushed, in order. A line that cannot be read is
/// reported in `skipped` and kept as it is on export.
pub(super) fn read(
    f: &File,
    created_at: Timestamp,
    entries: &mut Vec<MemoryEntry>,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Span>> {
    let content = f.content.as_str();
    let mut spans = Vec::new();
    for l in lines(content) {
        let line = &content[l.start..l.end];
        if is_blank(line) {
            continue;
        }
        let mut skip = |reason: String| {
            skipped.push(Skipped { path: f.path.clone(), line: Some(l.number), reason });
        };
        let obj = match Object::parse(line) {
            Ok(obj) => obj,
            Err(NotObject::Invalid) => {
                skip("is not valid JSON".into());
                continue;
            }
            Err(NotObject::OtherValue) => {
                skip("is JSON but not an object".into());
                continue;
            }
        };
        match obj.string(line, "type").as_deref() {
            Some("entity") => {}
            // Relations are kept as they are; they hold no observations.
            Some("relation") => continue,
            Some(other) => {
                skip(format!("has type {other:?}, neither \"entity\" nor \"relation\""));
                continue;
            }
            None => {
                skip("has no \"type\" string".into());
                continue;
            }
        }
        let Some(name) = obj.string(line, "name") else {
            skip("is an entity whose \"name\" is not a string".into());
            continue;
        };
        let entity_type = obj.string(line, "entityType");
        let Some(field) = obj.field(line, "observations") else {
            continue;
        };
        if field.kind != Kind::Array {
            skip("is an entity whose \"observations\" is not an array".into());
            continue;
        }
        let Some(array) = Array::parse(line, field.value.start) else {
            // Unreachable: the line was scanned whole already.
            skip("is not valid JSON".into());
            continue;
        };
        for (k, el) in array.elements.iter().enumerate() {
            let at = k + 1;
            if el.kind != Kind::Str {
                skip(format!("observation {at} of {name:?} is not a string"));
                continue;
            }
            let Some(text) = decode(&line[el.range.clone()]) else {
                skip(format!("observation {at} of {name:?} is not valid Unicode"));
                continue;
            };
            if text.trim().is_empty() {
                skip(format!("observation {at} of {name:?} is empty"));
                continue;
            }
            if text.len() > crate::MAX_TEXT_BYTES {
                skip(format!(
                    "observation {at} of {name:?} is {} bytes; the limit is {}",
                    text.len(),
                    crate::MAX_TEXT_BYTES
                ));
                continue;
            }
            // Removing the element takes one comma with it: the one after
            // it when another follows, else the one before it.
            let (remove_start, remove_end) = match (k.checked_sub(1), array.elements.get(k + 1)) {
                (_, Some(next)) => (el.range.start, next.range.start),
                (Some(prev), None) => (array.elements[prev].range.end, el.range.end),
                (None, None) => (el.range.start, el.range.end),
            };
            let id = entry_id(&f.path, spans.len());
            let mut entry = MemoryEntry::new(id.clone(), text, EntryKind::Fact, created_at);
            entry.subject = Some(name.clone());
            if let Some(t) = &entity_type {
                entry.tags = vec![format!("entity_type:{t}")];
            }
            entry.provenance = Provenance { trust: Trust::Agent, sources: Vec::new() };
            entries.push(entry);
            spans.push(Span {
                entry: id,
                start: l.start + el.range.start,
                end: l.start + el.range.end,
                remove_start: l.start + remove_start,
                remove_end: l.start + remove_end,
            });
        }
    }
    Ok(spans)
}

/// The decoded text of a JSON string literal (the bytes of a span, quotes
/// included). A literal that does not decode, which `read` never makes a
/// span of, is given back as it is.
pub(super) fn entry_text(literal: &str) -> String {
    decode(literal).unwrap_or_else(|| literal.to_owned())
}

/// The file with each span's fate applied, and `appended` entries added.
///
/// Each observations array that changes is rebuilt from its elements'
/// original bytes (or new literals), keeping the original separators, so
/// removing neighbours never leaves a stray comma; everything outside the
/// array's brackets is copied as it was. A span that matches no
/// observation of the file is left alone.
pub(super) fn write(
    content: &str,
    spans: &[Span],
    fates: &[Fate<'_>],
    appended: &[&MemoryEntry],
) -> String {
    let eol = super::line_end(content);
    // The changes, by the start of the literal they apply to.
    let changes: HashMap<usize, (usize, &Fate<'_>)> = spans
        .iter()
        .zip(fates)
        .filter(|(_, fate)| **fate != Fate::Keep)
        .map(|(s, fate)| (s.start, (s.end, fate)))
        .collect();
    // The appended texts, by the entity they go to, in order of first use.
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for e in appended {
        let name = e.subject.as_deref().unwrap_or(DEFAULT_ENTITY);
        let g = *group_of.entry(name).or_insert_with(|| {
            groups.push((name, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(&e.text);
    }
    let mut placed = vec![false; groups.len()];

    let mut out = String::with_capacity(content.len() + 256);
    let mut copied = 0;
    for l in lines(content) {
        let line = &content[l.start..l.end];
        if is_blank(line) {
            continue;
        }
        let Ok(obj) = Object::parse(line) else { continue };
        if obj.string(line, "type").as_deref() != Some("entity") {
            continue;
        }
        let field = obj.field(line, "observations");
        let array =
            field.filter(|f| f.kind == Kind::Array).and_then(|f| Array::parse(line, f.value.start));
        // The texts appended to this entity: the first entity of the name
        // whose observations can take them (an array, or none yet).
        let mut adds: &[&str] = &[];
        if !groups.is_empty() && (field.is_none() || array.is_some()) {
            if let Some(name) = obj.string(line, "name") {
                if let Some(&g) = group_of.get(name.as_str()) {
                    if !placed[g] {
                        placed[g] = true;
                        adds = &groups[g].1;
                    }
                }
            }
        }
        if let Some(array) = array {
            let touched = !adds.is_empty()
                || array.elements.iter().any(|e| changes.contains_key(&(l.start + e.range.start)));
            if touched {
                let inside = array.rebuild(line, l.start, &changes, adds);
                out.push_str(&content[copied..l.start + array.open + 1]);
                out.push_str(&inside);
                copied = l.start + array.close;
            }
        } else if field.is_none() && !adds.is_empty() {
            // An entity with no observations array is given one, last.
            out.push_str(&content[copied..l.start + obj.close]);
            if !obj.fields.is_empty() {
                out.push(',');
            }
            out.push_str("\"observations\":[");
            out.push_str(&join_literals(adds, ","));
            out.push(']');
            copied = l.start + obj.close;
        }
    }
    out.push_str(&content[copied..]);

    let new_lines: Vec<String> = groups
        .iter()
        .zip(&placed)
        .filter(|(_, placed)| !**placed)
        .map(|((name, texts), _)| {
            format!(
                "{{\"type\":\"entity\",\"name\":{},\"entityType\":\"note\",\"observations\":[{}]}}",
                literal(name),
                join_literals(texts, ",")
            )
        })
        .collect();
    if !new_lines.is_empty() {
        // The file's own habit: a newline after each line, or (as the
        // server writes) between lines only.
        if out.strip_prefix('\u{feff}').unwrap_or(&out).is_empty() {
            out.push_str(&new_lines.join(eol));
        } else if out.ends_with('\n') {
            for line in &new_lines {
                out.push_str(line);
                out.push_str(eol);
            }
        } else {
            for line in &new_lines {
                out.push_str(eol);
                out.push_str(line);
            }
        }
    }
    out
}

/// One line of the file: its 1-based number and its bytes, without the
/// line end (`\n` or `\r\n`) and, on the first line, without a BOM.
struct Line {
    /// The 1-based line number.
    number: usize,
    /// Where the line's text starts in the file.
    start: usize,
    /// Where it ends, before `\r\n` or `\n`.
    end: usize,
}

/// The lines of `content`, split at `\n`.
fn lines(content: &str) -> impl Iterator<Item = Line> + '_ {
    let mut at = if content.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut number = 0;
    std::iter::from_fn(move || {
        if at > content.len() {
            return None;
        }
        number += 1;
        let start = at;
        let (mut end, next) = match content[start..].find('\n') {
            Some(k) => (start + k, start + k + 1),
            None => (content.len(), content.len() + 1),
        };
        if content[start..end].ends_with('\r') {
            end -= 1;
        }
        at = next;
        Some(Line { number, start, end })
    })
}

/// Whether a line holds nothing: the server skips such lines.
fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The text of a JSON string literal, if it is one and decodes (a lone
/// surrogate escape, which JavaScript allows, does not).
fn decode(literal: &str) -> Option<String> {
    serde_json::from_str::<String>(literal).ok()
}

/// `text` as a JSON string literal, escaped as `JSON.stringify` escapes:
/// `"` and `\`, the short escapes for control characters that have one,
/// `\u00xx` (lower-case hex) for the others. Written by hand so there is
/// no error to handle.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The texts as literals, joined by `sep`.
fn join_literals(texts: &[&str], sep: &str) -> String {
    texts.iter().map(|t| literal(t)).collect::<Vec<_>>().join(sep)
}

/// What a JSON value is, as far as this file cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A string.
    Str,
    /// An array.
    Array,
    /// An object.
    Object,
    /// A number, `true`, `false` or `null`.
    Other,
}

/// A byte-at-a-time JSON validator over one line that reports where
/// values start and end. JSON's structural characters are ASCII, so every
/// offset it reports is on a char boundary.
struct Scanner<'a> {
    /// The line's bytes.
    b: &'a [u8],
    /// Where the scanner is.
    i: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at byte `i` of `text`.
    fn new(text: &'a str, i: usize) -> Self {
        Scanner { b: text.as_bytes(), i }
    }

    /// The byte under the scanner.
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Steps over `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// Steps over JSON whitespace.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Steps over one value, checking it; its kind, or `None` if it is not
    /// JSON (or nests deeper than [`MAX_DEPTH`]).
    fn value(&mut self, depth: usize) -> Option<Kind> {
        match self.peek()? {
            b'"' => self.string().map(|()| Kind::Str),
            b'[' => self.elements(depth).map(|_| Kind::Array),
            b'{' => self.fields(depth).map(|_| Kind::Object),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Steps over the array under the scanner, checking it: where each
    /// element sits, and what it is.
    fn elements(&mut self, depth: usize) -> Option<Vec<Element>> {
        if depth >= MAX_DEPTH || !self.eat(b'[') {
            return None;
        }
        self.ws();
        let mut elements = Vec::new();
        if self.eat(b']') {
            return Some(elements);
        }
        loop {
            let start = self.i;
            let kind = self.value(depth + 1)?;
            elements.push(Element { range: start..self.i, kind });
            self.ws();
            if self.eat(b']') {
                return Some(elements);
            }
            if !self.eat(b',') {
                return None;
            }
            self.ws();
        }
    }

    /// Steps over the object under the scanner, checking it: where each
    /// member's key and value sit, and what the value is.
    fn fields(&mut self, depth: usize) -> Option<Vec<Field>> {
        if depth >= MAX_DEPTH || !self.eat(b'{') {
            return None;
        }
        self.ws();
        let mut fields = Vec::new();
        if self.eat(b'}') {
            return Some(fields);
        }
        loop {
            let key_start = self.i;
            self.string()?;
            let key = key_start..self.i;
            self.ws();
            if !self.eat(b':') {
                return None;
            }
            self.ws();
            let value_start = self.i;
            let kind = self.value(depth + 1)?;
            fields.push(Field { key, value: value_start..self.i, kind });
            self.ws();
            if self.eat(b'}') {
                return Some(fields);
            }
            if !self.eat(b',') {
                return None;
            }
            self.ws();
        }
    }

    /// Steps over the literal `word`.
    fn word(&mut self, word: &[u8]) -> Option<Kind> {
        if self.b.get(self.i..)?.starts_with(word) {
            self.i += word.len();
            Some(Kind::Other)
        } else {
            None
        }
    }

    /// Steps over one or more digits.
    fn digits(&mut self) -> Option<()> {
        let from = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        (self.i > from).then_some(())
    }

    /// Steps over a number: `-? (0 | [1-9][0-9]*) (. digits)? ([eE] [+-]? digits)?`.
    fn number(&mut self) -> Option<Kind> {
        self.eat(b'-');
        if !self.eat(b'0') {
            if !matches!(self.peek(), Some(b'1'..=b'9')) {
                return None;
            }
            self.digits()?;
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.digits()?;
        }
        Some(Kind::Other)
    }

    /// Steps over a string literal, checking its escapes and that it holds
    /// no raw control character.
    fn string(&mut self) -> Option<()> {
        if !self.eat(b'"') {
            return None;
        }
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            self.i += 1;
                            for _ in 0..4 {
                                if !self.peek()?.is_ascii_hexdigit() {
                                    return None;
                                }
                                self.i += 1;
                            }
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }
}

/// One member of a line's top-level object: where its key literal and its
/// value sit in the line.
#[derive(Clone, Debug)]
struct Field {
    /// The key's literal, quotes included.
    key: std::ops::Range<usize>,
    /// The value's bytes.
    value: std::ops::Range<usize>,
    /// What the value is.
    kind: Kind,
}

/// Why a line is not read as an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NotObject {
    /// It is not JSON.
    Invalid,
    /// It is JSON, but an array, string, number or literal.
    OtherValue,
}

/// A line's top-level object, checked whole.
#[derive(Clone, Debug)]
struct Object {
    /// The members, in line order.
    fields: Vec<Field>,
    /// Where its closing `}` sits.
    close: usize,
}

impl Object {
    /// The object a line holds, with nothing but whitespace around it.
    fn parse(line: &str) -> std::result::Result<Object, NotObject> {
        let mut s = Scanner::new(line, 0);
        s.ws();
        if s.peek() != Some(b'{') {
            let whole = s.value(0).is_some() && {
                s.ws();
                s.i == line.len()
            };
            return Err(if whole { NotObject::OtherValue } else { NotObject::Invalid });
        }
        Object::members(&mut s).ok_or(NotObject::Invalid)
    }

    /// The members of the object under `s`, and then the end of the line.
    fn members(s: &mut Scanner<'_>) -> Option<Object> {
        let fields = s.fields(0)?;
        let close = s.i - 1;
        s.ws();
        (s.i == s.b.len()).then_some(Object { fields, close })
    }

    /// The member named `name`: the last of that name, as `JSON.parse`
    /// takes it.
    fn field(&self, line: &str, name: &str) -> Option<&Field> {
        self.fields.iter().rev().find(|f| {
            let key = &line[f.key.clone()];
            let raw = &key[1..key.len() - 1];
            if raw.contains('\\') {
                decode(key).as_deref() == Some(name)
            } else {
                raw == name
            }
        })
    }

    /// The decoded value of the member named `name`, if it is a string.
    fn string(&self, line: &str, name: &str) -> Option<String> {
        let f = self.field(line, name)?;
        if f.kind != Kind::Str {
            return None;
        }
        decode(&line[f.value.clone()])
    }
}

/// One element of an array: where it sits in the line, and what it is.
#[derive(Clone, Debug)]
struct Element {
    /// The element's bytes.
    range: std::ops::Range<usize>,
    /// What the element is.
    kind: Kind,
}

/// An array of a line, already checked as JSON.
#[derive(Clone, Debug)]
struct Array {
    /// Where its `[` sits.
    open: usize,
    /// Where its `]` sits.
    close: usize,
    /// Its elements, in order.
    elements: Vec<Element>,
}

impl Array {
    /// The array whose `[` is at byte `open` of `line`.
    fn parse(line: &str, open: usize) -> Option<Array> {
        let mut s = Scanner::new(line, open);
        let elements = s.elements(0)?;
        Some(Array { open, close: s.i - 1, elements })
    }

    /// The new inside of the array (between its brackets): the elements
    /// not removed, each as it was or with its new text, then `adds`.
    /// Kept elements keep the separator that stood before them, and the
    /// whitespace inside the brackets stays; added ones take the array's
    /// first separator, else a bare comma.
    fn rebuild(
        &self,
        line: &str,
        base: usize,
        changes: &HashMap<usize, (usize, &Fate<'_>)>,
        adds: &[&str],
    ) -> String {
        let sep = match self.elements.get(..2) {
            Some([a, b]) => &line[a.range.end..b.range.start],
            _ => ",",
        };
        let mut inside = String::new();
        // Whether an element of the original array is kept, and whether
        // anything is written.
        let mut kept_original = false;
        let mut kept = false;
        for (k, el) in self.elements.iter().enumerate() {
            let fate = changes
                .get(&(base + el.range.start))
                .filter(|(end, _)| *end == base + el.range.end)
                .map(|(_, fate)| *fate);
            let piece = match fate {
                Some(Fate::Remove) => continue,
                Some(Fate::Write(text)) => literal(text),
                _ => line[el.range.clone()].to_owned(),
            };
            let before = if kept {
                // The separator that stood before this element.
                match k.checked_sub(1).and_then(|p| self.elements.get(p)) {
                    Some(prev) => &line[prev.range.end..el.range.start],
                    None => sep,
                }
            } else {
                // The whitespace after `[`.
                &line[self.open + 1..self.elements[0].range.start]
            };
            inside.push_str(before);
            inside.push_str(&piece);
            kept_original = true;
            kept = true;
        }
        for text in adds {
            if kept {
                inside.push_str(sep);
            }
            inside.push_str(&literal(text));
            kept = true;
        }
        if let Some(last) = self.elements.last().filter(|_| kept_original) {
            // The whitespace before `]`.
            inside.push_str(&line[last.range.end..self.close]);
        }
        inside
    }
}

/// A member of a JSON object found by [`object_at`]: its key, decoded,
/// and where its value sits.
pub(super) struct Member {
    /// The key.
    pub key: String,
    /// The value's bytes.
    pub value: std::ops::Range<usize>,
    /// Whether the value is a string.
    pub is_string: bool,
}

/// The members of the object whose `{` is at byte `open` of `text` (which
/// may go on after it), and the byte after its `}`; `None` if it is not a
/// well-formed object.
pub(super) fn object_at(text: &str, open: usize) -> Option<(Vec<Member>, usize)> {
    let mut s = Scanner::new(text, open);
    let members = s
        .fields(0)?
        .into_iter()
        .map(|f| {
            let key = decode(&text[f.key])?;
            Some(Member { key, value: f.value, is_string: f.kind == Kind::Str })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((members, s.i))
}

/// The byte ranges of the elements of the array whose `[` is at byte
/// `open` of `text`; `None` if it is not a well-formed array.
pub(super) fn array_at(text: &str, open: usize) -> Option<Vec<std::ops::Range<usize>>> {
    Array::parse(text, open).map(|a| a.elements.into_iter().map(|e| e.range).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = concat!(
        r#"{"type":"entity","name":"John_Smith","entityType":"person","observations":"#,
        r#"["Speaks fluent Spanish","Graduated in 2019","Likes tea"],"extra":{"k":[1,2]}}"#,
        "\n",
        r#"{"type":"relation","from":"John_Smith","to":"Anthropic","relationType":"works_at"}"#,
        "\n",
        r#"{"observations":["Founded in 2021"],"name":"Anthropic","type":"entity","#,
        r#""entityType":"organization"}"#,
    );

    fn file(content: &str) -> File {
        File { path: "mcp/memory.jsonl".into(), content: content.into() }
    }

    fn read_all(content: &str) -> (Vec<MemoryEntry>, Vec<Span>, Vec<Skipped>) {
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        let spans = read(&file(content), Timestamp(5), &mut entries, &mut skipped).unwrap();
        assert_eq!(spans.len(), entries.len());
        (entries, spans, skipped)
    }

    /// Every non-blank line of `out` is a JSON value.
    fn assert_lines_parse(out: &str) {
        let body = out.strip_prefix('\u{feff}').unwrap_or(out);
        for line in body.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if !line.trim().is_empty() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{line:?} does not parse: {e}"));
                assert!(v.is_object());
            }
        }
    }

    /// The observations of the entity called `name` in `out`.
    fn observations(out: &str, name: &str) -> Vec<String> {
        for line in out.trim_start_matches('\u{feff}').lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            if v["type"] == "entity" && v["name"] == name {
                return serde_json::from_value(v["observations"].clone()).unwrap();
            }
        }
        panic!("no entity {name:?} in {out}");
    }

    fn fates_with<'a>(n: usize, set: &[(usize, Fate<'a>)]) -> Vec<Fate<'a>> {
        let mut fates = vec![Fate::Keep; n];
        for (i, f) in set {
            fates[*i] = f.clone();
        }
        fates
    }

    #[test]
    fn looks_like_memory_jsonl() {
        assert!(looks_like(TWO));
        assert!(looks_like("\u{feff}\n  \r\n{\"type\":\"relation\",\"from\":\"a\"}"));
        assert!(!looks_like("# Memory\n- a note"));
        assert!(!looks_like("{\"type\":\"other\"}"));
        assert!(!looks_like("{\"type\":\"entity\""));
        assert!(!looks_like(""));
        assert!(!looks_like("[\"type\",\"entity\"]"));
    }

    #[test]
    fn reads_observations_as_entries_about_their_entity() {
        let (entries, spans, skipped) = read_all(TWO);
        assert!(skipped.is_empty(), "{skipped:?}");
        let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            ["Speaks fluent Spanish", "Graduated in 2019", "Likes tea", "Founded in 2021"]
        );
        assert_eq!(entries[0].subject.as_deref(), Some("John_Smith"));
        assert_eq!(entries[3].subject.as_deref(), Some("Anthropic"));
        assert_eq!(entries[0].tags, ["entity_type:person"]);
        assert_eq!(entries[3].tags, ["entity_type:organization"]);
        assert_eq!(entries[0].kind, EntryKind::Fact);
        assert_eq!(entries[0].provenance.trust, Trust::Agent);
        assert_eq!(entries[0].created_at, Timestamp(5));
        for (n, (e, s)) in entries.iter().zip(&spans).enumerate() {
            assert_eq!(e.id, entry_id("mcp/memory.jsonl", n));
            assert_eq!(s.entry, e.id);
            assert_eq!(entry_text(&TWO[s.start..s.end]), e.text);
            assert!(TWO[s.start..s.end].starts_with('"') && TWO[s.start..s.end].ends_with('"'));
        }
        // Removal takes the comma after, or for the last the one before.
        assert_eq!(&TWO[spans[0].remove_start..spans[0].remove_end], "\"Speaks fluent Spanish\",");
        assert_eq!(&TWO[spans[1].remove_start..spans[1].remove_end], "\"Graduated in 2019\",");
        assert_eq!(&TWO[spans[2].remove_start..spans[2].remove_end], ",\"Likes tea\"");
        assert_eq!(&TWO[spans[3].remove_start..spans[3].remove_end], "\"Founded in 2021\"");
        let ids: std::collections::HashSet<_> = entries.iter().map(|e| &e.id).collect();
        assert_eq!(ids.len(), entries.len());
    }

    #[test]
    fn ids_count_from_the_files_first_entry() {
        let mut entries =
            vec![MemoryEntry::new(entry_id("other.jsonl", 0), "x", EntryKind::Fact, Timestamp(0))];
        let mut skipped = Vec::new();
        let spans = read(&file(TWO), Timestamp(0), &mut entries, &mut skipped).unwrap();
        assert_eq!(spans[0].entry, entry_id("mcp/memory.jsonl", 0));
        assert_eq!(spans[3].entry, entry_id("mcp/memory.jsonl", 3));
    }

    #[test]
    fn all_kept_is_byte_identical() {
        for content in [TWO.to_owned(), format!("{TWO}\n"), TWO.replace('\n', "\r\n")] {
            let (_, spans, _) = read_all(&content);
            let fates = vec![Fate::Keep; spans.len()];
            assert_eq!(write(&content, &spans, &fates, &[]), content);
        }
    }

    #[test]
    fn write_and_remove_keep_arrays_valid_and_other_lines_identical() {
        let (_, spans, _) = read_all(TWO);
        let lines_in: Vec<&str> = TWO.split('\n').collect();
        // The fates set, then John's and Anthropic's observations after.
        type Case<'a> = (Vec<(usize, Fate<'a>)>, Vec<&'a str>, Vec<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            // First, middle, last, sole element removed.
            (
                vec![(0, Fate::Remove)],
                vec!["Graduated in 2019", "Likes tea"],
                vec!["Founded in 2021"],
            ),
            (vec![(1, Fate::Remove)], vec!["Speaks fluent Spanish", "Likes tea"], vec![]),
            (vec![(2, Fate::Remove)], vec!["Speaks fluent Spanish", "Graduated in 2019"], vec![]),
            (vec![(3, Fate::Remove)], vec![], vec![]),
            // Two adjacent removals, at the start and at the end.
            (vec![(0, Fate::Remove), (1, Fate::Remove)], vec!["Likes tea"], vec![]),
            (vec![(1, Fate::Remove), (2, Fate::Remove)], vec!["Speaks fluent Spanish"], vec![]),
            (vec![(0, Fate::Remove), (1, Fate::Remove), (2, Fate::Remove)], vec![], vec![]),
            // One rewritten, one removed.
            (
                vec![(0, Fate::Write("Speaks \"fluent\" Spanish")), (1, Fate::Remove)],
                vec!["Speaks \"fluent\" Spanish", "Likes tea"],
                vec![],
            ),
        ];
        for (set, john, anthropic) in cases {
            let fates = fates_with(spans.len(), &set);
            let out = write(TWO, &spans, &fates, &[]);
            assert_lines_parse(&out);
            let lines_out: Vec<&str> = out.split('\n').collect();
            assert_eq!(lines_out.len(), lines_in.len());
            let touched_john = set.iter().any(|(i, _)| *i < 3);
            let touched_anthropic = set.iter().any(|(i, _)| *i == 3);
            if touched_john {
                assert_eq!(observations(&out, "John_Smith"), john, "{set:?}");
                assert!(lines_out[0].ends_with(r#"],"extra":{"k":[1,2]}}"#));
            } else {
                assert_eq!(lines_out[0], lines_in[0]);
            }
            assert_eq!(lines_out[1], lines_in[1], "the relation is untouched");
            if touched_anthropic {
                assert_eq!(observations(&out, "Anthropic"), anthropic);
                assert!(lines_out[2].starts_with(r#"{"observations":[],"name""#));
            } else {
                assert_eq!(lines_out[2], lines_in[2]);
            }
        }
    }

    #[test]
    fn appends_to_existing_and_new_entities() {
        let (_, spans, _) = read_all(TWO);
        let mk = |subject: Option<&str>, text: &str| {
            let mut e = MemoryEntry::new(entry_id("new", 0), text, EntryKind::Fact, Timestamp(0));
            e.subject = subject.map(str::to_owned);
            e
        };
        let to_john = mk(Some("John_Smith"), "Moved to Lisbon");
        let to_bob = mk(Some("Bob"), "Plays chess");
        let to_bob2 = mk(Some("Bob"), "Line\nbreak");
        let nobody = mk(None, "A loose note");
        let appended = [&to_john, &to_bob, &nobody, &to_bob2];
        let fates = fates_with(spans.len(), &[(1, Fate::Write("Graduated in 2020"))]);
        let out = write(TWO, &spans, &fates, &appended);
        assert_lines_parse(&out);
        let lines_out: Vec<&str> = out.split('\n').collect();
        let lines_in: Vec<&str> = TWO.split('\n').collect();
        assert_eq!(
            lines_out[0],
            concat!(
                r#"{"type":"entity","name":"John_Smith","entityType":"person","observations":"#,
                r#"["Speaks fluent Spanish","Graduated in 2020","Likes tea","Moved to Lisbon"],"#,
                r#""extra":{"k":[1,2]}}"#
            )
        );
        assert_eq!(lines_out[1..3], lines_in[1..3]);
        assert_eq!(
            lines_out[3],
            concat!(
                r#"{"type":"entity","name":"Bob","entityType":"note","#,
                r#""observations":["Plays chess","Line\nbreak"]}"#
            )
        );
        assert_eq!(
            lines_out[4],
            concat!(
                r#"{"type":"entity","name":"reverie","entityType":"note","#,
                r#""observations":["A loose note"]}"#
            )
        );
        assert_eq!(lines_out.len(), 5, "no newline is added at the end: {out:?}");

        // A file ending in a newline keeps ending in one.
        let content = format!("{TWO}\n");
        let out = write(&content, &spans, &vec![Fate::Keep; spans.len()], &[&to_bob]);
        assert!(out.starts_with(&content));
        assert_eq!(
            &out[content.len()..],
            concat!(
                r#"{"type":"entity","name":"Bob","entityType":"note","#,
                r#""observations":["Plays chess"]}"#,
                "\n"
            )
        );

        // An empty file gets just the line; an array emptied takes appends.
        let out = write("", &[], &[], &[&nobody]);
        assert_eq!(
            out,
            concat!(
                r#"{"type":"entity","name":"reverie","entityType":"note","#,
                r#""observations":["A loose note"]}"#
            )
        );
        let fates =
            fates_with(spans.len(), &[(0, Fate::Remove), (1, Fate::Remove), (2, Fate::Remove)]);
        let out = write(TWO, &spans, &fates, &[&to_john]);
        assert_lines_parse(&out);
        assert_eq!(observations(&out, "John_Smith"), ["Moved to Lisbon"]);
    }

    #[test]
    fn appends_to_an_entity_without_observations_array() {
        let content = concat!(
            r#"{"type":"entity","name":"X","entityType":"t"}"#,
            "\n",
            r#"{"type":"entity","name":"Y"}"#
        );
        let (entries, spans, skipped) = read_all(content);
        assert!(entries.is_empty() && skipped.is_empty());
        let mut e = MemoryEntry::new(entry_id("n", 0), "hi", EntryKind::Fact, Timestamp(0));
        e.subject = Some("X".into());
        let out = write(content, &spans, &[], &[&e]);
        assert_lines_parse(&out);
        assert_eq!(observations(&out, "X"), ["hi"]);
        assert_eq!(out.lines().count(), 2);
    }

    #[test]
    fn pretty_arrays_keep_their_spacing() {
        let content =
            r#"{"type": "entity", "name": "A", "observations": [ "one", "two", "three" ]}"#;
        let (_, spans, _) = read_all(content);
        let out = write(content, &spans, &fates_with(3, &[(1, Fate::Remove)]), &[]);
        assert_eq!(out, r#"{"type": "entity", "name": "A", "observations": [ "one", "three" ]}"#);
        let out = write(content, &spans, &fates_with(3, &[(0, Fate::Remove)]), &[]);
        assert_eq!(out, r#"{"type": "entity", "name": "A", "observations": [ "two", "three" ]}"#);
        let all = fates_with(3, &[(0, Fate::Remove), (1, Fate::Remove), (2, Fate::Remove)]);
        let out = write(content, &spans, &all, &[]);
        assert_eq!(out, r#"{"type": "entity", "name": "A", "observations": []}"#);
    }

    #[test]
    fn crlf_and_bom() {
        let content = format!("\u{feff}{}\r\n", TWO.replace('\n', "\r\n"));
        let (entries, spans, skipped) = read_all(&content);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(entries.len(), 4);
        for (e, s) in entries.iter().zip(&spans) {
            assert_eq!(entry_text(&content[s.start..s.end]), e.text);
        }
        let mut bob = MemoryEntry::new(entry_id("n", 0), "b", EntryKind::Fact, Timestamp(0));
        bob.subject = Some("Bob".into());
        let fates = fates_with(4, &[(3, Fate::Remove), (0, Fate::Write("Habla español"))]);
        let out = write(&content, &spans, &fates, &[&bob]);
        assert!(out.starts_with('\u{feff}'));
        assert_lines_parse(&out);
        assert!(out.ends_with("\"observations\":[\"b\"]}\r\n"));
        assert_eq!(out.matches('\n').count(), out.matches("\r\n").count());
        assert_eq!(observations(&out, "John_Smith")[0], "Habla español");
        assert_eq!(observations(&out, "Anthropic"), Vec::<String>::new());
        // A BOM with no line end after the line still reads.
        let (entries, _, _) =
            read_all("\u{feff}{\"type\":\"entity\",\"name\":\"A\",\"observations\":[\"x\"]}");
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn bad_lines_are_skipped_with_their_line_number() {
        let long = "a".repeat(crate::MAX_TEXT_BYTES + 1);
        let content = [
            r#"{"type":"entity","name":"A","observations":["ok"]}"#.to_owned(),
            "".into(),
            "{not json".into(),
            "[1,2]".into(),
            r#"{"type":"entity","name":7,"observations":["x"]}"#.into(),
            r#"{"type":"entity","name":"B","observations":["fine",3,"  ",null,"also fine"]}"#
                .into(),
            format!(r#"{{"type":"entity","name":"C","observations":["{long}"]}}"#),
            r#"{"type":"entity","name":"D","observations":"x"}"#.into(),
            r#"{"type":"entity","name":"E","observations":["\ud800"]}"#.into(),
            r#"{"type":"thing"}"#.into(),
            r#"{"type":"entity","name":"F"} trailing"#.into(),
            "   ".into(),
        ]
        .join("\n");
        let (entries, spans, skipped) = read_all(&content);
        let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["ok", "fine", "also fine"]);
        let lines: Vec<Option<usize>> = skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 6, 6, 7, 8, 9, 10, 11].map(Some), "{skipped:#?}");
        assert!(skipped.iter().all(|s| s.path == "mcp/memory.jsonl" && !s.reason.is_empty()));
        assert!(skipped[0].reason.contains("not valid JSON"));
        assert!(skipped[1].reason.contains("not an object"));
        // Removing around skipped elements keeps them and the array valid.
        let fates = fates_with(3, &[(1, Fate::Remove), (2, Fate::Remove)]);
        let out = write(&content, &spans, &fates, &[]);
        assert!(out.contains(r#"["ok"]"#));
        assert!(out.contains(r#""observations":[3,"  ",null]}"#), "{out}");
        let unchanged: Vec<&str> = content.split('\n').filter(|l| !l.contains("\"B\"")).collect();
        for line in unchanged {
            assert!(out.split('\n').any(|l| l == line));
        }
    }

    #[test]
    fn escapes_round_trip() {
        let texts = [
            "say \"hi\"",
            "back\\slash",
            "two\nlines\r\tand tab",
            "ünïcödé ✓ 😀",
            "\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "</script> & 'quotes'",
        ];
        for t in texts {
            assert_eq!(literal(t), serde_json::to_string(t).unwrap(), "{t:?}");
        }
        let line = format!(
            "{{\"type\":\"entity\",\"name\":\"Esc\\\"aped\",\"observations\":[{}]}}",
            texts.map(literal).join(",")
        );
        let (entries, spans, skipped) = read_all(&line);
        assert!(skipped.is_empty());
        assert_eq!(entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), texts);
        assert_eq!(entries[0].subject.as_deref(), Some("Esc\"aped"));
        // Escaped source literals (`\u00e9`, `\/`) decode too.
        let (entries, _, _) = read_all(
            r#"{"type":"entity","name":"A","observations":["caf\u00e9 a\/b \ud83d\ude00"]}"#,
        );
        assert_eq!(entries[0].text, "café a/b 😀");
        // Rewriting every text to itself via Write gives the same file.
        let fates: Vec<Fate<'_>> = texts.iter().map(|t| Fate::Write(t)).collect();
        assert_eq!(write(&line, &spans, &fates, &[]), line);
        let mut e = MemoryEntry::new(entry_id("n", 0), texts[2], EntryKind::Fact, Timestamp(0));
        e.subject = Some("Esc\"aped".into());
        let out = write(&line, &spans, &vec![Fate::Keep; spans.len()], &[&e]);
        assert_lines_parse(&out);
        assert_eq!(observations(&out, "Esc\"aped").last().map(String::as_str), Some(texts[2]));
    }

    #[test]
    fn bogus_spans_and_hostile_lines_do_not_panic() {
        let deep =
            format!("{{\"type\":\"entity\",\"x\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        let (_, _, skipped) = read_all(&deep);
        assert_eq!(skipped.len(), 1);
        let bogus = Span {
            entry: entry_id("x", 0),
            start: 7,
            end: 100_000,
            remove_start: 3,
            remove_end: 1,
        };
        assert_eq!(write(TWO, &[bogus], &[Fate::Remove], &[]), TWO);
        for s in
            ["{", "\"", "{\"a\":", "{\"type\":\"entity\",\"observations\":[", "\u{feff}", "\r\n"]
        {
            let _ = read_all(s);
            let _ = looks_like(s);
            let _ = write(s, &[], &[], &[]);
        }
    }
}
