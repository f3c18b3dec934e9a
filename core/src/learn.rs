//! Reading transcripts for memory material: durable first-person statements
//! by the user ("I moved to Lyon"), and observations that may recur across
//! sessions (user corrections, tool failures, stated preferences). Every
//! item keeps the verbatim sentence and where it was said.

use crate::entry::{EntryKind, Id, Timestamp, Trust};
use crate::sentence::sentences;
use crate::session::{Pasted, Role, Session};
use crate::text::normalize;

/// A sentence from a transcript and where it was said.
#[derive(Clone, Debug, PartialEq)]
pub struct Said {
    pub quote: String,
    pub session_id: Id,
    pub message_index: u32,
    pub at: Timestamp,
    pub trust: Trust,
}

/// A durable statement, rewritten in the third person as a memory entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub text: String,
    pub kind: EntryKind,
    /// The statement retracts something ("I no longer use Slack") rather
    /// than stating a new fact.
    pub retraction: bool,
    pub said: Said,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObservationKind {
    Correction,
    ToolFailure,
    Preference,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub kind: ObservationKind,
    pub said: Said,
}

/// Words that make a statement time-bound rather than durable.
const EPHEMERAL: &[&str] = &[
    "today",
    "tomorrow",
    "tonight",
    "yesterday",
    "now",
    "currently",
    "moment",
    "morning",
    "afternoon",
    "evening",
    "soon",
    "later",
    "week",
    "weekend",
];
const DISCOURSE: &[&str] = &[
    "actually",
    "also",
    "oh",
    "btw",
    "fyi",
    "by the way",
    "just so you know",
    "well",
    "ok",
    "okay",
];
/// First-person verbs that state lasting facts, with their third-person form.
const FIRST_PERSON_VERBS: &[(&str, &str)] = &[
    ("live", "lives"),
    ("work", "works"),
    ("prefer", "prefers"),
    ("use", "uses"),
    ("like", "likes"),
    ("love", "loves"),
    ("hate", "hates"),
    ("need", "needs"),
    ("own", "owns"),
    ("speak", "speaks"),
    ("have", "has"),
    ("moved", "moved"),
    ("switched", "switched"),
    ("joined", "joined"),
    ("started", "started"),
    ("stopped", "stopped"),
    ("no longer", "no longer"),
    ("don't", "does not"),
    ("do not", "does not"),
];
/// Words that speak of the speaker or the listener. A rewritten statement
/// that still holds one reads wrongly ("User loves that it teaches me"),
/// and "you" names someone the memory does not know.
const PERSONAL_WORDS: &[&str] = &[
    "i",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "me",
    "my",
    "mine",
    "myself",
    "we",
    "we're",
    "we've",
    "we'd",
    "we'll",
    "us",
    "our",
    "ours",
    "ourselves",
    "you",
    "you're",
    "you've",
    "you'd",
    "you'll",
    "your",
    "yours",
    "yourself",
];
/// Words that point at something said before or around the sentence ("it",
/// "this", "they", "there"): out of the conversation a memory holding one
/// says nothing ("User's brother wrote it").
const CONTEXT_WORDS: &[&str] = &[
    "it", "it's", "this", "these", "those", "they", "they're", "they've", "them", "theirs", "he",
    "he's", "him", "she", "she's", "hers", "there", "here",
];
/// Where a sentence may be cut and still leave a whole clause before it.
const CLAUSE_BREAKS: &[&str] = &[
    "; ",
    " – ",
    " — ",
    "—",
    " - ",
    ", but ",
    ", and ",
    ", so ",
    ", which ",
    ", because ",
    ", as ",
];
const IDENTITY_WORDS: &[&str] =
    &["a", "an", "allergic", "vegetarian", "vegan", "based", "from", "originally"];
