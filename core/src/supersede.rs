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
        "work" | "works" | "working" | "worked" if next == "as" => Some("occupation"),
        _ => None,
    }
}

/// Words before a subject that are not the subject.
pub(crate) fn is_determiner(word: &str) -> bool {
    matches!(
        word,
        "the"
            | "a"
            | "an"
            | "our"
            | "their"
            | "his"
            | "her"
            | "my"
            | "actually"
            | "now"
            | "currently"
    )
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
            Claim::Slot { subject, .. }
            | Claim::Switch { subject, .. }
            | Claim::Retract { subject, .. } => *subject,
        }
    }

    /// The words of the claim's part: a slot's value, a switch's old
    /// value, what a retraction retracts.
    pub fn words(&self) -> &W {
        match self {
            Claim::Slot { value: w, .. }
            | Claim::Switch { old: w, .. }
            | Claim::Retract { what: w, .. } => w,
        }
    }

    /// The same claim with other words.
    pub fn with_words<V>(&self, words: V) -> Claim<V> {
        match *self {
            Claim::Slot { subject, attribute, .. } => {
                Claim::Slot { subject, attribute, value: words }
            }
            Claim::Switch { subject, attribute, .. } => {
                Claim::Switch { subject, old: words, attribute }
            }
            Claim::Retract { subject, .. } => Claim::Retract { subject, what: words },
        }
    }
}

impl Claim {
    #[cfg(test)]
    pub fn borrowed(&self) -> ClaimRef<'_> {
        self.with_words(&self.words()[..])
    }
}

fn content(words: &[&str]) -> Words {
    let mut v: Words = words
        .iter()
        .filter(|w| !is_stopword(w) && !is_preposition(w))
        .map(|w| hash_str(stem(w)))
        .collect();
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
    let first = words.iter().find(|w| !is_determiner(w) && !is_title(w))?;
    // "He", "it", "there", "in", "according": a pronoun or an opening
    // phrase is no subject a store can hold two claims about. "I" and
    // "we" are the user and their team.
    let real = matches!(*first, "i" | "we") || !(is_stopword(first) || *first == "according");
    real.then(|| hash_str(stem(first)))
}

/// Titles before a name ("Mr. Geoghan"): the name is the subject.
pub(crate) fn is_title(word: &str) -> bool {
    matches!(word, "mr" | "mrs" | "ms" | "dr" | "prof")
}

/// Words that report what someone said: the claim is the speaker's.
fn is_reporting(word: &str) -> bool {
    matches!(
        word,
        "said"
            | "says"
            | "say"
            | "told"
            | "tells"
            | "according"
            | "reported"
            | "stated"
            | "announced"
            | "added"
            | "quoted"
    )
}

