//! Whether two texts say the same thing, or one says everything the other
//! does and more, read word by word: the rules merge only such pairs.
//!
//! Words are matched as base forms ("drank" and "drinking"), synonyms and
//! broader words ("slicing" and "cutting"), a passive read as its active
//! ("a guitar is being played by a kid", "a kid is playing a guitar").
//! Words left over on one side only must be modifiers ("a cold lake") or
//! trail the shared words ("... in the editor"); words left over on both
//! sides ("a man" and "a woman", "sitting" and "standing") are different
//! facts. A negation, a number, a hedge ("probably", "former") or a word of
//! place ("in front of", "off") on one side only changes what the other
//! says, and the shared words must come in the same order: "the man in the
//! straw hat" is not "the straw man in the hat".

use smallvec::SmallVec;

use crate::lexicon::{lemmas, Lemmas, Relation};

/// What a text adds to the other, when they agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Each says what the other says.
    Same,
    /// The first says everything the second does, and more.
    FirstSaysMore,
    /// The second says everything the first does, and more.
    SecondSaysMore,
}

/// How a word takes part in a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Articles, auxiliaries, pronouns, most prepositions: not compared.
    Skip,
    /// Negations: must be on both sides.
    Polar,
    /// Numbers, in digits or words: must be on both sides, as written.
    Number,
    /// Words that weaken or shift a claim: never an addition that only
    /// says more.
    Hedge,
    /// Words of place and direction: must match when shared words
    /// surround them.
    Place,
    Content,
}

fn role(word: &str) -> Role {
    if crate::text::is_negation(word) {
        return Role::Polar;
    }
    if word.bytes().any(|b| b.is_ascii_digit()) || is_number_word(word) {
        return Role::Number;
    }
    if is_hedge(word) {
        return Role::Hedge;
    }
    if is_place(word) {
        return Role::Place;
    }
    // Intensifiers say more ("very near" is nearer than "near").
    if matches!(word, "very" | "really") {
        return Role::Content;
    }
    if crate::text::is_stopword(word)
        || matches!(
            word,
            "some"
                | "being"
                | "been"
                | "another"
                | "other"
                | "one"
                | "s"
                | "someone"
                | "somebody"
                | "several"
        )
    {
        return Role::Skip;
    }
    Role::Content
}

fn is_number_word(word: &str) -> bool {
    crate::text::is_cardinal(word)
        || matches!(
            word,
            "zero"
                | "eleven"
                | "twelve"
                | "twenty"
                | "thirty"
                | "forty"
                | "fifty"
                | "hundred"
                | "hundreds"
                | "thousand"
                | "thousands"
                | "million"
                | "millions"
                | "billion"
                | "dozen"
                | "dozens"
                | "pair"
                | "couple"
                | "half"
                | "both"
                | "single"
                | "double"
                | "twice"
                | "first"
                | "second"
                | "third"
                | "last"
        )
}

/// Words that make a claim weaker, conditional, past or other than it
/// reads without them.
fn is_hedge(word: &str) -> bool {
    matches!(
        word,
        "or" | "if"
            | "unless"
            | "until"
            | "except"
            | "only"
            | "but"
            | "maybe"
            | "perhaps"
            | "probably"
            | "possibly"
            | "likely"
            | "unlikely"
            | "apparently"
            | "allegedly"
            | "supposedly"
            | "reportedly"
            | "rarely"
            | "seldom"
            | "hardly"
            | "barely"
            | "almost"
            | "nearly"
            | "sometimes"
            | "occasionally"
            | "formerly"
            | "former"
            | "previously"
            | "previous"
            | "ex"
            | "fake"
            | "false"
            | "alleged"
            | "supposed"
            | "pseudo"
            | "mock"
            | "toy"
            | "might"
            | "may"
            | "should"
            | "must"
            | "could"
            | "would"
            | "can"
            | "will"
            | "want"
            | "wants"
            | "wanted"
            | "plan"
            | "plans"
            | "planned"
            | "try"
            | "tries"
            | "tried"
            | "trying"
    )
}