const CORRECTION_CUES: &[&str] = &[
    "no ",
    "no,",
    "nope",
    "that's wrong",
    "thats wrong",
    "that is wrong",
    "that's not",
    "that is not",
    "wrong",
    "i said",
    "i told you",
    "you forgot",
    "stop ",
    "don't ",
    "do not ",
    "please don't",
    "not what i asked",
    "again, ",
];
const FAILURE_CUES: &[&str] = &[
    "error",
    "failed",
    "failure",
    "exception",
    "timed out",
    "timeout",
    "not found",
    "permission denied",
    "traceback",
];
const PREFERENCE_CUES: &[&str] =
    &["i prefer", "please use", "please always", "always use", "i'd rather", "i would rather"];
/// Longest sentence kept as a statement or observation, in bytes.
const MAX_SENTENCE: usize = 300;

/// Durable statements the user made about themselves, in session order.
pub fn statements(sessions: &[Session]) -> Vec<Statement> {
    let mut out = Vec::new();
    for session in sessions {
        for (index, message) in session.messages.iter().enumerate() {
            if message.role != Role::User || message.trust() != Trust::User {
                continue;
            }
            let pasted = Pasted::of(&message.content);
            for sentence in sentences(&message.content) {
                let trust = pasted.trust_at(offset(&message.content, sentence), Trust::User);
                // What the user pastes is not the user's word about the user.
                if trust != Trust::User {
                    continue;
                }
                if let Some((text, kind, retraction)) = third_person(sentence) {
                    out.push(Statement {
                        text,
                        kind,
                        retraction,
                        said: said(session, index, sentence, trust),
                    });
                }
                // "I love all dances, but contemporary is my top pick": the
                // second clause names a thing of its own.
                if let Some((_, clause)) = sentence.split_once(", but ") {
                    let clause = clause.trim().trim_end_matches(['.', '!']);
                    if let Some((text, kind, retraction)) = inverted(clause) {
                        let said = said(session, index, sentence, trust);
                        out.push(Statement { text, kind, retraction, said });
                    }
                }
            }
        }
    }
    out
}

/// Observations that may recur across sessions, in session order.
pub fn observations(sessions: &[Session]) -> Vec<Observation> {
    let mut out = Vec::new();
    for session in sessions {
        for (index, message) in session.messages.iter().enumerate() {
            let pasted = Pasted::of(&message.content);
            for sentence in sentences(&message.content) {
                if sentence.len() > MAX_SENTENCE {
                    continue;
                }
                let lower = sentence.to_lowercase();
                let kind = match message.role {
                    Role::User
                        if CORRECTION_CUES.iter().any(|c| lower.starts_with(c))
                            && !pleasantry(&lower) =>
                    {
                        ObservationKind::Correction
                    }
                    Role::User if PREFERENCE_CUES.iter().any(|c| lower.contains(c)) => {
                        ObservationKind::Preference
                    }
                    Role::Tool if FAILURE_CUES.iter().any(|c| lower.contains(c)) => {
                        ObservationKind::ToolFailure
                    }
                    _ => continue,
                };
                let trust = pasted.trust_at(offset(&message.content, sentence), message.trust());
                out.push(Observation { kind, said: said(session, index, sentence, trust) });
            }
        }
    }
    out
}

/// Whether a sentence opening with "no" is a set phrase ("No problem!",
/// "No worries, John", "no way!"), not a correction.
fn pleasantry(lower: &str) -> bool {
    const AFTER_NO: &[&str] = &[
        "problem", "problems", "prob", "probs", "worries", "worry", "way", "doubt", "kidding",
        "joke", "wonder", "matter", "thanks", "thank", "sweat", "idea", "clue", "rush", "pressure",
        "biggie", "deal", "harm",
    ];
    let mut words = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty());
    words.next() == Some("no") && words.next().is_some_and(|w| AFTER_NO.contains(&w))
}

