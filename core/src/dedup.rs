//! Duplicate detection at scale: exact duplicates by normalized text, and
//! near-duplicate candidates by MinHash with LSH banding, each candidate
//! verified by its content-word Jaccard. No all-pairs scan: work grows with
//! the number of entries and the size of their buckets.

use rustc_hash::{FxHashMap, FxHashSet};

pub use crate::groups::{Groups, UnionFind};
use crate::radix::{radix_sort_bits, radix_sort_keys};
use crate::text::{Features, FeaturesRef, SIGNATURE_LEN};

/// LSH rows per band; `SIGNATURE_LEN / ROWS` bands. With 2 rows and 12
/// bands a pair of Jaccard 0.5 becomes a candidate with probability 0.97,
/// one of 0.3 with 0.68, and one of 0.1 with 0.11.
const ROWS: usize = 2;
const BANDS: usize = SIGNATURE_LEN / ROWS;
/// Buckets larger than this are skipped: they gather items alike only in
/// common words, and comparing their members would make the pass quadratic.
const MAX_BUCKET: usize = 8;
/// Bits of an LSH bucket hash.
const BUCKET_BITS: u32 = 30;
/// Items `similar_pairs` can index: bucket keys carry the index in 24 bits.
pub const MAX_ITEMS: usize = 1 << 24;
/// The low bits of a packed key that carry the item index.
pub(crate) const INDEX_MASK: u64 = (MAX_ITEMS as u64) - 1;

/// A content-word set in 16 bytes, from which an upper bound of the
/// Jaccard of two sets follows without reading either set. Candidates are
/// checked against the bound first: most LSH candidates share a word or
/// two by chance, and their sketches, a dense array a sixteenth the size of
/// the items, stay in cache where the items do not.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Sketch {
    /// One bit per word, chosen by the top six bits of its hash.
    mask: u64,
    words: u32,
    /// Words whose bit another word of the set already set.
    hidden: u32,
}

impl Sketch {
    fn of(content: &[u64]) -> Sketch {
        let mask = content.iter().fold(0u64, |m, &h| m | 1 << (h >> 58));
        let words = content.len() as u32;
        Sketch { mask, words, hidden: words - mask.count_ones() }
    }

    /// At least the Jaccard of the two sets. The words both hold set bits
    /// both masks have; where two shared words share a bit, one is hidden
    /// in each set, and neither set hides more than its `hidden`. Computed
    /// as `Features::jaccard` computes it, which grows with the common
    /// count, so the bound holds in floating point too.
    fn jaccard_bound(&self, other: &Sketch) -> f32 {
        let shared = (self.mask & other.mask).count_ones() + self.hidden.min(other.hidden);
        let common = shared.min(self.words).min(other.words);
        let union = self.words + other.words - common;
        if union == 0 {
            1.0
        } else {
            common as f32 / union as f32
        }
    }
}

/// Texts' features by index: a slice of `Features`, or a pass's items,
/// whose content words share one array.
pub trait FeatureTable {
    /// How many texts the table holds.
    fn count(&self) -> usize;
    fn features(&self, i: usize) -> FeaturesRef<'_>;
}

impl FeatureTable for [Features] {
    fn count(&self) -> usize {
        self.len()
    }
    fn features(&self, i: usize) -> FeaturesRef<'_> {
        self[i].borrowed()
    }
}

/// Two items (indices into the caller's table, `a < b`) and their score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimilarPair {
    pub a: usize,
    pub b: usize,
    pub score: f32,
}

