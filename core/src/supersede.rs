//! Supersession: reading an entry as a claim about a subject's attribute, so
//! that a newer claim about the same slot with a different value retires
//! the older one, and cues such as "switched from X to Y" or "no longer"
//! retire what they name.

use crate::text::{hash_str, is_stopword, stem};

/// The slot a verb names when followed by one of its prepositions: a
/// person lives in one place and works for one employer at a time. "Works
/// on X" or "joined a gym" name no such slot.
fn exclusive_slot(verb: &str, next: Option<&&str>) -> Option<&'static str> {
    let next = *next?;
    match verb {
        "live" | "lives" | "lived" | "living" | "based" if next == "in" => Some("location"),
        "moved" | "relocated" if next == "to" => Some("location"),
        "work" | "works" | "working" if next == "at" || next == "for" => Some("employer"),
        "employed" if next == "at" || next == "by" => Some("employer"),
        _ => None,
    }
}

/// Words before a subject that are not the subject.
fn is_determiner(word: &str) -> bool {
    matches!(word, "the" | "a" | "an" | "our" | "their" | "his" | "her" | "my" | "actually" | "now" | "currently")
}

fn is_preposition(word: &str) -> bool {
    matches!(word, "in" | "at" | "to" | "for" | "by" | "on")
}

/// What an entry claims, read off its normalized text. `W` holds the
/// content-word hashes of its value (sorted, deduplicated): inline as
/// `claim_of` makes them, borrowed, or a `Span` of an array a pass keeps
/// for every claim, so a claim takes 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim<W = Words> {
    /// `subject`'s `attribute` has one current value.
    Slot { subject: u64, attribute: u64, value: W },
    /// "`subject` switched from `old` to `new`": retires claims naming `old`.
    Switch { subject: u64, old: W, attribute: u64 },
    /// "`subject` no longer `what`": retires claims containing `what`.
    Retract { subject: u64, what: W },
}

/// Content-word hashes of a claim's part: a handful, kept inline so a
/// million claims are not a million allocations.
pub type Words = smallvec::SmallVec<[u64; 4]>;

/// A claim with its words borrowed.
pub type ClaimRef<'a> = Claim<&'a [u64]>;

impl<W> Claim<W> {
    pub fn subject(&self) -> u64 {
        match self {
            Claim::Slot { subject, .. } | Claim::Switch { subject, .. } | Claim::Retract { subject, .. } => *subject,
        }
    }

    /// The words of the claim's part: a slot's value, a switch's old
    /// value, what a retraction retracts.
    pub fn words(&self) -> &W {
        match self {
            Claim::Slot { value: w, .. } | Claim::Switch { old: w, .. } | Claim::Retract { what: w, .. } => w,
        }
    }

    /// The same claim with other words.
    pub fn with_words<V>(&self, words: V) -> Claim<V> {
        match *self {
            Claim::Slot { subject, attribute, .. } => Claim::Slot { subject, attribute, value: words },
            Claim::Switch { subject, attribute, .. } => Claim::Switch { subject, old: words, attribute },
            Claim::Retract { subject, .. } => Claim::Retract { subject, what: words },
        }
    }
}

impl Claim {
    pub fn borrowed(&self) -> ClaimRef<'_> {
        self.with_words(&self.words()[..])
    }
}