/// `text` as an entry holds it: a time relative to when it was said ("five
/// years ago" said in 2023 is not five years ago for ever) with the day it
/// was said, "… five years ago (said on 2023-05-08)."
pub(crate) fn dated(text: &str, at: crate::entry::Timestamp) -> String {
    if relative_time(text) {
        format!("{} ({SAID_ON}{}).", text.trim_end_matches('.'), crate::schedule::day_utc(at))
    } else {
        text.to_string()
    }
}

const SAID_ON: &str = "said on ";

/// `text` without the day `dated` gave it: what it claims.
pub(crate) fn undated(text: &str) -> &str {
    let Some(body) = text.strip_suffix(").") else { return text };
    match body.rsplit_once(" (") {
        Some((claim, day))
            if day.strip_prefix(SAID_ON).is_some_and(|d| {
                let b = d.as_bytes();
                b.len() == 10
                    && (b[4], b[7]) == (b'-', b'-')
                    && b.iter().filter(|c| c.is_ascii_digit()).count() == 8
            }) =>
        {
            claim
        }
        _ => text,
    }
}

/// Whether a statement speaks of a time relative to when it was said
/// ("five years ago", "last year", "next month", "recently").
fn relative_time(text: &str) -> bool {
    const UNITS: &[&str] =
        &["day", "days", "week", "weeks", "month", "months", "year", "years", "decade", "decades"];
    const NEAR: &[&str] =
        &["year", "month", "summer", "winter", "spring", "fall", "autumn", "semester", "season"];
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        let before = |k: usize| i.checked_sub(k).map(|j| words[j].as_str());
        (w == "ago" && before(1).is_some_and(|u| UNITS.contains(&u)))
            || (matches!(w.as_str(), "last" | "next" | "past" | "coming")
                && words.get(i + 1).is_some_and(|n| {
                    NEAR.contains(&n.as_str()) || crate::schedule::MONTHS.contains(&n.as_str())
                }))
            || matches!(w.as_str(), "recently" | "lately")
    })
}

fn said(session: &Session, index: usize, sentence: &str, trust: Trust) -> Said {
    Said {
        quote: sentence.to_string(),
        session_id: session.id.clone(),
        message_index: index as u32,
        at: session.message_time(index),
        trust,
    }
}

/// Where `part`, a slice of `whole`, starts in it.
fn offset(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Rewrites "I live in Lyon." as "User lives in Lyon." when the sentence is
/// a durable first-person statement; `None` otherwise.
fn third_person(sentence: &str) -> Option<(String, EntryKind, bool)> {
    if sentence.len() > MAX_SENTENCE || sentence.ends_with('?') {
        return None;
    }
    let normalized = normalize(sentence);
    // "My week's been good" is as time-bound as "this week".
    let ephemeral =
        sentence.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’')).any(|w| {
            let w = w.to_lowercase();
            EPHEMERAL.contains(&w.trim_end_matches("'s").trim_end_matches("’s"))
        });
    if normalized.split(' ').count() < 3 || ephemeral {
        return None;
    }
    let mut rest = sentence.trim().trim_end_matches(['.', '!']).trim();
    loop {
        let lower = rest.to_lowercase();
        let Some(marker) = DISCOURSE
            .iter()
            .find(|d| lower.starts_with(*d) && lower[d.len()..].starts_with([',', ' ']))
        else {
            break;
        };
        rest = rest[marker.len()..].trim_start_matches([',', ' ']);
    }
    let lower = rest.to_lowercase();
    if let Some(tail) = strip_prefix_ci(rest, &lower, "my ") {
        // "My dogs." says nothing of them.
        let tail = impersonal(tail).filter(|t| t.split_whitespace().count() >= 2)?;
        return Some((format!("User's {tail}."), EntryKind::Fact, false));
    }
    for prefix in ["i'm ", "i am ", "i’m "] {
        if let Some(tail) = strip_prefix_ci(rest, &lower, prefix) {
            let first = tail.split(' ').next().unwrap_or("").to_lowercase();
            if !IDENTITY_WORDS.contains(&first.as_str()) {
                return None;
            }
            return Some((format!("User is {}.", impersonal(tail)?), EntryKind::Fact, false));
        }
    }
    if let Some(tail) = strip_prefix_ci(rest, &lower, "call me ") {
        return Some((format!("User wants to be called {tail}."), EntryKind::Preference, false));
    }
    let Some(tail) = strip_prefix_ci(rest, &lower, "i ") else { return inverted(rest) };
    let tail_lower = tail.to_lowercase();
    for (verb, third) in FIRST_PERSON_VERBS {
        if let Some(object) = strip_prefix_ci(tail, &tail_lower, &format!("{verb} ")) {
            let kind = match *verb {
                "prefer" | "like" | "love" | "hate" | "don't" | "do not" => EntryKind::Preference,
                _ => EntryKind::Fact,
            };
            let object = conjugate_object(verb, impersonal(object)?);
            let retraction = *verb == "no longer";
            return Some((format!("User {third} {object}."), kind, retraction));
        }
    }
    None
}

