//! Words and how they relate: base forms ("drunk" is "drink", "men" is
//! "man"), parts of speech, and synonyms and broader words ("slice" is a
//! way to "cut", "huge" is like "big"), from WordNet 3.0. The table is
//! built from Debian's `wordnet-base` by the build script (never
//! committed); WordNet 3.0 Copyright 2006 by Princeton University, used
//! under its license (see the README's credits).
//!
//! Layout, little-endian `u32`s: the format version; counts of words,
//! references and irregular forms; per word, sorted by key, the key (high
//! half of `hash_str`) and its flags with the index of its first
//! reference, then a closing record; the references, per word its own
//! synsets (first senses only) and then the broader ones (flagged); the
//! irregular forms as (form key, base key), sorted.

use smallvec::SmallVec;

use crate::hash::key32 as key;

static TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lexicon.bin"));

const VERSION: u32 = 1;
const NOUN: u32 = 1 << 24;
const VERB: u32 = 1 << 25;
const MODIFIER: u32 = 1 << 26;
const START: u32 = (1 << 24) - 1;
const BROADER: u32 = 1 << 31;

fn at(i: usize) -> u32 {
    let b = &TABLE[4 * i..4 * i + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Where the table's parts begin, in `u32`s.
struct Layout {
    words: usize,
    refs: usize,
    irregular: usize,
    irregular_count: usize,
}

fn layout() -> Layout {
    debug_assert_eq!(at(0), VERSION, "lexicon table of another format");
    let (words, refs, irregular) = (at(1) as usize, at(2) as usize, at(3) as usize);
    let refs_at = 4 + 2 * (words + 1);
    Layout { words, refs: refs_at, irregular: refs_at + refs, irregular_count: irregular }
}

/// The record of the word with this key, if the lexicon has it.
fn find(l: &Layout, k: u32) -> Option<usize> {
    let (mut lo, mut hi) = (0, l.words);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match at(4 + 2 * mid).cmp(&k) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(mid),
        }
    }
    None
}

fn flags(record: usize) -> u32 {
    at(4 + 2 * record + 1)
}

fn refs(l: &Layout, record: usize) -> impl Iterator<Item = u32> {
    let (start, end) = (flags(record) & START, flags(record + 1) & START);
    let base = l.refs;
    (start..end).map(move |i| at(base + i as usize))
}

/// The lexicon's words a written word may be: itself, and its base forms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lemmas(SmallVec<[u32; 3]>);

/// How the meanings of two words relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// One sense in common.
    Synonym,
    /// The first is a broader word for the second ("cut" and "slice").
    Broader,
    /// The first is a narrower word for the second.
    Narrower,
    Unrelated,
}

/// Endings that inflect a base form, with what replaces them, and the part
/// of speech the base must have.
const ENDINGS: &[(&str, &str, u32)] = &[
    ("ies", "y", NOUN | VERB),
    ("ches", "ch", NOUN),
    ("shes", "sh", NOUN),
    ("ses", "s", NOUN),
    ("xes", "x", NOUN),
    ("zes", "z", NOUN),
    ("men", "man", NOUN),
    ("es", "e", VERB),
    ("es", "", VERB),
    ("s", "", NOUN | VERB),
    ("ing", "e", VERB),
    ("ing", "", VERB),
    ("ed", "e", VERB),
    ("ed", "", VERB),
    ("est", "e", MODIFIER),
    ("est", "", MODIFIER),
    ("er", "e", MODIFIER),
    ("er", "", MODIFIER),
];

