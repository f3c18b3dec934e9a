//! Builds the lexicon the engine compares words with from WordNet 3.0
//! (Princeton University; Debian's `wordnet-base`), into `OUT_DIR`. The
//! WordNet files are read where they are installed and never copied into
//! the project; `cargo xtask` installs the package. See `src/lexicon.rs`
//! for the layout and the README's credits for the notice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[path = "src/hash.rs"]
#[allow(dead_code)]
mod hash;

use hash::key32 as key;

/// Senses kept per word and part of speech, most frequent first: rarer
/// senses make too many words synonyms of each other.
const SENSES: usize = 3;

/// Table format; `src/lexicon.rs` checks it.
const VERSION: u32 = 1;

const POS: [(&str, char); 4] = [("noun", 'n'), ("verb", 'v'), ("adj", 'a'), ("adv", 'r')];

fn main() {
    println!("cargo::rerun-if-env-changed=REVERIE_WORDNET");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/hash.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if std::env::var_os("CARGO_FEATURE_LEXICON").is_none() {
        // No lexicon: the header of an empty table and its closing record.
        let empty: Vec<u8> =
            [VERSION, 0, 0, 0, u32::MAX, 0].iter().flat_map(|w| w.to_le_bytes()).collect();
        std::fs::write(out.join("lexicon.bin"), empty).expect("cannot write the lexicon");
        return;
    }
    let dir = std::env::var_os("REVERIE_WORDNET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/wordnet"));
    if !dir.join("index.noun").is_file() {
        panic!(
            "\n\nWordNet 3.0 was not found in {}.\nThe engine's lexicon is built from it: \
             install Debian's `wordnet-base` package (`cargo xtask` does), or set \
             REVERIE_WORDNET to a folder holding WordNet's index.*, data.* and *.exc \
             files.\n\n",
            dir.display()
        );
    }
    for (name, _) in POS {
        for file in [format!("index.{name}"), format!("data.{name}"), format!("{name}.exc")] {
            println!("cargo::rerun-if-changed={}", dir.join(file).display());
        }
    }
    let table = build(&dir);
    std::fs::write(out.join("lexicon.bin"), table).expect("cannot write the lexicon");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A word the engine can meet as one token: letters only.
fn plain(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// Flags of a word, as `src/lexicon.rs` reads them.
const NOUN: u32 = 1 << 24;
const VERB: u32 = 1 << 25;
/// Has an adjective or adverb sense: may modify without adding a thing.
const MODIFIER: u32 = 1 << 26;
/// In a reference, the synset is broader than (or, for adjectives,
/// similar to) one of the word's own.
const BROADER: u32 = 1 << 31;

struct Word {
    flags: u32,
    /// Synsets as (file, offset): the word's own (first `SENSES` per part
    /// of speech).
    own: Vec<(char, u32)>,
}

fn build(dir: &Path) -> Vec<u8> {
    let mut words: HashMap<String, Word> = HashMap::new();
    for (name, pos) in POS {
        for line in read(&dir.join(format!("index.{name}"))).lines() {
            if line.starts_with(' ') {
                continue;
            }
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() < 6 || !plain(f[0]) {
                continue;
            }
            let pointers: usize = f[3].parse().expect("index: pointer count");
            let offsets = &f[6 + pointers..];
            let w = words.entry(f[0].to_string()).or_insert(Word { flags: 0, own: Vec::new() });
            w.flags |= match pos {
                'n' => NOUN,
                'v' => VERB,
                _ => MODIFIER,
            };
            for o in offsets.iter().take(SENSES) {
                w.own.push((pos, o.parse().expect("index: synset offset")));
            }
        }
    }
    // Broader synsets: hypernyms, instance hypernyms, and a satellite
    // adjective's head.
    let mut broader: HashMap<(char, u32), Vec<(char, u32)>> = HashMap::new();
    for (name, pos) in POS {
        for line in read(&dir.join(format!("data.{name}"))).lines() {
            if line.starts_with(' ') {
                continue;
            }
            let line = line.split(" | ").next().unwrap_or(line);
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            let offset: u32 = f[0].parse().expect("data: offset");
            let satellite = f[2] == "s";
            let count = usize::from_str_radix(f[3], 16).expect("data: word count");
            let p = 4 + 2 * count;
            let pointers: usize = f[p].parse().expect("data: pointer count");
            let mut up = Vec::new();
            for k in 0..pointers {
                let ptr = &f[p + 1 + 4 * k..p + 5 + 4 * k];
                let target = ptr[2].chars().next().expect("data: pointer pos");
                let target = (
                    if target == 's' { 'a' } else { target },
                    ptr[1].parse().expect("data: pointer offset"),
                );
                match ptr[0] {
                    "@" | "@i" => up.push(target),
                    // A satellite adjective ("huge") is a narrower "big"; the
                    // head's pointers back to its satellites are not followed.
                    "&" if satellite => up.push(target),
                    _ => {}
                }
            }
            broader.insert((pos, offset), up);
        }
    }
    // Dense synset numbers, for the synsets some word refers to.
    let mut ids: HashMap<(char, u32), u32> = HashMap::new();
    let mut id = |s: (char, u32)| {
        let n = ids.len() as u32;
        *ids.entry(s).or_insert(n)
    };
    let mut records: Vec<(u32, u32, Vec<u32>)> = Vec::new();
    let mut sorted: Vec<(&String, &Word)> = words.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (name, w) in sorted {
        let mut refs: Vec<u32> = w.own.iter().map(|&s| id(s)).collect();
        for s in &w.own {
            for &b in broader.get(s).into_iter().flatten() {
                refs.push(id(b) | BROADER);
            }
        }
        refs.sort_unstable();
        refs.dedup();
        records.push((key(name), w.flags, refs));
    }
    records.sort_by_key(|r| r.0);
    // Two words with one key would answer for each other: drop both.
    let collide: Vec<u32> =
        records.windows(2).filter(|w| w[0].0 == w[1].0).map(|w| w[0].0).collect();
    records.retain(|r| !collide.contains(&r.0));
    // Irregular forms, keyed like words, pointing at their base forms.
    let mut irregular: Vec<(u32, u32)> = Vec::new();
    for (name, _) in POS {
        for line in read(&dir.join(format!("{name}.exc"))).lines() {
            let mut f = line.split_ascii_whitespace();
            let Some(form) = f.next().filter(|w| plain(w)) else { continue };
            for base in f.filter(|w| plain(w) && words.contains_key(*w)) {
                irregular.push((key(form), key(base)));
            }
        }
    }
    irregular.sort_unstable();
    irregular.dedup();

    let mut out = Vec::new();
    let mut put = |x: u32| out.extend_from_slice(&x.to_le_bytes());
    let refs: usize = records.iter().map(|r| r.2.len()).sum();
    assert!(refs < 1 << 24, "too many synset references for the table");
    put(VERSION);
    put(records.len() as u32);
    put(refs as u32);
    put(irregular.len() as u32);
    let mut start = 0;
    for (k, flags, r) in &records {
        put(*k);
        put(flags | start as u32);
        start += r.len();
    }
    put(u32::MAX);
    put(start as u32);
    for (_, _, r) in &records {
        for &x in r {
            put(x);
        }
    }
    for &(form, base) in &irregular {
        put(form);
        put(base);
    }
    out
}