/// A thing named first, then what it is to the speaker: "Harry Potter is
/// my favorite book" -> "User's favorite book is Harry Potter." What it
/// is opens with a word of rank or taste ("favorite", "main", "go-to";
/// "The problem is my laptop" says no such thing) and keeps two words at
/// least after the usual cuts; the thing is a short name (six words at
/// most), not a pointer ("This is my …") nor a clause.
fn inverted(clause: &str) -> Option<(String, EntryKind, bool)> {
    let lower = clause.to_lowercase();
    let (at, copula) = [" is my ", " are my "].iter().find_map(|c| Some((lower.find(c)?, *c)))?;
    let thing = clause[..at].trim();
    let what = impersonal(&clause[at + copula.len()..])?;
    const RANK: &[&str] = &[
        "favorite",
        "favourite",
        "top",
        "go-to",
        "best",
        "least",
        "main",
        "primary",
        "usual",
        "preferred",
        "all-time",
        "biggest",
        "dream",
    ];
    let first = what.split_whitespace().next().unwrap_or("").to_lowercase();
    if !RANK.contains(&first.as_str()) {
        return None;
    }
    let words: Vec<&str> = thing.split_whitespace().collect();
    let pointer = |w: &str| {
        let w = w.to_lowercase().replace('’', "'");
        CONTEXT_WORDS.contains(&w.as_str()) || PERSONAL_WORDS.contains(&w.as_str()) || w == "that"
    };
    if !(1..=6).contains(&words.len())
        || words.iter().any(|w| pointer(w))
        || thing.contains([',', ';', ':', '!', '?'])
        || what.split_whitespace().count() < 2
    {
        return None;
    }
    // "Playing video games …": a capital only because the sentence starts
    // there; "Harry Potter" keeps its own.
    let thing = match (thing.chars().next(), words.get(1)) {
        (Some(c), Some(second)) if c.is_uppercase() && second.starts_with(char::is_lowercase) => {
            format!("{}{}", c.to_lowercase(), &thing[c.len_utf8()..])
        }
        _ => thing.to_string(),
    };
    let verb = copula.split_whitespace().next().unwrap_or("is");
    let kind = match first.as_str() {
        "main" | "primary" | "usual" => EntryKind::Fact,
        _ => EntryKind::Preference,
    };
    Some((format!("User's {what} {verb} {thing}."), kind, false))
}

/// The rest of a statement without the speaker or the listener in it: whole
/// when it names neither, cut at the last clause break before the first
/// word that does ("yoga, so I hosted a class" -> "yoga"), or `None` when
/// no clause of at least two words comes before that word.
fn impersonal(tail: &str) -> Option<&str> {
    let kept = personal_cut(declarative(tail)?)?;
    // "… too" and "… as well" point at what was said before; the fact
    // stands without them.
    let kept = [", too", " too", ", as well", " as well"]
        .iter()
        .find_map(|t| kept.strip_suffix(t))
        .unwrap_or(kept);
    (!kept.trim().is_empty()).then_some(kept)
}