fn is_place(word: &str) -> bool {
    matches!(
        word,
        "off"
            | "about"
            | "out"
            | "up"
            | "down"
            | "over"
            | "under"
            | "above"
            | "below"
            | "behind"
            | "front"
            | "back"
            | "inside"
            | "outside"
            | "through"
            | "across"
            | "around"
            | "along"
            | "toward"
            | "towards"
            | "away"
            | "near"
            | "beside"
            | "between"
            | "against"
            | "onto"
            | "past"
            | "before"
            | "after"
            | "beneath"
            | "underneath"
            | "top"
            | "bottom"
            | "side"
            | "middle"
            | "opposite"
            | "within"
            | "beyond"
    )
}

fn is_be(word: &str) -> bool {
    matches!(word, "is" | "are" | "was" | "were" | "be" | "been" | "being")
}

/// Words that end an agent ("by a boy which is running").
fn ends_phrase(word: &str) -> bool {
    matches!(word, "which" | "who" | "that" | "and" | "while" | "as")
}

/// Texts longer than this many words are compared only when equal.
const MAX_WORDS: usize = 120;

struct Word<'a> {
    text: &'a str,
    role: Role,
    /// Read from the lexicon when first asked: most words of a pair
    /// match as written.
    lemmas: std::cell::OnceCell<Lemmas>,
}

/// The words of a normalized text in reading order, a few constructions
/// read as their plainer equivalents: "a pepper which is green" as "a
/// green pepper", "the trunk of a tree" as "the tree trunk", "a guitar is
/// being played by a kid" as "a kid is playing a guitar".
fn words(normalized: &str) -> Option<Vec<Word<'_>>> {
    let mut w: Vec<Word<'_>> = Vec::new();
    for text in normalized.split_ascii_whitespace() {
        if w.len() == MAX_WORDS {
            return None;
        }
        let role = role(text);
        w.push(Word { text, role, lemmas: std::cell::OnceCell::new() });
    }
    adjectives_before_nouns(&mut w);
    nouns_before_nouns(&mut w);
    active(&mut w);
    Some(w)
}

impl Word<'_> {
    fn lemmas(&self) -> &Lemmas {
        self.lemmas.get_or_init(|| {
            if self.role == Role::Content {
                lemmas(self.text)
            } else {
                Lemmas::default()
            }
        })
    }

    fn noun(&self) -> bool {
        self.role == Role::Content && (self.lemmas().can_be_noun() || self.lemmas().is_empty())
    }

    /// An adjective or adverb, not a verb's present participle ("taking"
    /// is an adjective too; "cooked" is a modifier either way).
    fn modifier(&self) -> bool {
        self.role == Role::Content
            && self.lemmas().can_modify()
            && !(self.text.ends_with("ing") && self.lemmas().can_be_verb())
    }

    fn verb_form(&self) -> bool {
        (self.text.ends_with("ing") || self.text.ends_with("ed")) && self.lemmas().can_be_verb()
    }

    fn is(&self, words: &[&str]) -> bool {
        words.contains(&self.text)
    }
}