fn content(words: &[&str]) -> Words {
    let mut v: Words =
        words.iter().filter(|w| !is_stopword(w) && !is_preposition(w)).map(|w| hash_str(stem(w))).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The subject of a claim: the caller's explicit subject if any, else the
/// first word that is not a determiner (possessive `s` folded: "users" and
/// "user" agree).
fn subject_of(explicit: Option<&str>, words: &[&str]) -> Option<u64> {
    if let Some(s) = explicit {
        let n = crate::text::normalize(s);
        if !n.is_empty() {
            return Some(hash_str(stem(&n)));
        }
    }
    words.iter().find(|w| !is_determiner(w)).map(|w| hash_str(stem(w)))
}

/// Reads the claim an entry makes, if it makes one this module understands.
pub fn claim_of(explicit_subject: Option<&str>, normalized: &str) -> Option<Claim> {
    // Claims are short sentences: read at most MAX_WORDS words into a
    // buffer on the stack, and make no claim about longer texts.
    const MAX_WORDS: usize = 40;
    let mut buffer = [""; MAX_WORDS];
    let mut n = 0;
    for w in normalized.split_ascii_whitespace() {
        if n == MAX_WORDS {
            return None;
        }
        buffer[n] = w;
        n += 1;
    }
    if n < 2 {
        return None;
    }
    let words = &buffer[..n];
    // One scan for every cue word, most texts have none of them.
    let (mut no_longer, mut switch, mut copula, mut negated) = (None, None, None, false);
    for (i, w) in words.iter().enumerate() {
        match *w {
            "longer" if i > 0 && words[i - 1] == "no" && no_longer.is_none() => no_longer = Some(i - 1),
            "switched" | "moved" | "changed" | "migrated" | "went" if switch.is_none() => switch = Some(i),
            "is" | "are" | "was" | "were" if copula.is_none() => copula = Some(i),
            _ => {}
        }
        negated = negated || crate::text::is_negation(w);
    }
    // "no longer X"
    if let Some(p) = no_longer {
        let subject = subject_of(explicit_subject, &words[..p])?;
        let what = content(&words[p + 2..]);
        return (!what.is_empty()).then_some(Claim::Retract { subject, what });
    }
    // "switched from X to Y"
    if let Some(v) = switch {
        if words.get(v + 1) == Some(&"from") {
            if let Some(to) = words[v + 2..].iter().position(|w| *w == "to").map(|t| t + v + 2) {
                let subject = subject_of(explicit_subject, &words[..v])?;
                let old = content(&words[v + 2..to]);
                let attribute = attribute_of_switch(&words[..v], words[v]);
                return (!old.is_empty()).then_some(Claim::Switch { subject, old, attribute });
            }
        }
    }
    if let Some((v, attribute)) =
        (0..words.len()).find_map(|v| exclusive_slot(words[v], words.get(v + 1)).map(|a| (v, a)))
    {
        if negated {
            return None;
        }
        let attribute = hash_str(attribute);
        let subject = subject_of(explicit_subject, &words[..v])?;
        let value = content(&words[v + 1..]);
        return (!value.is_empty()).then_some(Claim::Slot { subject, attribute, value });
    }
    // "<subject> <attribute words> is <value>", with at least one attribute
    // word: "user's editor is vim" is a slot, "alice is kind" is not.
    let c = copula?;
    if negated {
        return None;
    }
    let mut phrase = words[..c].iter().copied().filter(|w| !is_determiner(w));
    let first = phrase.next()?;
    // The attribute is the phrase after its first word, order-independent.
    let mut attribute = 0x5107u64;
    let mut attribute_words = 0;
    for w in phrase {
        attribute_words += 1;
        if !is_stopword(w) && !is_preposition(w) {
            attribute = attribute.wrapping_add(crate::text::mix(hash_str(stem(w))));
        }
    }
    if attribute_words == 0 {
        return None;
    }
    let subject = subject_of(explicit_subject, &[first])?;
    let value = content(&words[c + 1..]);
    (!value.is_empty()).then_some(Claim::Slot { subject, attribute, value })
}

/// "moved from A to B" is about location; "switched from A to B" is about
/// whatever the preceding words name, or a generic slot.
fn attribute_of_switch(before: &[&str], verb: &str) -> u64 {
    if verb == "moved" {
        return hash_str("location");
    }
    let _ = before;
    hash_str("switch")
}

/// How a newer claim bears on an older one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Same slot, different value: the newer replaces the older.
    Replaces,
    /// The newer names the older's value as abandoned.
    Retracts,
    Unrelated,
}

/// The subject an entry is about, as `claim_of` reads it.
pub fn subject_of_text(explicit_subject: Option<&str>, normalized: &str) -> Option<u64> {
    if explicit_subject.is_some() {
        return subject_of(explicit_subject, &[]);
    }
    normalized.split_ascii_whitespace().find(|w| !is_determiner(w)).map(|w| hash_str(stem(w)))
}

/// An older entry as supersession sees it.
pub struct Older<'a> {
    pub claim: Option<ClaimRef<'a>>,
    pub subject: Option<u64>,
    /// Sorted content-word hashes, as in `text::Features`.
    pub content: &'a [u64],
}