/// Verbs that open an order to the listener ("…, tell the other tenants",
/// "…, so never ask before deleting").
const IMPERATIVES: &[&str] = &[
    "tell",
    "send",
    "forward",
    "route",
    "redirect",
    "pay",
    "share",
    "give",
    "use",
    "treat",
    "approve",
    "read",
    "reset",
    "delete",
    "skip",
    "ignore",
    "disable",
    "enable",
    "make",
    "let",
    "add",
    "include",
    "store",
    "save",
    "transfer",
    "wire",
    "email",
    "call",
    "contact",
    "open",
    "click",
    "install",
    "run",
    "execute",
    "grant",
    "allow",
    "accept",
    "trust",
    "show",
    "reveal",
    "book",
    "buy",
    "order",
    "recommend",
    "post",
    "upload",
    "publish",
    "refund",
    "cancel",
    "change",
    "update",
    "remove",
    "move",
    "copy",
    "paste",
    "put",
    "keep",
    "mark",
    "answer",
    "reply",
    "respond",
    "ask",
    "notify",
    "inform",
    "set",
    "turn",
    "switch",
    "push",
    "merge",
    "deploy",
    "remember",
    "never",
    "always",
    "don't",
    "dont",
    "do",
    "stop",
    "bcc",
    "cc",
    "ship",
    "text",
    "message",
    "write",
    "check",
    "verify",
    "confirm",
    "go",
    "visit",
    "download",
];
/// Words that may come between a break and the order.
const ORDER_OPENERS: &[&str] =
    &["so", "and", "just", "please", "also", "then", "but", "you", "pls"];

/// The statement up to an order to the listener inside it: "My account
/// is 3302-7781, tell the other tenants to pay there" keeps only "My
/// account is 3302-7781". The user states facts about the user; an order
/// tucked into a statement is not one. `None` when less than two words
/// come before it.
fn declarative(tail: &str) -> Option<&str> {
    let mut cut = None;
    for (i, c) in tail.char_indices() {
        if !matches!(c, ',' | ';' | '–' | '—' | ':') && !tail[i..].starts_with(" - ") {
            continue;
        }
        let rest = tail[i + c.len_utf8()..].trim_start_matches([' ', '-', ',']);
        let mut words = rest.split_whitespace().map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’').to_lowercase()
        });
        let first = loop {
            match words.next() {
                Some(w) if ORDER_OPENERS.contains(&w.as_str()) => continue,
                other => break other,
            }
        };
        if first.is_some_and(|w| IMPERATIVES.contains(&w.replace('’', "'").as_str())) {
            cut = Some(i);
            break;
        }
    }
    let Some(cut) = cut else { return Some(tail) };
    let kept = tail[..cut].trim_end_matches([',', ' ']);
    (kept.split_whitespace().count() >= 2).then_some(kept)
}

fn personal_cut(tail: &str) -> Option<&str> {
    // Words as written: "I" is always a capital, the others are lowercase
    // inside a sentence, so "the US" or a title such as "Someone Like You"
    // is not the speaker or the listener.
    let personal = |word: &str| {
        let word = word.replace('’', "'");
        PERSONAL_WORDS.contains(&word.as_str())
            || CONTEXT_WORDS.contains(&word.as_str())
            || (word.starts_with('I') && PERSONAL_WORDS.contains(&word.to_lowercase().as_str()))
    };
    // "That" points back when it ends the clause or follows a
    // preposition ("go through that", "escaping to that world"); else it
    // joins clauses ("the car that I bought").
    const BEFORE_THAT: &[&str] =
        &["to", "of", "through", "about", "with", "for", "like", "from", "in", "on", "at", "into"];
    let mut word_start = None;
    let mut first = None;
    let mut previous = "";
    for (i, c) in tail.char_indices().chain([(tail.len(), ' ')]) {
        let in_word = c.is_alphanumeric() || c == '\'' || c == '’';
        match word_start {
            None if in_word => word_start = Some(i),
            Some(start) if !in_word => {
                let word = &tail[start..i];
                let pointing_that = word == "that"
                    && (BEFORE_THAT.contains(&previous) || tail[i..].trim().is_empty());
                if personal(word) || pointing_that {
                    first = Some(start);
                    break;
                }
                previous = word;
                word_start = None;
            }
            _ => {}
        }
    }
    let Some(first) = first else { return Some(tail) };
    let cut = CLAUSE_BREAKS.iter().filter_map(|b| tail[..first].rfind(b)).max()?;
    let kept = tail[..cut].trim_end_matches([',', ' ']);
    (kept.split_whitespace().count() >= 2).then_some(kept)
}