/// Groups of items whose normalized text is identical (groups of two or
/// more, each sorted, ordered by first member). Texts are compared by a
/// 64-bit hash of the normalized text together with their content-word set
/// (numbers included) and negation, so a hash collision alone cannot group
/// two texts.
pub fn exact_groups(items: &(impl FeatureTable + ?Sized)) -> Groups {
    let features = |i: usize| items.features(i);
    // Radix-sorted like the LSH buckets: top 40 bits of the hash, index in
    // the low 24; `same` below settles what 40 bits cannot.
    let mut packed: Vec<u64> = (0..items.count().min(MAX_ITEMS))
        .map(|i| (features(i).norm_hash & !INDEX_MASK) | i as u64)
        .collect();
    radix_sort_keys(&mut packed, &mut Vec::new());
    let same = |x: usize, y: usize| {
        let (a, b) = (features(x), features(y));
        a.norm_hash == b.norm_hash && a.content == b.content && a.negated == b.negated
    };
    // Groups as found (in hash order) in one array, with their first
    // members, then laid out by first member.
    let mut found: Vec<usize> = Vec::new();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let (mut rest, mut others): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for run in packed.chunk_by(|x, y| (x ^ y) & !INDEX_MASK == 0).filter(|run| run.len() >= 2) {
        rest.clear();
        rest.extend(run.iter().map(|&k| (k & INDEX_MASK) as usize));
        while rest.len() >= 2 {
            let (first, start) = (rest[0], found.len());
            others.clear();
            for &i in &rest {
                if same(first, i) {
                    found.push(i);
                } else {
                    others.push(i);
                }
            }
            if found.len() - start >= 2 {
                spans.push((first, start, found.len()));
            } else {
                found.truncate(start);
            }
            std::mem::swap(&mut rest, &mut others);
        }
    }
    spans.sort_unstable();
    let mut groups =
        Groups { members: Vec::with_capacity(found.len()), ends: Vec::with_capacity(spans.len()) };
    for (_, start, end) in spans {
        groups.members.extend_from_slice(&found[start..end]);
        groups.ends.push(groups.members.len());
    }
    groups
}

/// Pairs of items with content Jaccard `>= min_score`, found through LSH
/// candidates, sorted by `(a, b)`. Items with no content words are skipped
/// (exact matching covers them), and so are items past `MAX_ITEMS`.
pub fn similar_pairs(items: &(impl FeatureTable + ?Sized), min_score: f32) -> Vec<SimilarPair> {
    let features = |i: usize| items.features(i);
    let mut candidates: Vec<u64> = Vec::new();
    // A band keeps a 30-bit bucket hash per item with content words, in
    // item order, and `indexed` the items they belong to: all bands are
    // computed in one pass over the items, at 4 bytes an item a band. Two
    // items whose hashes agree by chance make a candidate that
    // verification then drops.
    let n = items.count().min(MAX_ITEMS);
    let mut bands: Vec<Vec<u32>> = (0..BANDS).map(|_| Vec::with_capacity(n)).collect();
    let mut indexed: Vec<u32> = Vec::with_capacity(n);
    let mut sketches = vec![Sketch::default(); n];
    for (i, sketch) in sketches.iter_mut().enumerate() {
        let f = features(i);
        if f.content.is_empty() {
            continue;
        }
        *sketch = Sketch::of(f.content);
        indexed.push(i as u32);
        // Signatures are made here, used once, and never stored.
        let signature = crate::text::minhash(f.content);
        for (band, hashes) in bands.iter_mut().enumerate() {
            let mut key = band as u64;
            for &r in &signature[band * ROWS..(band + 1) * ROWS] {
                key = crate::text::mix(key ^ u64::from(r)).wrapping_add(u64::from(r));
            }
            hashes.push((key >> (64 - BUCKET_BITS)) as u32);
        }
    }
    // A band's buckets: its hashes sorted with the item each belongs to in
    // the low 32 bits, then read off in runs of one hash.
    let mut keyed: Vec<u64> = Vec::with_capacity(indexed.len());
    let mut scratch = Vec::new();
    for hashes in bands {
        keyed.clear();
        keyed.extend(hashes.iter().zip(&indexed).map(|(&h, &i)| u64::from(h) << 32 | u64::from(i)));
        drop(hashes);
        radix_sort_bits(&mut keyed, &mut scratch, 32, BUCKET_BITS);
        for run in keyed.chunk_by(|x, y| x >> 32 == y >> 32) {
            // A bucket this full holds items alike only in common words:
            // true near-duplicates share rarer words too and meet in
            // another band, so the bucket is skipped (a stop-bucket).
            if run.len() < 2 || run.len() > MAX_BUCKET {
                continue;
            }
            for (k, &x) in run.iter().enumerate() {
                for &y in &run[k + 1..] {
                    candidates.push(pack(x as u32, y as u32));
                }
            }
        }
    }
    // Pairs pack two 24-bit indices into 48 bits.
    radix_sort_bits(&mut candidates, &mut scratch, 0, 48);
    candidates.dedup();
    let mut pairs = Vec::new();
    for batch in candidates.chunks(BATCH) {
        // A batch at a time, each step for every pair before the next step:
        // the bounds (two sketch loads each, no branch), then a word of each
        // text that passed, then the comparisons. The loads of a step are
        // independent, so on a table larger than the cache their waits on
        // memory overlap; pair after pair, each branch would stall on them.
        let mut bounds = [0f32; BATCH];
        for (bound, &p) in bounds.iter_mut().zip(batch) {
            let (a, b) = unpack(p);
            *bound = sketches[a].jaccard_bound(&sketches[b]);
        }
        let mut first_words = 0;
        for (&bound, &p) in bounds.iter().zip(batch) {
            if bound >= min_score {
                let (a, b) = unpack(p);
                first_words ^= features(a).content.first().copied().unwrap_or(0);
                first_words ^= features(b).content.first().copied().unwrap_or(0);
            }
        }
        std::hint::black_box(first_words);
        for (&bound, &p) in bounds.iter().zip(batch) {
            let (a, b) = unpack(p);
            if bound < min_score {
                continue;
            }
            let score = features(a).jaccard(&features(b));
            if score >= min_score {
                pairs.push(SimilarPair { a, b, score });
            }
        }
    }
    pairs
}

