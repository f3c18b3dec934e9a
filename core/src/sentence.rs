//! Sentences, and the facts a rewording must keep. A sentence ends at `.`,
//! `!` or `?` followed by a space (or the end of the text), or at a line
//! break — but not at the period of a number ("$16.96", "v2.1.3"), of an
//! abbreviation ("Dr.", "U.S.", "a.m.", "e.g."), of an initial ("J. K.
//! Rowling"), inside a web address, or at an ellipsis that the sentence
//! goes on after ("wait... then"). When unsure it does not split: two
//! sentences read as one make a note harder to retire, never a fact wrong.

/// Words whose period does not end a sentence, without that period,
/// compared ignoring case: titles, common abbreviations and months.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "etc", "e.g", "i.e",
    "a.m", "p.m", "u.s", "u.k", "u.n", "e.u", "inc", "ltd", "co", "corp", "no", "nos", "approx",
    "dept", "est", "fig", "vol", "al", "cf", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "gen", "gov", "sen", "rep", "rev", "hon", "lt", "col",
    "capt", "sgt", "ave", "blvd", "rd", "mgr", "min", "max", "ed", "eds",
];

/// Where the sentence ends if the mark (`.`, `!` or `?`) at byte `i` of
/// `text` ends it: after the mark and any closing quotes or brackets. The
/// marks are ASCII, so `i` is a char boundary either side.
fn sentence_end(text: &str, i: usize) -> Option<usize> {
    let after = text[i + 1..].trim_start_matches(['"', '\'', ')', ']', '\u{2019}', '\u{201d}']);
    let end = text.len() - after.len();
    if !after.chars().next().is_none_or(char::is_whitespace) {
        return None;
    }
    let bytes = text.as_bytes();
    if bytes[i] != b'.' || after.is_empty() {
        return Some(end);
    }
    // An ellipsis ends the sentence only when a new one starts after it.
    if i > 0 && bytes[i - 1] == b'.' {
        return (!after.trim_start().chars().next().is_some_and(char::is_lowercase)).then_some(end);
    }
    let before = &text[..i];
    let start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace())
        .map_or(0, |(k, c)| k + c.len_utf8());
    let word = before[start..].trim_start_matches(|c: char| !c.is_alphanumeric());
    let mut letters = word.chars();
    let initial = letters.next().is_some_and(char::is_alphabetic) && letters.next().is_none();
    (!initial && !ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(word))).then_some(end)
}

/// Where the first sentence of `text` ends (after its mark, or its line
/// break), if it ends before the text does.
fn first_end(text: &str) -> Option<usize> {
    // The marks are ASCII, so bytes can be searched for them; a mark is
    // looked at closely only when one is found.
    text.bytes().enumerate().find_map(|(i, b)| match b {
        b'\n' => Some(i + 1),
        b'.' | b'!' | b'?' => sentence_end(text, i),
        _ => None,
    })
}

/// Whether `text` holds at most one sentence. Allocation-free, for hot
/// paths.
pub fn is_single_sentence(text: &str) -> bool {
    match first_end(text) {
        Some(end) => !text[end..].chars().any(char::is_alphanumeric),
        None => true,
    }
}

/// The sentences of `text`, trimmed; ones with no letter or digit are
/// dropped.
pub fn sentences(text: &str) -> Vec<&str> {
    each_sentence(text).collect()
}

/// `sentences`, one at a time, with no allocation.
fn each_sentence(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || loop {
        let current = rest?;
        let (s, next) = match first_end(current) {
            Some(end) => (current[..end].trim(), Some(&current[end..])),
            None => (current.trim(), None),
        };
        rest = next;
        if s.chars().any(char::is_alphanumeric) {
            return Some(s);
        }
    })
}

/// A word as a fact is compared: without the punctuation around it.
pub(crate) fn bare(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric())
}

/// The facts of `text` (see `each_fact`), as a list.
#[cfg(test)]
fn facts(text: &str, openers: bool) -> Vec<&str> {
    let mut out = Vec::new();
    each_fact(text, openers, |f| {
        out.push(f);
        true
    });
    out
}