/// How `newer` bears on `older`.
pub fn relation(newer: ClaimRef<'_>, older: &Older<'_>) -> Relation {
    let contains_all = |what: &[u64]| what.iter().all(|w| older.content.binary_search(w).is_ok());
    if let Claim::Retract { subject, what } = newer {
        let retracts =
            older.subject == Some(subject) && !matches!(older.claim, Some(Claim::Retract { .. })) && contains_all(what);
        return if retracts { Relation::Retracts } else { Relation::Unrelated };
    }
    let Some(older_claim) = older.claim else { return Relation::Unrelated };
    match (newer, older_claim) {
        (
            Claim::Slot { subject: s1, attribute: a1, value: v1 },
            Claim::Slot { subject: s2, attribute: a2, value: v2 },
        ) if s1 == s2 && a1 == a2 => {
            // "vim" and "vim 9" or "set to vim" name the same value: only
            // values that each have words the other lacks differ.
            let (only_new, only_old) = (
                v1.iter().filter(|w| v2.binary_search(w).is_err()).count(),
                v2.iter().filter(|w| v1.binary_search(w).is_err()).count(),
            );
            if only_new > 0 && only_old > 0 {
                Relation::Replaces
            } else {
                Relation::Unrelated
            }
        }
        (Claim::Switch { subject: s1, old, .. }, Claim::Slot { subject: s2, value, .. }) if s1 == s2 => {
            if old.iter().any(|w| value.binary_search(w).is_ok()) {
                Relation::Replaces
            } else {
                Relation::Unrelated
            }
        }
        _ => Relation::Unrelated,
    }
}

/// Whether `newer` states the same slot as `older` and adds nothing to
/// its value ("vim" after "vim 9" does; "vim 9" after "vim" adds "9").
pub fn restates(newer: ClaimRef<'_>, older: ClaimRef<'_>) -> bool {
    match (newer, older) {
        (
            Claim::Slot { subject: s1, attribute: a1, value: v1 },
            Claim::Slot { subject: s2, attribute: a2, value: v2 },
        ) => s1 == s2 && a1 == a2 && v1.iter().all(|w| v2.binary_search(w).is_ok()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{normalize, Features};

    fn rel(newer: &str, older: &str) -> Relation {
        let n = claim_of(None, &normalize(newer)).expect("newer makes a claim");
        let o = claim_of(None, &normalize(older));
        let content = Features::of(older).content;
        let older = Older {
            claim: o.as_ref().map(Claim::borrowed),
            subject: subject_of_text(None, &normalize(older)),
            content: &content,
        };
        relation(n.borrowed(), &older)
    }

    #[test]
    fn restatements() {
        let restates = |newer: &str, older: &str| {
            let claim = |t: &str| claim_of(None, &normalize(t)).expect("makes a claim");
            super::restates(claim(newer).borrowed(), claim(older).borrowed())
        };
        assert!(restates("User's editor is vim.", "User's editor is Vim 9"));
        assert!(!restates("User's editor is Vim 9", "User's editor is Vim"));
        assert!(!restates("User's editor is Helix", "User's editor is Vim"));
        assert!(!restates("User's shell is Vim", "User's editor is Vim"));
        assert!(!restates("User switched from Helix to Vim", "User's editor is Vim"));
    }

    #[test]
    fn relations() {
        let check = |newer: &str, older: &str, expected: Relation| {
            assert_eq!(rel(newer, older), expected, "{newer:?} vs {older:?}");
        };
        check("The user's editor is Helix", "The user's editor is Vim", Relation::Replaces);
        check("User's editor is Vim", "User's editor is vim.", Relation::Unrelated);
        check("User's editor is Helix", "User's shell is zsh", Relation::Unrelated);
        check("User's editor is set to Vim 9", "User's editor is Vim", Relation::Unrelated);
        check("Alice lives in Berlin", "Alice lives in Paris", Relation::Replaces);
        check("Alice moved to Berlin", "Alice lives in Paris", Relation::Replaces);
        check("Bob lives in Berlin", "Alice lives in Paris", Relation::Unrelated);
        check("User switched from Vim to Helix", "User's editor is Vim", Relation::Replaces);
        check("User no longer uses Slack", "User uses Slack for team chat", Relation::Retracts);
        check("User no longer uses Slack", "User uses Teams for team chat", Relation::Unrelated);
        check("User no longer uses Slack", "Bob uses Slack", Relation::Unrelated);
        check("Alice works at Acme", "Alice works for Initech", Relation::Replaces);
    }

    #[test]
    fn sentences_without_a_slot_make_no_claim() {
        assert_eq!(claim_of(None, &normalize("Alice is kind")), None);
        assert_eq!(claim_of(None, &normalize("hello")), None);
        assert_eq!(claim_of(None, &normalize("Alice does not live in Paris")), None);
    }
}
