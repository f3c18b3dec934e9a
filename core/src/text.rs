//! Text normalization and the features every similarity rule works on:
//! normalized words, content-word hashes, numbers, negation, MinHash
//! signatures.

/// MinHash signature length: 12 LSH bands of 2 rows.
pub const SIGNATURE_LEN: usize = 24;

/// Words that carry no content for similarity. Negations are deliberately
/// absent: "uses vim" and "no longer uses vim" must not look alike.
pub fn is_stopword(word: &str) -> bool {
    // A `match` on constant strings compiles to length checks and inline
    // integer compares; a loop over a slice of strings calls memcmp, and
    // this runs for every word of every entry.
    matches!(
        word,
        "a" | "about"
            | "all"
            | "also"
            | "an"
            | "and"
            | "any"
            | "are"
            | "as"
            | "at"
            | "be"
            | "been"
            | "but"
            | "by"
            | "can"
            | "could"
            | "did"
            | "do"
            | "does"
            | "for"
            | "from"
            | "had"
            | "has"
            | "have"
            | "he"
            | "her"
            | "hers"
            | "him"
            | "his"
            | "i"
            | "if"
            | "in"
            | "into"
            | "is"
            | "it"
            | "its"
            | "just"
            | "me"
            | "my"
            | "of"
            | "on"
            | "or"
            | "our"
            | "really"
            | "she"
            | "so"
            | "that"
            | "the"
            | "their"
            | "them"
            | "then"
            | "there"
            | "these"
            | "they"
            | "this"
            | "those"
            | "to"
            | "too"
            | "very"
            | "was"
            | "we"
            | "were"
            | "what"
            | "when"
            | "which"
            | "who"
            | "will"
            | "with"
            | "would"
            | "you"
            | "your"
    )
}

/// The number words two to ten ("one" is an article as often as a
/// number, so callers decide about it).
pub fn is_cardinal(word: &str) -> bool {
    matches!(word, "two" | "three" | "four" | "five" | "six" | "seven" | "eight" | "nine" | "ten")
}

/// Words that negate; "longer" for "no longer".
pub fn is_negation(word: &str) -> bool {
    matches!(
        word,
        "not"
            | "no"
            | "never"
            | "none"
            | "nobody"
            | "nothing"
            | "neither"
            | "nor"
            | "dont"
            | "doesnt"
            | "didnt"
            | "isnt"
            | "wasnt"
            | "cannot"
            | "cant"
            | "wont"
            | "arent"
            | "werent"
            | "hasnt"
            | "havent"
            | "hadnt"
            | "shouldnt"
            | "couldnt"
            | "wouldnt"
            | "mustnt"
            | "neednt"
            | "aint"
            | "without"
            | "longer"
    )
}

/// Lowercases, drops apostrophes (so "user's" and "users" agree), turns
/// every other non-alphanumeric run into one space, and trims.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// `normalize` into a buffer the caller reuses (cleared first), so a pass
/// over a million entries does not allocate a million strings.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else if !c.is_ascii() && c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else if c == '\'' || c == '’' {
            continue;
        } else {
            pending_space = true;
        }
    }
}

/// A light suffix stripper so "prefers"/"preferred"/"preferring" and
/// "prefer" agree. Crude on purpose: it only has to be consistent.
pub fn stem(word: &str) -> &str {
    if !word.is_ascii() || word.len() < 3 {
        return word;
    }
    let mut stem = word;
    for suffix in ["ing", "ed", "es", "s", "e"] {
        if let Some(stripped) = word.strip_suffix(suffix) {
            if stripped.len() >= 2 && !(suffix == "s" && stripped.ends_with('s')) {
                stem = stripped;
                break;
            }
        }
    }
    // "preferr" -> "prefer", "runn" -> "run"
    let b = stem.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && !b"aeiouls".contains(&b[b.len() - 1]) {
        stem = &stem[..stem.len() - 1];
    }
    stem
}

pub use crate::hash::{hash_str, mix};

/// Words of greeting and reaction that carry no durable information.
pub fn is_pleasantry(word: &str) -> bool {
    matches!(
        word,
        "amazing"
            | "awesome"
            | "bye"
            | "cool"
            | "glad"
            | "good"
            | "great"
            | "haha"
            | "hello"
            | "hey"
            | "hi"
            | "lol"
            | "nice"
            | "no"
            | "ok"
            | "okay"
            | "sure"
            | "thank"
            | "thanks"
            | "wow"
            | "yeah"
            | "yes"
            | "yep"
    )
}