/// What a rewording of `text` must keep as written: its numbers (any word
/// with a digit: "$16.96", "1,520.15", "v2.1", "10:30") and its names
/// (capitalized words, "I" aside). A sentence's first word is capitalized
/// anyway; with `openers` it counts unless it is a function word ("The",
/// "A", "We"), so "Alice" opening a sentence is a name (and so may
/// "Prefers" be, which only asks more of a rewording).
///
/// Hands each fact to `f` until it returns false; whether it never did.
/// No allocation: this runs for every merge.
fn each_fact<'t>(text: &'t str, openers: bool, mut f: impl FnMut(&'t str) -> bool) -> bool {
    for sentence in each_sentence(text) {
        for (k, word) in sentence.split_whitespace().map(bare).enumerate() {
            let number = word.bytes().any(|b| b.is_ascii_digit());
            let capital = word != "I" && word.chars().next().is_some_and(char::is_uppercase);
            let name = capital && (k > 0 || (openers && !is_function_word(word)));
            if (number || name) && !f(word) {
                return false;
            }
        }
    }
    true
}

/// The words of `text` that may be names, each once: lowercased, as first
/// written, and whether capitalized somewhere but at a sentence's start:
/// capitalized words ("I", stop words opening a sentence and words with a
/// digit aside), without a possessive "'s". A sentence's first word is
/// among them ("Umbrella renewed" but also "Deploys happen"): whether it
/// names something is for the caller to weigh.
pub fn names(text: &str) -> Vec<(String, &str, bool)> {
    let mut out: Vec<(String, &str, bool)> = Vec::new();
    for sentence in each_sentence(text) {
        for (k, word) in sentence.split_whitespace().enumerate() {
            let name = without_possessive(bare(word));
            let capital = name != "I" && name.chars().next().is_some_and(char::is_uppercase);
            if !capital || name.bytes().any(|b| b.is_ascii_digit()) {
                continue;
            }
            let lower = crate::text::normalize(name);
            match out.iter_mut().find(|(n, _, _)| *n == lower) {
                Some((_, _, inside)) => *inside |= k > 0,
                None if k > 0 || !crate::text::is_stopword(&lower) => {
                    out.push((lower, name, k > 0))
                }
                None => {}
            }
        }
    }
    out
}

/// `word` without a possessive "'s" ("Alice's" is "Alice").
pub(crate) fn without_possessive(word: &str) -> &str {
    word.strip_suffix("'s").or_else(|| word.strip_suffix("\u{2019}s")).unwrap_or(word)
}

/// Whether a capitalized word opening a sentence is a function word ("The",
/// "We").
fn is_function_word(word: &str) -> bool {
    lowercase_is(word, crate::text::is_stopword)
}

/// Whether `word`, lowercased, satisfies `test`, read without allocating:
/// the word lists it is tested against are short ASCII words, so a longer
/// or non-ASCII word never satisfies it.
pub(crate) fn lowercase_is(word: &str, test: impl FnOnce(&str) -> bool) -> bool {
    let mut buffer = [0u8; 16];
    if word.len() > buffer.len() || !word.is_ascii() {
        return false;
    }
    let lower = &mut buffer[..word.len()];
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower).is_ok_and(test)
}

/// Whether `result` keeps every fact (`facts`) of each of `sources`, word
/// for word (a name's ASCII case aside: "VS Code" is kept by "vs code"),
/// and as many negations ("not", "never", "no" …) as any one of them.
pub fn keeps_facts<'a>(
    sources: impl IntoIterator<Item = &'a str>,
    result: &str,
    openers: bool,
) -> bool {
    // A text keeps its own facts; merges mostly keep one of their texts.
    let mut words: Option<smallvec::SmallVec<[&str; 32]>> = None;
    let negations = |t: &str| t.split_whitespace().filter(|w| is_negation_word(w)).count();
    let mut kept_negations = None;
    sources.into_iter().filter(|s| *s != result).all(|s| {
        let words = words.get_or_insert_with(|| result.split_whitespace().map(bare).collect());
        each_fact(s, openers, |f| words.iter().any(|w| w.eq_ignore_ascii_case(f)))
            && negations(s) <= *kept_negations.get_or_insert_with(|| negations(result))
    })
}