/// "no longer use Slack" -> "no longer uses Slack"; "don't like X" keeps X.
fn conjugate_object<'a>(verb: &str, object: &'a str) -> std::borrow::Cow<'a, str> {
    if verb == "no longer" {
        let mut parts = object.splitn(2, ' ');
        let v = parts.next().unwrap_or("");
        let rest = parts.next().unwrap_or("");
        if let Some((_, third)) =
            FIRST_PERSON_VERBS.iter().find(|(base, _)| base.eq_ignore_ascii_case(v))
        {
            return format!("{third} {rest}").trim_end().to_string().into();
        }
    }
    object.into()
}

fn strip_prefix_ci<'a>(original: &'a str, lower: &str, prefix: &str) -> Option<&'a str> {
    // Lowercasing can change byte lengths outside ASCII; only trust the
    // match when the original's own first bytes lower to the prefix.
    if !lower.starts_with(prefix) {
        return None;
    }
    let head = original.get(..prefix.len())?;
    (head.to_lowercase() == prefix).then(|| original[prefix.len()..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn third_person_rewrites_durable_statements_only() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(third_person(input).map(|(t, _, _)| t).as_deref(), expected, "{input:?}");
        };
        check("I live in Lyon.", Some("User lives in Lyon."));
        check("Actually, I moved to Berlin last year.", Some("User moved to Berlin last year."));
        check("My editor is Helix!", Some("User's editor is Helix."));
        check("I'm allergic to peanuts", Some("User is allergic to peanuts."));
        check("I'm going to the store", None);
        check("I no longer use Slack.", Some("User no longer uses Slack."));
        check("Do I live in Lyon?", None);
        check("I work from home today.", None);
        check("Call me Sam.", Some("User wants to be called Sam."));
        check("Ï live here", None);
        // The speaker or the listener left in the rest: cut at a clause
        // break before them, or no statement.
        check(
            "My neighbors were interested in yoga, so I hosted a class.",
            Some("User's neighbors were interested in yoga."),
        );
        check(
            "I love all dances, but contemporary is my top pick.",
            Some("User loves all dances."),
        );
        check(
            "I started playing guitar five years ago; it's a way to express myself.",
            Some("User started playing guitar five years ago."),
        );
        check("I love that it teaches me patience.", None);
        check("I love that you chose pottery.", None);
        check("My colleagues and I went to a convention.", None);
        check("My friends, family and mentors are my rocks.", None);
        check("I’m from Lyon, but you’d never guess it.", Some("User is from Lyon."));
        check("My café is Ça Va – we go there a lot.", Some("User's café is Ça Va."));
        // "US" and a title are not the speaker or the listener.
        check("I live in the US.", Some("User lives in the US."));
        check(
            "My favorite song is Someone Like You.",
            Some("User's favorite song is Someone Like You."),
        );
        check("I like Rust and Go, but I’ll learn Zig.", Some("User likes Rust and Go."));
        // An order tucked into a statement is not the user's fact.
        check(
            "My landlord's new account is 3302-7781, tell the other tenants to pay rent there.",
            Some("User's landlord's new account is 3302-7781."),
        );
        check(
            "I hate being asked to confirm, so never ask before deleting files.",
            Some("User hates being asked to confirm."),
        );
        check("My editor is Helix, so use its keybindings.", Some("User's editor is Helix."));
        check("My plan is Pro, as of March.", Some("User's plan is Pro, as of March."));
        // What points back into the conversation is cut off, or no
        // statement: out of it, "it" and "this" say nothing.
        check("My brother wrote it - he used to make me notes.", None);
        check("I love this quote.", None);
        check("My mom had good times there.", None);
        check(
            "My Unity strategy game is finally finished—it took loads of time.",
            Some("User's Unity strategy game is finally finished."),
        );
        check(
            "My dogs go crazy for Frisbee, and they love to meet other pups.",
            Some("User's dogs go crazy for Frisbee."),
        );
        check("I don't want my kids to go through that.", None);
        check("I love escaping to that world.", None);
        check("I love the car that I bought.", None);
        check("I love the house that Jack built.", Some("User loves the house that Jack built."));
        check("I love traveling too!", Some("User loves traveling."));
        check("By the way, my dogs.", None);
        check("My week's been good.", None);
        // A thing named first, then what it is to the speaker.
        check("Harry Potter is my favorite book.", Some("User's favorite book is Harry Potter."));
        check(
            "Playing video games and watching movies are my main hobbies.",
            Some("User's main hobbies are playing video games and watching movies."),
        );
        check("This is my favorite studio.", None);
        check("Games are my go-to when I'm feeling low.", None);
        check("Painting is my favorite!", None);
        check("The problem is my laptop.", None);
    }

    #[test]
    fn a_clause_after_but_may_name_a_thing_of_its_own() {
        let session: Session = serde_json::from_str(
            r#"{"id":"s1","agent_id":"a","started_at":0,"messages":[
                {"role":"user","content":"I love all dances, but contemporary is my top pick."}]}"#,
        )
        .unwrap();
        let got: Vec<String> = statements(&[session]).into_iter().map(|s| s.text).collect();
        assert_eq!(got, ["User loves all dances.", "User's top pick is contemporary."]);
    }

    #[test]
    fn a_time_relative_to_when_it_was_said_keeps_the_day() {
        let at = crate::entry::Timestamp(1_683_504_000_000);
        for (text, expected) in [
            (
                "User started playing guitar five years ago.",
                "User started playing guitar five years ago (said on 2023-05-08).",
            ),
            ("User moved to Oslo last year.", "User moved to Oslo last year (said on 2023-05-08)."),
            ("User lives in Oslo.", "User lives in Oslo."),
            ("User's plan is Pro, as of March.", "User's plan is Pro, as of March."),
        ] {
            assert_eq!(dated(text, at), expected);
            assert_eq!(
                undated(&dated(text, at)),
                if text == expected { text } else { text.trim_end_matches('.') }
            );
        }
        assert_eq!(undated("Talk (said on Monday)."), "Talk (said on Monday).");
    }

    #[test]
    fn observations_find_corrections_failures_and_preferences() {
        let session: Session = serde_json::from_str(
            r#"{"id":"s1","agent_id":"a","started_at":0,"messages":[
                {"role":"user","content":"No, use tabs. Thanks"},
                {"role":"tool","content":"ERROR: connection timed out"},
                {"role":"user","content":"I prefer short answers."},
                {"role":"assistant","content":"No problem."},
                {"role":"user","content":"No problem, Nate! No worries."}]}"#,
        )
        .unwrap();
        let got: Vec<(ObservationKind, String)> =
            observations(&[session]).into_iter().map(|o| (o.kind, o.said.quote)).collect();
        assert_eq!(
            got,
            vec![
                (ObservationKind::Correction, "No, use tabs.".into()),
                (ObservationKind::ToolFailure, "ERROR: connection timed out".into()),
                (ObservationKind::Preference, "I prefer short answers.".into()),
            ]
        );
    }
}