/// Everything the similarity rules need to know about one text. `W` holds
/// the content words: inline by default, a slice when borrowed (see
/// `FeaturesRef`), or a `Span` of an array many texts share, as a pass
/// keeps them so that a million texts are one allocation, not a million.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Features<W = smallvec::SmallVec<[u64; 8]>> {
    /// Hash of the normalized text: equal texts, equal hashes.
    pub norm_hash: u64,
    /// Hashes of stemmed content words, sorted and deduplicated.
    pub content: W,
    /// One hash of the set of numbers in the text, 0 when it has none:
    /// rules only ask whether two texts name the same numbers, and a set
    /// of them per text would be a heap allocation per text.
    pub numbers: u64,
    pub negated: bool,
    /// Only greetings, reactions and function words, no numbers.
    pub no_information: bool,
}

/// Features with their content words borrowed.
pub type FeaturesRef<'a> = Features<&'a [u64]>;

/// Where a text's words lie in an array shared by many texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Appends `new` to `words`; where it now lies, or `None` (and `words`
    /// unchanged) when that is past `u32::MAX` entries.
    pub fn append(words: &mut Vec<u64>, new: &[u64]) -> Option<Span> {
        let span =
            Span { start: u32::try_from(words.len()).ok()?, len: u32::try_from(new.len()).ok()? };
        u32::try_from(words.len() + new.len()).ok()?;
        words.extend_from_slice(new);
        Some(span)
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

impl Features {
    pub fn of(text: &str) -> Features {
        Features::of_normalized(&normalize(text))
    }

    /// Features of an already normalized text.
    pub fn of_normalized(normalized: &str) -> Features {
        let mut content = smallvec::SmallVec::new();
        let f = scan(normalized, |h| content.push(h));
        content.sort_unstable();
        content.dedup();
        f.with_content(content)
    }

    pub fn borrowed(&self) -> FeaturesRef<'_> {
        self.with_content(&self.content[..])
    }
}

impl Features<Span> {
    /// Features of a normalized text, its content words appended to
    /// `words`; `None` when `words` would pass `u32::MAX` entries.
    pub fn append_normalized(normalized: &str, words: &mut Vec<u64>) -> Option<Features<Span>> {
        let start = words.len();
        let f = scan(normalized, |h| words.push(h));
        words[start..].sort_unstable();
        let mut kept = start;
        for k in start..words.len() {
            if kept == start || words[k] != words[kept - 1] {
                words[kept] = words[k];
                kept += 1;
            }
        }
        words.truncate(kept);
        let span =
            Span { start: u32::try_from(start).ok()?, len: u32::try_from(kept - start).ok()? };
        Some(f.with_content(span))
    }
}

impl<W> Features<W> {
    /// The same features with other content words.
    pub fn with_content<V>(&self, content: V) -> Features<V> {
        Features {
            norm_hash: self.norm_hash,
            content,
            numbers: self.numbers,
            negated: self.negated,
            no_information: self.no_information,
        }
    }
}

impl<W: AsRef<[u64]>> Features<W> {
    /// Jaccard similarity of the content-word sets.
    pub fn jaccard<V: AsRef<[u64]>>(&self, other: &Features<V>) -> f32 {
        let (a, b) = (self.content.as_ref(), other.content.as_ref());
        let common = intersection_len(a, b);
        let union = a.len() + b.len() - common;
        if union == 0 {
            return if self.norm_hash == other.norm_hash { 1.0 } else { 0.0 };
        }
        common as f32 / union as f32
    }
}