/// Reorders `w` as `order` says (indices into `w`, each at most once;
/// those left out are dropped).
fn reorder(w: &mut Vec<Word<'_>>, order: impl IntoIterator<Item = usize>) {
    let mut slots: Vec<Option<Word<'_>>> = std::mem::take(w).into_iter().map(Some).collect();
    w.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// "a pepper which is green" reads "a green pepper"; "the dog, which is
/// black and white, is running" reads "the black and white dog is
/// running".
fn adjectives_before_nouns(w: &mut Vec<Word<'_>>) {
    let mut i = 1;
    while i + 2 < w.len() {
        if !(w[i].is(&["which", "who", "that"]) && w[i + 1].is(&["is", "are"]) && w[i - 1].noun()) {
            i += 1;
            continue;
        }
        let mut end = i + 2;
        while end < w.len() && (w[end].modifier() || w[end].is(&["and"]) && end > i + 2) {
            end += 1;
        }
        while end > i + 2 && w[end - 1].is(&["and"]) {
            end -= 1;
        }
        if end == i + 2 {
            i += 1;
            continue;
        }
        // The noun phrase the clause follows: "a guinea pig".
        let mut start = i - 1;
        while start > 0 && (w[start - 1].noun() || w[start - 1].modifier()) {
            start -= 1;
        }
        let n = w.len();
        reorder(w, (0..start).chain(i + 2..end).chain(start..i).chain(end..n));
        i = end - 2;
    }
}

/// "the trunk of a tree" reads "the tree trunk": a noun after "of",
/// heading its phrase, goes before the noun it follows (not a verb's form:
/// "taking a picture of a drawing").
fn nouns_before_nouns(w: &mut Vec<Word<'_>>) {
    let mut i = 1;
    while i + 1 < w.len() {
        // "a wall made of bricks" is "a brick wall".
        let made = w[i].is(&["of"]) && w[i - 1].is(&["made"]) && i >= 2;
        let n1 = if made { i - 2 } else { i - 1 };
        if !(w[i].is(&["of"]) && w[n1].noun() && !w[n1].verb_form()) {
            i += 1;
            continue;
        }
        let mut n2 = i + 1;
        while n2 < w.len() && w[n2].is(&["a", "an", "the", "some"]) {
            n2 += 1;
        }
        if n2 >= w.len()
            || !w[n2].noun()
            || w[n2].verb_form()
            || w.get(n2 + 1).is_some_and(Word::noun)
        {
            i += 1;
            continue;
        }
        let n = w.len();
        // "a group of people" is people; "a bunch of keys", keys.
        let head: &[usize] = if w[n1].is(&["group", "bunch"]) { &[] } else { &[n1] };
        reorder(w, (0..n1).chain([n2]).chain(head.iter().copied()).chain(n2 + 1..n));
        i += 1;
    }
}

/// A passive with its agent read as the active: "eggs are being cracked
/// into a bowl by the woman" reads "the woman are being cracked eggs into
/// a bowl", whose compared words run as in "the woman is cracking eggs
/// into a bowl".
fn active(w: &mut Vec<Word<'_>>) {
    let Some(be) = w.iter().position(|x| is_be(x.text)) else { return };
    // The participle: after "being" and adverbs, a form of a verb.
    let mut p = be + 1;
    while w.get(p).is_some_and(|x| is_be(x.text) || x.text.ends_with("ly")) {
        p += 1;
    }
    let Some(participle) = w.get(p) else { return };
    if be == 0 || participle.text.ends_with("ing") || !participle.lemmas().can_be_verb() {
        return;
    }
    let Some(by) = w[p + 1..].iter().take(8).position(|x| x.text == "by").map(|k| p + 1 + k) else {
        // No agent: "okra is being cooked in a pan" reads as "someone is
        // cooking okra in a pan" ("someone" is not compared).
        if w[be + 1].text == "being" {
            let n = w.len();
            reorder(w, (be..=p).chain(0..be).chain(p + 1..n));
        }
        return;
    };
    // The agent: up to a clause or a phrase of place ("by a group of
    // friends in a raft").
    let end = w[by + 1..]
        .iter()
        .enumerate()
        .position(|(k, x)| {
            ends_phrase(x.text)
                || k > 0 && x.is(&["in", "on", "at", "with", "near", "from", "into"])
        })
        .map_or(w.len(), |k| by + 1 + k);
    if end == by + 1 {
        return;
    }
    let n = w.len();
    reorder(w, (by + 1..end).chain(be..=p).chain(0..be).chain(p + 1..by).chain(end..n));
}

/// How two words match on a pass of `compare`: as written (or by a
/// light stem), as one base form, or as words alike in meaning (and then
/// which is broader).
fn matches(pass: usize, a: &Word<'_>, b: &Word<'_>) -> Option<Relation> {
    match pass {
        0 => (a.text == b.text || crate::text::stem(a.text) == crate::text::stem(b.text))
            .then_some(Relation::Synonym),
        1 => a.lemmas().same(b.lemmas()).then_some(Relation::Synonym),
        _ if a.role != Role::Content || b.role != Role::Content => None,
        _ => match a.lemmas().relation(b.lemmas()) {
            Relation::Unrelated => None,
            r => Some(r),
        },
    }
}

/// Whether shared words (the other text's positions, in this text's
/// order) come in the same order, or as two blocks of at least two words
/// swapped whole: "profits rose 10%, the company said" is "the company
/// said profits rose 10%", but "the dog chased the cat" is not "the cat
/// chased the dog", nor "the man in the straw hat" "the straw man in the
/// hat".
fn in_order(order: &[usize]) -> bool {
    let breaks: SmallVec<[usize; 4]> =
        (1..order.len()).filter(|&k| order[k] < order[k - 1]).take(2).collect();
    match breaks[..] {
        [] => true,
        [k] => {
            let (first, second) = order.split_at(k);
            first.len() >= 2 && second.len() >= 2 && second.iter().max() < first.iter().min()
        }
        _ => false,
    }
}

/// Compares two normalized texts; `None` when they differ or the rules
/// cannot tell.
pub fn compare(a: &str, b: &str) -> Option<Agreement> {
    if a == b {
        return Some(Agreement::Same);
    }
    let (wa, wb) = (words(a)?, words(b)?);
    let a_idx: SmallVec<[usize; 24]> =
        (0..wa.len()).filter(|&i| wa[i].role != Role::Skip).collect();
    let b_idx: SmallVec<[usize; 24]> =
        (0..wb.len()).filter(|&i| wb[i].role != Role::Skip).collect();
    let mut b_of: SmallVec<[Option<usize>; 24]> = SmallVec::from_elem(None, a_idx.len());
    let mut taken: SmallVec<[bool; 24]> = SmallVec::from_elem(false, b_idx.len());
    let (mut a_narrower, mut b_narrower) = (false, false);
    // The same word first, then words alike in meaning.
    for pass in 0..3 {
        // The lexicon is read only for words left over.
        if b_of.iter().all(Option::is_some) || taken.iter().all(|t| *t) {
            break;
        }
        for (x, &i) in a_idx.iter().enumerate() {
            if b_of[x].is_some() {
                continue;
            }
            for (y, &j) in b_idx.iter().enumerate() {
                if taken[y] {
                    continue;
                }
                if let Some(r) = matches(pass, &wa[i], &wb[j]) {
                    b_of[x] = Some(y);
                    taken[y] = true;
                    a_narrower |= r == Relation::Narrower;
                    b_narrower |= r == Relation::Broader;
                    break;
                }
            }
        }
    }
    let a_rest: SmallVec<[usize; 8]> =
        (0..a_idx.len()).filter(|&x| b_of[x].is_none()).map(|x| a_idx[x]).collect();
    let b_rest: SmallVec<[usize; 8]> =
        (0..b_idx.len()).filter(|&y| !taken[y]).map(|y| b_idx[y]).collect();
    if !a_rest.is_empty() && !b_rest.is_empty() {
        return None;
    }
    if a_rest.len() + b_rest.len() == 0 && a_idx.is_empty() {
        return None;
    }
    let order: SmallVec<[usize; 24]> = b_of.iter().flatten().copied().collect();
    if !in_order(&order) {
        return None;
    }
    // What one side adds must only add.
    let adds = |w: &[Word<'_>], rest: &[usize], shared: &[usize]| -> bool {
        let last_shared = shared.iter().copied().max();
        rest.iter().all(|&i| {
            let word = &w[i];
            match word.role {
                Role::Polar | Role::Number | Role::Hedge => false,
                Role::Skip => true,
                Role::Place => last_shared.is_none_or(|l| i > l),
                Role::Content => word.modifier() || last_shared.is_none_or(|l| i > l),
            }
        })
    };
    let a_shared: SmallVec<[usize; 24]> =
        (0..a_idx.len()).filter(|&x| b_of[x].is_some()).map(|x| a_idx[x]).collect();
    let b_shared: SmallVec<[usize; 24]> =
        (0..b_idx.len()).filter(|&y| taken[y]).map(|y| b_idx[y]).collect();
    if a_shared.is_empty() {
        return None;
    }
    let a_more = !a_rest.is_empty() || a_narrower;
    let b_more = !b_rest.is_empty() || b_narrower;
    match (a_more, b_more) {
        (false, false) => Some(Agreement::Same),
        (true, false) => adds(&wa, &a_rest, &a_shared).then_some(Agreement::FirstSaysMore),
        (false, true) => adds(&wb, &b_rest, &b_shared).then_some(Agreement::SecondSaysMore),
        (true, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    fn cmp(a: &str, b: &str) -> Option<Agreement> {
        compare(&normalize(a), &normalize(b))
    }

    #[test]
    fn rewordings_are_the_same() {
        for (a, b) in [
            ("A woman is slicing a tomato.", "A woman is slicing tomatoes."),
            ("A guitar is being played by a kid.", "A kid is playing a guitar."),
            ("The milk is being drunk by a cat.", "The cat is drinking some milk."),
            ("Okra is being cooked in a pan.", "Someone is cooking okra in a pan."),
            ("A woman is slicing a pepper which is green.", "A woman is slicing a green pepper."),
            ("The man is chopping the trunk of a tree.", "The man is chopping a tree trunk."),
            ("Profits rose sharply, the company said.", "The company said profits rose sharply."),
            ("Two young kids are eating corndogs.", "Two young children are eating corndogs."),
            ("The user prefers dark mode in the editor.", "User preferred dark mode in editors"),
        ] {
            assert_eq!(cmp(a, b), Some(Agreement::Same), "{a} / {b}");
        }
    }

    #[test]
    fn saying_more_is_kept_apart_from_saying_otherwise() {
        assert_eq!(
            cmp("A boy is standing in the cold water.", "A boy is standing in the water."),
            Some(Agreement::FirstSaysMore)
        );
        assert_eq!(
            cmp("A woman is cutting an onion.", "A woman is chopping an onion."),
            Some(Agreement::SecondSaysMore)
        );
        assert_eq!(
            cmp("The team deploys on Fridays.", "The team deploys on Fridays after the review."),
            Some(Agreement::SecondSaysMore)
        );
    }

    #[test]
    fn different_facts_are_not_merged() {
        for (a, b) in [
            ("A man is standing in a field.", "A woman is standing in a field."),
            ("Two boys are sitting on the floor.", "Two boys are standing on the floor."),
            (
                "Five children are standing in a wooden hut.",
                "Five children are standing in front of a wooden hut.",
            ),
            ("Three men are jumping on a wall.", "Three men are jumping off a wall."),
            (
                "Three boys in karate costumes aren't fighting.",
                "Three boys in karate costumes are fighting.",
            ),
            ("A man with a shirt is posing.", "A man without a shirt is posing."),
            (
                "The man in the hat is smoking a straw cigarette.",
                "The man in the straw hat is smoking a cigarette.",
            ),
            ("A person is cutting an onion.", "A person is eating a cut onion."),
            ("Alice is the CEO.", "Alice is the former CEO."),
            ("Alice pays Bob every month.", "Bob pays Alice every month."),
            ("The user prefers tea.", "The user prefers tea or coffee."),
            (
                "A waterfall is flowing into a shallow pool.",
                "A waterfall is flowing out of a shallow pool.",
            ),
        ] {
            assert_eq!(cmp(a, b), None, "{a} / {b}");
        }
    }
}