/// For each query, whether some text of `table` has a content Jaccard of
/// at least `min_score` with it. Exact, unlike LSH, and without comparing
/// every query with every text: by prefix filtering (Chaudhuri et al.,
/// "A Primitive Operator for Similarity Joins in Data Cleaning", ICDE
/// 2006). Order every set's words rarest first. Two sets of Jaccard at
/// least `min_score` share at least `o` words, `o` the least overlap the
/// score allows for either set's size alone; then the rarest word they
/// share lies among the first `len - o + 1` words of each. So each text is
/// indexed under those first words, each query looks only there, and the
/// few texts found are compared in full.
pub fn any_similar(
    table: &[FeaturesRef<'_>],
    queries: &[FeaturesRef<'_>],
    min_score: f32,
) -> Vec<bool> {
    // No score reaches more than 1 (or NaN); every score reaches 0.
    if min_score.is_nan() || min_score > 1.0 {
        return vec![false; queries.len()];
    }
    if min_score <= 0.0 {
        return vec![!table.is_empty(); queries.len()];
    }
    // The least overlap of a set of `len` words with one it has a score of
    // `min_score` with: the score is at most overlap / len, computed as
    // `Features::jaccard` computes it.
    let least_overlap = |len: usize| (0..=len).find(|&o| o as f32 / len as f32 >= min_score);
    let mut frequency: FxHashMap<u64, u32> = FxHashMap::default();
    for t in table {
        for &w in t.content {
            *frequency.entry(w).or_default() += 1;
        }
    }
    let rarest_first = |content: &[u64], words: &mut Vec<(u32, u64)>| {
        words.clear();
        words.extend(content.iter().map(|&w| (frequency.get(&w).copied().unwrap_or(0), w)));
        words.sort_unstable();
    };
    // (word, text) for the first words of every text; texts with no
    // content words by their normalized text, the only thing that can
    // make their score reach `min_score`.
    let mut postings: Vec<(u64, u32)> = Vec::new();
    let mut empty: FxHashSet<u64> = FxHashSet::default();
    let mut words = Vec::new();
    for (k, t) in table.iter().enumerate() {
        if t.content.is_empty() {
            empty.insert(t.norm_hash);
            continue;
        }
        let Some(o) = least_overlap(t.content.len()) else { continue };
        rarest_first(t.content, &mut words);
        postings.extend(words[..t.content.len() - o + 1].iter().map(|&(_, w)| (w, k as u32)));
    }
    postings.sort_unstable();
    let mut candidates: Vec<u32> = Vec::new();
    queries
        .iter()
        .map(|q| {
            if q.content.is_empty() {
                return empty.contains(&q.norm_hash);
            }
            let Some(o) = least_overlap(q.content.len()) else { return false };
            rarest_first(q.content, &mut words);
            candidates.clear();
            for &(_, w) in &words[..q.content.len() - o + 1] {
                let start = postings.partition_point(|&(pw, _)| pw < w);
                candidates.extend(
                    postings[start..].iter().take_while(|&&(pw, _)| pw == w).map(|&(_, k)| k),
                );
            }
            candidates.sort_unstable();
            candidates.dedup();
            candidates.iter().any(|&k| table[k as usize].jaccard(q) >= min_score)
        })
        .collect()
}

/// Candidate pairs verified together in one batch.
const BATCH: usize = 64;

/// A pair of item indices (each below `MAX_ITEMS`, 24 bits) in 48 bits,
/// smaller index first, so sorting packed pairs sorts by `(a, b)`.
fn pack(x: u32, y: u32) -> u64 {
    let (a, b) = if x < y { (x, y) } else { (y, x) };
    (u64::from(a) << 24) | u64::from(b)
}

fn unpack(p: u64) -> (usize, usize) {
    ((p >> 24) as usize, (p & INDEX_MASK) as usize)
}

/// Cosine similarity of two caller-supplied embeddings; `None` when the
/// lengths differ or either is zero, so a bad vector never counts.
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        dot += f64::from(x) * f64::from(y);
        na += f64::from(x) * f64::from(x);
        nb += f64::from(y) * f64::from(y);
    }
    let denom = (na * nb).sqrt();
    (denom > 0.0 && denom.is_finite()).then(|| (dot / denom) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feats(texts: &[&str]) -> Vec<Features> {
        texts.iter().map(|t| Features::of(t)).collect()
    }

    #[test]
    fn exact_groups_ignore_case_and_punctuation() {
        let f =
            feats(&["User likes tea.", "deploy on fridays", "user LIKES tea", "USER likes tea!!"]);
        assert_eq!(exact_groups(&f[..]).iter().collect::<Vec<_>>(), [&[0, 2, 3][..]]);
    }

    #[test]
    fn similar_pairs_find_paraphrases_not_strangers() {
        let f = feats(&[
            "The user prefers dark mode in the editor",
            "Deploys to production happen on Tuesday mornings",
            "User preferred dark mode in editors",
            "Production deploys happen Tuesday mornings",
            "The cat sat on the mat",
        ]);
        let pairs: Vec<(usize, usize)> =
            similar_pairs(&f[..], 0.6).iter().map(|p| (p.a, p.b)).collect();
        assert_eq!(pairs, vec![(0, 2), (1, 3)]);
    }

    #[test]
    fn oversized_buckets_are_skipped() {
        // 500 entries sharing all but one word land in the same buckets; a
        // real duplicate pair among them still meets in a small bucket.
        let mut texts: Vec<String> =
            (0..500).map(|i| format!("shared words alpha beta gamma delta item{i}")).collect();
        texts.push("unusual zygote quokka".into());
        texts.push("Unusual zygotes quokka!".into());
        let f: Vec<Features> = texts.iter().map(|t| Features::of(t)).collect();
        let pairs = similar_pairs(&f[..], 0.5);
        assert!(pairs.iter().any(|p| (p.a, p.b) == (500, 501)));
        assert!(pairs.len() < 500 * 16, "{} pairs", pairs.len());
    }

    #[test]
    fn packed_pairs_sort_and_dedup_for_any_index() {
        // Indices past 2^18 once fell outside the sorted bits: pairs of a
        // million-entry store came out unsorted, with duplicates.
        let big = (MAX_ITEMS - 1) as u32;
        let mut keys = vec![
            pack(270_000, 280_000),
            pack(big, 262_200),
            pack(280_000, 270_000),
            pack(1, 2),
            pack(big, 3),
        ];
        radix_sort_bits(&mut keys, &mut Vec::new(), 0, 48);
        keys.dedup();
        let pairs: Vec<(usize, usize)> = keys.into_iter().map(unpack).collect();
        assert_eq!(
            pairs,
            vec![(1, 2), (3, big as usize), (262_200, big as usize), (270_000, 280_000)]
        );
    }

    #[test]
    fn any_similar_finds_what_comparing_every_pair_finds() {
        // A small vocabulary and one very common word: most sets share
        // some word, many reach the threshold, and word frequencies are
        // skewed as the prefix order assumes. Some sets are empty.
        let mut rng = crate::rng::Rng::new(3);
        let set = |rng: &mut crate::rng::Rng| {
            let len = rng.below(5) + usize::from(rng.chance(0.9)) * 2;
            let words: Vec<String> =
                (0..len)
                    .map(|_| {
                        if rng.chance(0.3) {
                            "common".into()
                        } else {
                            format!("w{}", rng.below(30))
                        }
                    })
                    .collect();
            Features::of(&words.join(" "))
        };
        for min_score in [0.0, 0.5, 0.67, 0.8, 1.0, 1.5, f32::NAN] {
            let table: Vec<Features> = (0..300).map(|_| set(&mut rng)).collect();
            let queries: Vec<Features> = (0..300).map(|_| set(&mut rng)).collect();
            let table: Vec<FeaturesRef<'_>> = table.iter().map(Features::borrowed).collect();
            let queries: Vec<FeaturesRef<'_>> = queries.iter().map(Features::borrowed).collect();
            let expected: Vec<bool> =
                queries.iter().map(|q| table.iter().any(|t| t.jaccard(q) >= min_score)).collect();
            assert_eq!(any_similar(&table, &queries, min_score), expected, "min_score {min_score}");
            let found = expected.iter().filter(|&&m| m).count();
            assert!(
                !(0.0..=1.0).contains(&min_score)
                    || min_score == 0.0
                    || (10..=290).contains(&found),
                "{found} queries match at {min_score}"
            );
        }
        assert_eq!(any_similar(&[], &[Features::of("tea").borrowed()], 0.5), [false]);
    }

    #[test]
    fn sketches_bound_the_jaccard_from_above() {
        // Small vocabularies make shared words and shared bits common; few
        // words per set make the bound tight, so a bound one ulp too low
        // would show.
        let mut rng = crate::rng::Rng::new(7);
        let mut tight = 0;
        for case in 0..20_000 {
            let vocabulary = 2 + case % 90;
            let mut set = |len: usize| {
                let mut words: Vec<u64> = (0..len)
                    .map(|_| crate::text::hash_str(&rng.below(vocabulary).to_string()))
                    .collect();
                words.sort_unstable();
                words.dedup();
                words
            };
            let (a, b) = (set(1 + case % 11), set(1 + case % 7));
            let exact = Features { content: a.as_slice().into(), ..Features::of("") }
                .jaccard(&Features { content: b.as_slice().into(), ..Features::of("") });
            let bound = Sketch::of(&a).jaccard_bound(&Sketch::of(&b));
            assert!(bound >= exact, "case {case}: bound {bound} < jaccard {exact} for {a:?} {b:?}");
            tight += usize::from(bound == exact);
        }
        assert!(tight > 10_000, "the bound is exact for most small sets, {tight}");
    }

    #[test]
    fn sketches_reject_sets_sharing_one_word_of_many() {
        let words = |names: &[&str]| {
            let mut v: Vec<u64> = names.iter().map(|w| crate::text::hash_str(w)).collect();
            v.sort_unstable();
            v
        };
        let a = words(&["mention", "kalo", "mire", "sato", "vido", "elfu", "ganhi", "joku"]);
        let b = words(&["mention", "lanmor", "nepa", "quiro", "senta", "ulve", "wyxo", "joku"]);
        assert!(Sketch::of(&a).jaccard_bound(&Sketch::of(&b)) < 0.34);
    }

    #[test]
    fn cosine_rejects_mismatched_or_zero_vectors() {
        assert_eq!(cosine(&[1.0, 0.0], &[1.0, 0.0]), Some(1.0));
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), None);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), None);
    }
}