/// Reads a normalized text: hands each content word's hash to `push`
/// (unsorted, maybe repeated) and returns the rest of its features.
pub(crate) fn scan(normalized: &str, mut push: impl FnMut(u64)) -> Features<()> {
    let mut numbers: smallvec::SmallVec<[u64; 4]> = smallvec::SmallVec::new();
    let mut negated = false;
    let mut informative = false;
    for word in normalized.split_ascii_whitespace() {
        informative = informative || !(is_stopword(word) || is_pleasantry(word));
        if is_negation(word) {
            negated = true;
            push(hash_str(word));
        } else if word.bytes().any(|b| b.is_ascii_digit()) {
            let h = hash_str(word);
            numbers.push(h);
            push(h);
        } else if !is_stopword(word) {
            push(hash_str(stem(word)));
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    let no_information = numbers.is_empty() && !informative;
    // Sorted and deduplicated, so the same set gives the same hash.
    let numbers = numbers.iter().fold(0, |acc, &h| mix(acc ^ h).max(1));
    Features { norm_hash: hash_str(normalized), content: (), numbers, negated, no_information }
}

/// Size of the intersection of two sorted, deduplicated slices.
pub fn intersection_len(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// MinHash over the content hashes: slot `k` keeps the minimum of the
/// element hashes under the `k`-th hash function. The element hashes are
/// already avalanched, so each function is one multiply by an odd
/// constant keeping the high bits (multiplicative hashing). Empty input
/// gives all-max slots.
pub fn minhash(content: &[u64]) -> [u32; SIGNATURE_LEN] {
    let mut sig = [u32::MAX; SIGNATURE_LEN];
    for &h in content {
        for (slot, seed) in sig.iter_mut().zip(SEEDS) {
            let v = ((h ^ seed).wrapping_mul(seed | 1) >> 32) as u32;
            *slot = (*slot).min(v);
        }
    }
    sig
}

const SEEDS: [u64; SIGNATURE_LEN] = {
    let mut seeds = [0u64; SIGNATURE_LEN];
    let mut i = 0;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while i < SIGNATURE_LEN {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        // SplitMix64's finalizer, spelled out: `mix` is not const.
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        seeds[i] = z ^ (z >> 31);
        i += 1;
    }
    seeds
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_in_a_shared_array_match_features_held_inline() {
        let texts = [
            "Not 3 of the 3 cats, not one!",
            "",
            "hi thanks",
            "the the the",
            "Alice's editor is vim 9.1",
        ];
        let mut words = vec![7];
        for text in texts {
            let owned = Features::of(text);
            let shared =
                Features::append_normalized(&normalize(text), &mut words).expect("few words");
            assert_eq!(&words[shared.content.range()], &owned.content[..], "{text:?}");
            assert_eq!(shared.with_content(()), owned.with_content(()), "{text:?}");
        }
        assert_eq!(words[0], 7, "earlier words are left alone");
    }

    #[test]
    fn normalize_folds_case_punctuation_and_apostrophes() {
        let check =
            |input: &str, expected: &str| assert_eq!(normalize(input), expected, "{input:?}");
        check("The user's  favourite editor is Vim!", "the users favourite editor is vim");
        check("  --Hello,\tWORLD--  ", "hello world");
        check("Ünïcode ÉTÉ", "ünïcode été");
        check("", "");
        check("!!!", "");
    }

    #[test]
    fn paraphrases_score_above_unrelated_text() {
        let a = Features::of("The user prefers dark mode in the editor.");
        let b = Features::of("User preferred dark mode in editors");
        let c = Features::of("Deploys go out on Tuesdays.");
        assert!(a.jaccard(&b) > 0.99, "{}", a.jaccard(&b));
        assert!(a.jaccard(&c) < 0.01);
    }

    #[test]
    fn stem_agrees_across_inflections() {
        let check = |words: &[&str]| {
            let stems: Vec<&str> = words.iter().map(|w| stem(w)).collect();
            assert!(stems.windows(2).all(|w| w[0] == w[1]), "{words:?} -> {stems:?}");
        };
        check(&["prefer", "prefers", "preferred", "preferring"]);
        check(&["use", "uses", "used", "using"]);
        check(&["move", "moved", "moves", "moving"]);
        check(&["editor", "editors"]);
        check(&["class", "class"]);
    }

    #[test]
    fn negation_and_numbers_are_kept() {
        let f = Features::of("The user no longer uses port 8080");
        assert!(f.negated);
        assert_ne!(f.numbers, 0);
        assert_eq!(f.numbers, Features::of("8080 is the port, port 8080").numbers);
        assert_ne!(f.numbers, Features::of("port 8081").numbers);
        assert_ne!(Features::of("ports 80 and 8080").numbers, f.numbers);
        assert_eq!(Features::of("no port at all").numbers, 0);
    }
}