/// A slot's value is a name, a number or a short phrase ("Pro", "vim 9",
/// "Berlin"); a longer one is a description, whose change the rules
/// cannot read as one value replacing another.
const MAX_VALUE_WORDS: usize = 6;

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
    let (mut qualifier, mut reported) = (false, false);
    for (i, w) in words.iter().enumerate() {
        match *w {
            w if is_qualifier(w) => qualifier = true,
            "longer" if i > 0 && words[i - 1] == "no" && no_longer.is_none() => {
                no_longer = Some(i - 1)
            }
            "switched" | "moved" | "changed" | "migrated" | "went" if switch.is_none() => {
                switch = Some(i)
            }
            "is" | "are" | "was" | "were" if copula.is_none() => copula = Some(i),
            w if is_reporting(w) => reported = true,
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
        if negated || reported {
            return None;
        }
        let attribute = hash_str(attribute);
        let subject = subject_of(explicit_subject, &words[..v])?;
        let value = content(&words[v + 1..]);
        return is_value(&value).then_some(Claim::Slot { subject, attribute, value });
    }
    if qualifier {
        if let Some(claim) = preference_claim(explicit_subject, words, negated) {
            return Some(claim);
        }
    }
    if let Some(claim) = count_claim(explicit_subject, words, negated) {
        return Some(claim);
    }
    // "<subject> <attribute words> is <value>", with at least one attribute
    // word: "user's editor is vim" is a slot, "alice is kind" is not.
    let c = copula?;
    if negated || reported {
        return None;
    }
    // "Two boys are playing a game", "Quattrone was charged": the verb
    // after the copula tells what happens, not the value of a slot.
    if words.get(c + 1).is_some_and(|w| is_participle(w)) {
        return None;
    }
    let mut phrase = words[..c].iter().copied().filter(|w| !is_determiner(w) && !is_title(w));
    let first = phrase.next()?;
    // A count or a quantifier ("two boys", "some people") is no subject.
    if is_quantity(first) {
        return None;
    }
    // The attribute is the phrase after its first word, order-independent;
    // it needs a word that names something ("Quattrone, 47, is" has none).
    let mut attribute = 0x5107u64;
    let mut naming_words = 0;
    for w in phrase {
        if !is_stopword(w) && !is_preposition(w) && !is_quantity(w) {
            naming_words += 1;
            attribute = attribute.wrapping_add(crate::text::mix(hash_str(stem(w))));
        }
    }
    if naming_words == 0 {
        return None;
    }
    let subject = subject_of(explicit_subject, &[first])?;
    let value = content(&words[c + 1..]);
    is_value(&value).then_some(Claim::Slot { subject, attribute, value })
}

fn is_value(words: &Words) -> bool {
    (1..=MAX_VALUE_WORDS).contains(&words.len())
}

/// A number, or a word that counts: no subject of its own.
pub(crate) fn is_quantity(word: &str) -> bool {
    word.bytes().any(|b| b.is_ascii_digit())
        || crate::text::is_cardinal(word)
        || matches!(
            word,
            "one"
                | "some"
                | "many"
                | "several"
                | "few"
                | "most"
                | "both"
                | "each"
                | "every"
                | "any"
                | "no"
                | "people"
                | "person"
                | "someone"
                | "somebody"
                | "group"
                | "couple"
                | "pair"
        )
}

/// Nouns ending like participles, which can be a slot's value.
const ING_NOUNS: &[&str] = &[
    "thing",
    "something",
    "nothing",
    "anything",
    "everything",
    "morning",
    "evening",
    "spring",
    "string",
    "king",
    "ring",
    "wedding",
    "building",
    "meeting",
    "ceiling",
    "clothing",
    "pudding",
    "darling",
    "sibling",
    "during",
];

/// Whether `word` is a present or past participle ("playing", "charged"),
/// as far as its ending tells.
fn is_participle(word: &str) -> bool {
    word.len() >= 5
        && (word.ends_with("ed") || (word.ends_with("ing") && !ING_NOUNS.contains(&word)))
}

/// Verbs of taste whose object is a kind of thing with a favourite
/// among its members.
fn is_preference_verb(word: &str) -> bool {
    matches!(
        word,
        "likes"
            | "like"
            | "loves"
            | "love"
            | "enjoys"
            | "enjoy"
            | "prefers"
            | "prefer"
            | "listens"
            | "listen"
            | "reads"
            | "read"
            | "plays"
            | "play"
            | "watches"
            | "watch"
            | "eats"
            | "eat"
            | "collects"
            | "collect"
            | "uses"
            | "use"
            | "drinks"
            | "drink"
    )
}

/// Words that single out members of the kind just named.
fn is_qualifier(word: &str) -> bool {
    matches!(word, "especially" | "mostly" | "particularly" | "mainly" | "chiefly" | "primarily")
}