/// Whether a word as written (any case, punctuation around it, "n't"
/// endings) negates; "No," answering someone does not.
fn is_negation_word(word: &str) -> bool {
    let w = bare(word);
    if w.eq_ignore_ascii_case("no") && word.ends_with([',', '!', '.', ';', ':']) {
        return false;
    }
    lowercase_is(w, crate::text::is_negation)
        || w.len() > 3 && (w.ends_with("n't") || w.ends_with("n\u{2019}t"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[&str]) {
        assert_eq!(sentences(text), expected, "{text:?}");
        assert_eq!(is_single_sentence(text), expected.len() <= 1, "{text:?}");
    }

    #[test]
    fn sentences_end_at_marks_followed_by_a_space() {
        check("One. Two! Three?\nFour", &["One.", "Two!", "Three?", "Four"]);
        check("...", &[]);
        check("", &[]);
        check("User lives in Lyon.", &["User lives in Lyon."]);
        check("Wow!!!", &["Wow!!!"]);
        check("Hi! I live in Lyon.", &["Hi!", "I live in Lyon."]);
        check("Café. ¡Olé!  ", &["Café.", "¡Olé!"]);
        check("¡Olé, café!  ", &["¡Olé, café!"]);
        check("Ends here.\u{00a0}Then more", &["Ends here.", "Then more"]);
        check("Trailing line\n", &["Trailing line"]);
        check("Done? É", &["Done?", "É"]);
        check("He said \"stop.\" Then he left.", &["He said \"stop.\"", "Then he left."]);
    }

    #[test]
    fn numbers_abbreviations_initials_and_addresses_do_not_end_sentences() {
        check(
            "Shares rose 4 cents, to $16.96. Volume was light.",
            &["Shares rose 4 cents, to $16.96.", "Volume was light."],
        );
        check(
            "The index closed at 1,520.15 after 91.0 points.",
            &["The index closed at 1,520.15 after 91.0 points."],
        );
        check("Version 2.0 ships; v1.2.3 is retired.", &["Version 2.0 ships; v1.2.3 is retired."]);
        check("Dr. Smith moved to the U.S. in May.", &["Dr. Smith moved to the U.S. in May."]);
        check("The call is at 4 p.m. on Friday.", &["The call is at 4 p.m. on Friday."]);
        check(
            "Books by J. K. Rowling, e.g. Harry Potter.",
            &["Books by J. K. Rowling, e.g. Harry Potter."],
        );
        check(
            "Docs at https://example.com/a.b?c=d. Read them.",
            &["Docs at https://example.com/a.b?c=d.", "Read them."],
        );
        check("Wait... then it worked. Fine.", &["Wait... then it worked.", "Fine."]);
        check("It stopped... Nobody knew why.", &["It stopped...", "Nobody knew why."]);
    }

    #[test]
    fn facts_are_numbers_and_names_as_written() {
        assert_eq!(
            facts("Shares of PeopleSoft rose to $16.96.", true),
            ["Shares", "PeopleSoft", "16.96"]
        );
        assert_eq!(facts("Shares of PeopleSoft rose to $16.96.", false), ["PeopleSoft", "16.96"]);
        assert_eq!(facts("Alice left. The man stayed.", true), ["Alice"]);
        assert_eq!(facts("The man is erasing a board. I agree.", true), Vec::<&str>::new());
        assert!(keeps_facts(["Rose to $16.96.", "Bob left."], "Rose to $16.96. Bob left.", true));
        assert!(
            !keeps_facts(["Rose to $16.96."], "Rose to $16. 96.", false),
            "a number split in two is lost"
        );
        assert!(!keeps_facts(["Call Alice at 10:30."], "Call Bob at 10:30.", false));
        assert!(!keeps_facts(["It scored 91.0."], "It scored 91.", false));
        assert!(!keeps_facts(["Use CET, not PST."], "Use CET and PST.", false));
        assert!(!keeps_facts(["Don't deploy on Fridays."], "Deploy on Fridays.", false));
        assert!(keeps_facts(["Never deploy on Fridays."], "No deploys on Fridays.", false));
        assert!(keeps_facts(["No, use CET, not PST."], "Use CET, not PST.", false));
        assert!(keeps_facts(
            ["Prefers dark mode in VS Code."],
            "prefers dark mode in vs code",
            true
        ));
    }
}