/// Reads a normalized (lowercase) word.
pub fn lemmas(word: &str) -> Lemmas {
    let l = layout();
    let mut out = Lemmas::default();
    let mut add = |record: usize| {
        if !out.0.contains(&(record as u32)) {
            out.0.push(record as u32);
        }
    };
    let k = key(word);
    if let Some(r) = find(&l, k) {
        add(r);
    }
    // Irregular forms: a run of pairs with the form's key.
    let (mut lo, mut hi) = (0, l.irregular_count);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if at(l.irregular + 2 * mid) < k {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    while lo < l.irregular_count && at(l.irregular + 2 * lo) == k {
        if let Some(r) = find(&l, at(l.irregular + 2 * lo + 1)) {
            add(r);
        }
        lo += 1;
    }
    if word.len() > 3 && word.is_ascii() {
        let mut base = String::with_capacity(word.len() + 2);
        for &(ending, with, pos) in ENDINGS {
            let Some(stem) = word.strip_suffix(ending) else { continue };
            if stem.len() < 2 {
                continue;
            }
            base.clear();
            base.push_str(stem);
            base.push_str(with);
            let mut found = find(&l, key(&base)).filter(|&r| flags(r) & pos != 0);
            // "running" is "run", "bigger" is "big".
            let b = stem.as_bytes();
            if found.is_none()
                && with.is_empty()
                && b.len() >= 3
                && b[b.len() - 1] == b[b.len() - 2]
            {
                found = find(&l, key(&stem[..stem.len() - 1])).filter(|&r| flags(r) & pos != 0);
            }
            if let Some(r) = found {
                add(r);
            }
        }
    }
    out
}

impl Lemmas {
    /// Not a word of the lexicon: a name, a typo, a term of art.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    fn is_known(&self) -> bool {
        !self.0.is_empty()
    }

    /// Whether the two are one word in some reading.
    pub fn same(&self, other: &Lemmas) -> bool {
        self.0.iter().any(|r| other.0.contains(r))
    }

    fn any(&self, flag: u32) -> bool {
        self.0.iter().any(|&r| flags(r as usize) & flag != 0)
    }

    /// Has an adjective or adverb sense: a word that can qualify another
    /// without adding a thing or an action.
    pub fn can_modify(&self) -> bool {
        self.any(MODIFIER)
    }

    pub fn can_be_verb(&self) -> bool {
        self.any(VERB)
    }

    pub fn can_be_noun(&self) -> bool {
        self.any(NOUN)
    }

    /// How the senses of two words relate, on their first senses only.
    pub fn relation(&self, other: &Lemmas) -> Relation {
        let l = layout();
        let collect = |w: &Lemmas| -> (SmallVec<[u32; 16]>, SmallVec<[u32; 16]>) {
            let (mut own, mut broader) = (SmallVec::new(), SmallVec::new());
            for &r in &w.0 {
                for x in refs(&l, r as usize) {
                    if x & BROADER != 0 {
                        broader.push(x & !BROADER);
                    } else {
                        own.push(x);
                    }
                }
            }
            (own, broader)
        };
        let (own_a, broader_a) = collect(self);
        let (own_b, broader_b) = collect(other);
        if own_a.iter().any(|s| own_b.contains(s)) {
            Relation::Synonym
        } else if broader_b.iter().any(|s| own_a.contains(s)) {
            Relation::Broader
        } else if broader_a.iter().any(|s| own_b.contains(s)) {
            Relation::Narrower
        } else {
            Relation::Unrelated
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: &str, b: &str) -> Relation {
        lemmas(a).relation(&lemmas(b))
    }

    #[test]
    fn base_forms_include_irregular_ones() {
        for (form, base) in [
            ("drunk", "drink"),
            ("men", "man"),
            ("children", "child"),
            ("cutting", "cut"),
            ("running", "run"),
            ("eaten", "eat"),
            ("held", "hold"),
            ("slicing", "slice"),
            ("dogs", "dog"),
            ("boxes", "box"),
            ("bigger", "big"),
        ] {
            assert!(lemmas(form).same(&lemmas(base)), "{form} is a form of {base}");
        }
        assert!(!lemmas("news").same(&lemmas("new")));
        assert!(!lemmas("zzyzxq").is_known());
    }

    #[test]
    fn synonyms_and_broader_words() {
        assert_eq!(rel("kid", "child"), Relation::Synonym);
        assert_eq!(rel("someone", "person"), Relation::Synonym);
        assert_eq!(rel("cut", "slice"), Relation::Broader);
        assert_eq!(rel("skillet", "pan"), Relation::Narrower);
        assert_eq!(rel("huge", "big"), Relation::Narrower);
        for (a, b) in [("man", "woman"), ("boy", "girl"), ("cat", "dog"), ("wet", "dry")] {
            assert_eq!(rel(a, b), Relation::Unrelated, "{a} / {b}");
        }
    }

    #[test]
    fn parts_of_speech() {
        assert!(lemmas("cold").can_modify());
        assert!(lemmas("quickly").can_modify());
        assert!(!lemmas("eat").can_modify());
        assert!(lemmas("eaten").can_be_verb());
        assert!(lemmas("tomatoes").is_known());
    }
}