/// "<subject> likes dogs, especially Labradors": a taste for a kind of
/// thing (many-valued: liking dogs excludes nothing) with a favourite
/// among them (one at a time). The slot is the subject's favourite of that
/// kind, its value what follows the qualifier.
fn preference_claim(
    explicit_subject: Option<&str>,
    words: &[&str],
    negated: bool,
) -> Option<Claim> {
    if negated {
        return None;
    }
    let v = words.iter().position(|w| is_preference_verb(w))?;
    let q = v + 1 + words[v + 1..].iter().position(|w| is_qualifier(w))?;
    let kind = content(&words[v + 1..q]);
    let value = content(&words[q + 1..]);
    if kind.is_empty() || value.is_empty() || q - v > 5 {
        return None;
    }
    let subject = subject_of(explicit_subject, &words[..v])?;
    let attribute = attribute_of("favourite of", &kind);
    Some(Claim::Slot { subject, attribute, value })
}

/// An attribute named by `what` of the things whose content-word hashes
/// are `words`, in any order.
fn attribute_of(what: &str, words: &[u64]) -> u64 {
    words.iter().fold(hash_str(what), |a, &w| a.wrapping_add(crate::text::mix(w)))
}

/// "<subject> has <number> <things>": how many of them the subject has is
/// a slot whose value is the number ("Alice has 2 cats", then "Alice has
/// 3 cats"). The things must be named and the subject must not be a count.
fn count_claim(explicit_subject: Option<&str>, words: &[&str], negated: bool) -> Option<Claim> {
    if negated {
        return None;
    }
    let v = words.iter().position(|w| matches!(*w, "has" | "have" | "owns" | "own"))?;
    let number = *words.get(v + 1)?;
    if !number.bytes().all(|b| b.is_ascii_digit()) || v == 0 {
        return None;
    }
    let things = content(&words[v + 2..]);
    let first = words[..v].iter().find(|w| !is_determiner(w))?;
    if things.is_empty() || is_quantity(first) {
        return None;
    }
    let subject = subject_of(explicit_subject, &words[..v])?;
    let attribute = attribute_of("count of", &things);
    let mut value = Words::new();
    value.push(hash_str(number));
    Some(Claim::Slot { subject, attribute, value })
}

/// "<question>? <answer>": the answer to a question is a slot whose subject
/// is the question. The answer is short and one sentence; the question has
/// at least three words. Read from the text as written (the `?` marks it).
pub fn answer_claim(text: &str) -> Option<Claim> {
    let q = text.find("? ")?;
    let (question, answer) = (&text[..q], text[q + 2..].trim());
    let answer = answer.trim_end_matches(['.', '!']);
    if answer.is_empty()
        || answer.contains(['?', '!'])
        || !crate::sentence::is_single_sentence(answer)
    {
        return None;
    }
    let question = crate::text::normalize(question);
    let answer = crate::text::normalize(answer);
    let answer_words: Vec<&str> = answer.split_ascii_whitespace().collect();
    if question.split_ascii_whitespace().count() < 3
        || answer_words.is_empty()
        || answer_words.len() > 12
    {
        return None;
    }
    // Every word of a short answer counts, "the" and "no" included.
    let mut value: Words = answer_words.iter().map(|w| hash_str(stem(w))).collect();
    value.sort_unstable();
    value.dedup();
    Some(Claim::Slot { subject: hash_str(&question), attribute: hash_str("answer to"), value })
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
        let retracts = older.subject == Some(subject)
            && !matches!(older.claim, Some(Claim::Retract { .. }))
            && contains_all(what);
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
        (Claim::Switch { subject: s1, old, .. }, Claim::Slot { subject: s2, value, .. })
            if s1 == s2 =>
        {
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
    fn actions_counts_and_opening_words_are_no_slot() {
        let none = |t: &str| assert_eq!(claim_of(None, &normalize(t)), None, "{t:?}");
        none("Two boys are playing a video game");
        none("Two boys are doing martial arts on a blue mat");
        none("The man is erasing the chalkboard");
        none("Quattrone, 47, was charged with obstruction");
        none("Some people are waiting for the bus");
        assert!(claim_of(None, &normalize("The team's meeting is in the morning")).is_some());
        assert!(claim_of(None, &normalize("Her favourite season is spring")).is_some());
        check_relation(
            "Alice likes dogs, especially Golden Retrievers.",
            "Alice likes dogs, especially Labradors.",
            Relation::Replaces,
        );
        check_relation(
            "Alice likes cats, especially Siamese.",
            "Alice likes dogs, especially Labradors.",
            Relation::Unrelated,
        );
        check_relation(
            "Bob likes dogs, especially Beagles.",
            "Alice likes dogs, especially Labradors.",
            Relation::Unrelated,
        );
        assert_eq!(
            claim_of(None, &normalize("Alice likes dogs")),
            None,
            "liking a kind names no favourite"
        );
        check_relation(
            "Alice has 3 cats at home.",
            "Alice has 2 cats at home.",
            Relation::Replaces,
        );
        check_relation(
            "Alice has 3 dogs at home.",
            "Alice has 2 cats at home.",
            Relation::Unrelated,
        );
        check_relation("Bob has 3 cats at home.", "Alice has 2 cats at home.", Relation::Unrelated);
        assert_eq!(
            claim_of(None, &normalize("Two boys have 3 balls")),
            None,
            "a count is no subject"
        );
        check_relation("Alice works as a pilot.", "Alice works as a nurse.", Relation::Replaces);
    }

    fn check_relation(newer: &str, older: &str, expected: Relation) {
        assert_eq!(rel(newer, older), expected, "{newer:?} vs {older:?}");
    }

    #[test]
    fn reported_speech_pronouns_and_descriptions_are_no_slot() {
        let none = |t: &str| assert_eq!(claim_of(None, &normalize(t)), None, "{t:?}");
        // The claim is the speaker's, about something the store cannot name.
        none("He said it was a mistake, and he reimbursed the party.");
        none("The judge said Congress is the best forum for the issue.");
        none("\"This case was both challenging and exhausting,\" said the foreman.");
        // A pronoun or an opening phrase is no subject.
        none("It is too early to know whether a second wave might occur.");
        none("In all, more than 70,000 troops based in Southern California were deployed.");
        none("According to Sanmina, Newisys, based in Austin, will become a subsidiary.");
        // A value of many words is a description, not one value.
        none("Southwest's traffic was up 4.6 percent in the quarter on a capacity increase.");
        // A title is not the subject: the name after it is.
        check_relation(
            "Mr. Mask lives in Trenton.",
            "Mr. Geoghan lives in Boston.",
            Relation::Unrelated,
        );
        check_relation("Dr. Lee lives in Oslo.", "Dr. Lee lives in Bergen.", Relation::Replaces);
        // The user and their team speak of themselves in the first person.
        check_relation("I moved to Munich.", "I live in Berlin.", Relation::Replaces);
    }

    #[test]
    fn answers_to_one_question_are_one_slot() {
        let claim = |t: &str| answer_claim(t).expect("an answer claim");
        let (a, b) = (
            claim("How many series of Diary of a Wimpy Kid are there? 14"),
            claim("How many series of Diary of a Wimpy Kid are there? 15"),
        );
        assert!(!restates(b.borrowed(), a.borrowed()));
        let older = Older { claim: Some(a.borrowed()), subject: None, content: &[] };
        assert_eq!(relation(b.borrowed(), &older), Relation::Replaces);
        let other = claim("Who won the last World Cup? Argentina");
        let older = Older { claim: Some(other.borrowed()), subject: None, content: &[] };
        assert_eq!(relation(b.borrowed(), &older), Relation::Unrelated);
        assert_eq!(answer_claim("Why? Because."), None, "too short a question");
        assert_eq!(
            answer_claim("Did it work? Yes. Then it broke."),
            None,
            "the answer is one sentence"
        );
        assert_eq!(answer_claim("The user likes tea."), None);
    }

    #[test]
    fn sentences_without_a_slot_make_no_claim() {
        assert_eq!(claim_of(None, &normalize("Alice is kind")), None);
        assert_eq!(claim_of(None, &normalize("hello")), None);
        assert_eq!(claim_of(None, &normalize("Alice does not live in Paris")), None);
    }
}
