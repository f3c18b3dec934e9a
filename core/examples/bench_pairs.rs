//! Decisions on labelled pairs: every pair of a set is put side by side in
//! one store, a rules-only pass runs over it, and what the pass did to each
//! pair (and across pairs) is compared with the label. One JSON line per
//! set. Run through `cargo xtask bench-pairs [--data DIR]`.
//!
//! Sets, read in place from the shared data folder (externally authored,
//! never committed), and made here:
//! - `sick_paraphrase`, `sick_entailment`, `sick_neutral`,
//!   `sick_contradiction`: caption pairs of SICK (Marelli et al., LREC
//!   2014) that entail each other both ways, one way, neither, or
//!   contradict. Paraphrases should merge; the rest never.
//! - `situatedqa_updates`: questions of SituatedQA (Zhang & Choi, EMNLP
//!   2021) whose answer changed, as "question? answer" observed when each
//!   answer started to hold. The newer should supersede the older.
//! - `news_paraphrase`, `news_different`: sentence pairs of the
//!   Microsoft Research Paraphrase Corpus (Dolan & Brockett, IWP 2005),
//!   news sentences judged by people as paraphrases or not, read from
//!   `msrp/msr_paraphrase_{train,test}.txt` when present (not in the shared
//!   data; its license allows research use).
//! - `preference_updates`, `value_updates`, `negations`, `numbers`: pairs
//!   made from templates here (people, preferences, plans, counts).
//!
//! Figures per set: pairs; merged, consolidated, superseded (and in the
//! right direction, older to newer), left for the model (unsettled);
//! changes joining entries of different pairs, by kind; joins whose text
//! lost a number of an entry they retire.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::{ChangeKind, EntryKind, Id, MemoryEntry, MemoryStore, Scope, Timestamp};

/// With `--show N`, up to N merged or superseded pairs of each set are
/// printed to stderr, to see what the rules did.
static SHOW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One labelled pair: the older text first.
struct Pair {
    older: String,
    newer: String,
    /// For a pair where one text entails the other (and not back): whether
    /// the older is the one that says more. A merge keeping that text
    /// loses nothing.
    older_entails: Option<bool>,
    /// When each was observed, in days.
    days: (i64, i64),
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from("../shared/data");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => {
                dir = args
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| fail("--data needs a directory"))
            }
            "--show" => {
                let n = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| fail("--show needs a count"));
                SHOW.store(n, std::sync::atomic::Ordering::Relaxed);
            }
            other => fail(&format!("unknown argument `{other}`")),
        }
    }
    let mut sets: Vec<(&str, Vec<Pair>)> = Vec::new();
    let sick = dir.join("sick/SICK_train_trial.txt");
    if sick.is_file() {
        let [paraphrase, entailment, neutral, contradiction] = read_sick(&sick);
        sets.push(("sick_paraphrase", paraphrase));
        sets.push(("sick_entailment", entailment));
        sets.push(("sick_neutral", neutral));
        sets.push(("sick_contradiction", contradiction));
    } else {
        eprintln!("bench-pairs: no {} (SICK sets skipped)", sick.display());
    }
    let situated = dir.join("situatedqa/temp.train.jsonl");
    if situated.is_file() {
        sets.push(("situatedqa_updates", read_situatedqa(&situated)));
    } else {
        eprintln!("bench-pairs: no {} (SituatedQA set skipped)", situated.display());
    }
    let mut news = [Vec::new(), Vec::new()];
    for file in ["msrp/msr_paraphrase_train.txt", "msrp/msr_paraphrase_test.txt"] {
        let path = dir.join(file);
        if path.is_file() {
            let [same, different] = read_msrp(&path, news[0].len() + news[1].len());
            news[0].extend(same);
            news[1].extend(different);
        }
    }
    if news[0].is_empty() {
        eprintln!("bench-pairs: no {} (news sets skipped)", dir.join("msrp").display());
    } else {
        let [same, different] = news;
        sets.push(("news_paraphrase", same));
        sets.push(("news_different", different));
    }
    let made = made_sets();
    sets.extend(made);
    let results: Vec<Value> = sets.iter().map(|(name, pairs)| measure(name, pairs)).collect();
    for r in &results {
        println!("{r}");
    }
    summary(&results, "sick");
    summary(&results, "news");
}

/// Merge precision and recall over the sets of one source: merges of
/// paraphrase pairs, and of one-way entailments that keep the text saying
/// more, among merges of labelled pairs (a merge across pairs has no label
/// and is counted apart, in `cross_pair_changes`).
fn summary(results: &[Value], source: &str) {
    let sets: Vec<&Value> = results
        .iter()
        .filter(|r| r["set"].as_str().is_some_and(|s| s.starts_with(&format!("{source}_"))))
        .collect();
    if sets.is_empty() {
        return;
    }
    let count = |r: &Value, k: &str| r[k].as_u64().unwrap_or(0);
    let paraphrase = format!("{source}_paraphrase");
    let of_paraphrases = |k: &str| -> u64 {
        sets.iter().filter(|r| r["set"] == paraphrase.as_str()).map(|r| count(r, k)).sum()
    };
    let good = of_paraphrases("merged")
        + sets.iter().map(|r| count(r, "merges_keeping_the_text_that_says_more")).sum::<u64>();
    let all: u64 = sets.iter().map(|r| count(r, "merged")).sum();
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            Value::Null
        } else {
            json!(((a as f64 / b as f64) * 10_000.0).round() / 10_000.0)
        }
    };
    println!(
        "{}",
        json!({
            "bench": "pairs",
            "set": format!("{source}_summary"),
            "merge_precision": ratio(good, all),
            "merge_recall": ratio(of_paraphrases("merged"), of_paraphrases("pairs")),
            "merges": all,
            "merges_keeping_every_word": all - sets.iter().map(|r| count(r, "merges_losing_words")).sum::<u64>(),
        })
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("bench-pairs: {msg}");
    std::process::exit(2)
}

/// SICK's pairs by label. A sentence is used once per set, so that pairs
/// stay independent of each other (SICK reuses sentences across pairs).
fn read_sick(path: &Path) -> [Vec<Pair>; 4] {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let mut sets: [Vec<Pair>; 4] = Default::default();
    let mut used: [HashSet<String>; 4] = Default::default();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        if cols.len() < 7 {
            fail(&format!("{}:{}: expected 12 tab-separated columns", path.display(), n + 1));
        }
        let (a, b, label, ab, ba) = (cols[1], cols[2], cols[3], cols[5], cols[6]);
        let k = match label {
            "ENTAILMENT" if ab == "A_entails_B" && ba == "B_entails_A" => 0,
            "ENTAILMENT" => 1,
            "NEUTRAL" => 2,
            "CONTRADICTION" => 3,
            other => fail(&format!("{}:{}: unknown label {other}", path.display(), n + 1)),
        };
        let key = |s: &str| s.trim().to_lowercase();
        if a.trim() == b.trim() || used[k].contains(&key(a)) || used[k].contains(&key(b)) {
            continue;
        }
        used[k].insert(key(a));
        used[k].insert(key(b));
        let i = sets[k].len() as i64;
        let older_entails = (k == 1).then_some(ab == "A_entails_B");
        sets[k].push(Pair {
            older: sentence(a),
            newer: sentence(b),
            older_entails,
            days: (1 + 2 * i, 2 + 2 * i),
        });
    }
    sets
}

/// MSRP's pairs: judged paraphrases, and the rest. Pairs are numbered on
/// from `first`, so the days of two files do not overlap.
fn read_msrp(path: &Path, first: usize) -> [Vec<Pair>; 2] {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let mut sets: [Vec<Pair>; 2] = Default::default();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        // Some copies of the corpus join two rows on one line; such a
        // line is skipped, and said.
        let [quality, _, _, a, b] = cols[..] else {
            eprintln!("bench-pairs: {}:{}: skipped (not 5 columns)", path.display(), n + 1);
            continue;
        };
        let k = match quality.trim_start_matches('\u{feff}') {
            "1" => 0,
            "0" => 1,
            other => fail(&format!("{}:{}: unknown quality {other}", path.display(), n + 1)),
        };
        let i = (first + sets[0].len() + sets[1].len()) as i64;
        sets[k].push(Pair {
            older: sentence(a),
            newer: sentence(b),
            older_entails: None,
            days: (1 + 2 * i, 2 + 2 * i),
        });
    }
    sets
}

/// A caption as a note is written: capitalized, with a full stop.
fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut out: String =
        s.chars().take(1).flat_map(char::to_uppercase).chain(s.chars().skip(1)).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Days since 1900 of a SituatedQA date (year, month and day optional).
fn day_of(date: &Value) -> Option<i64> {
    let year = date["year"].as_i64()?;
    let month = date["month"].as_i64().unwrap_or(1).clamp(1, 12);
    let day = date["date"].as_i64().unwrap_or(1).clamp(1, 28);
    Some((year - 1900) * 366 + (month - 1) * 31 + day)
}

fn read_situatedqa(path: &Path) -> Vec<Pair> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let mut pairs = Vec::new();
    let mut seen = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let q: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| fail(&format!("{}:{}: {e}", path.display(), n + 1)));
        let question =
            sentence(q["question"].as_str().unwrap_or_default()).trim_end_matches('.').to_string();
        let Some(t) = q["timelines"].as_array().and_then(|t| t.first()) else { continue };
        let (Some(prev), Some(cur)) =
            (t["prev_answers_full"].as_str(), t["cur_answers_full"].as_str())
        else {
            continue;
        };
        let (Some(from), Some(to)) = (day_of(&t["prev_start"]), day_of(&t["cur_start"])) else {
            continue;
        };
        if prev.trim().eq_ignore_ascii_case(cur.trim())
            || from >= to
            || !seen.insert(question.to_lowercase())
        {
            continue;
        }
        pairs.push(Pair {
            older: format!("{question}? {}", prev.trim()),
            newer: format!("{question}? {}", cur.trim()),
            older_entails: None,
            days: (from, to),
        });
    }
    pairs
}

const PEOPLE: &[&str] = &[
    "Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jia", "Kofi",
    "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
];

/// Pairs made from templates: a preference whose object changed, a
/// single-valued attribute whose value changed, a negation, a count.
fn made_sets() -> Vec<(&'static str, Vec<Pair>)> {
    let preferences: &[(&str, &[&str])] = &[
        ("likes dogs, especially", &["Labradors", "Golden Retrievers", "Beagles", "Poodles"]),
        ("listens to music, mostly", &["jazz", "classical", "hip hop", "folk"]),
        (
            "enjoys cooking, especially",
            &["Thai curries", "Italian pasta", "Mexican tacos", "French pastries"],
        ),
        (
            "reads novels, mostly",
            &["science fiction", "mysteries", "historical fiction", "romance"],
        ),
        ("plays sports, especially", &["tennis", "basketball", "soccer", "volleyball"]),
    ];
    let values: &[(&str, &[&str])] = &[
        ("'s plan is", &["Starter", "Pro", "Enterprise", "Team"]),
        ("'s editor is", &["Vim", "Emacs", "Helix", "VS Code"]),
        ("lives in", &["Lyon", "Berlin", "Osaka", "Lagos"]),
        ("'s favourite colour is", &["green", "blue", "red", "yellow"]),
        ("works as", &["a nurse", "an architect", "a pilot", "a teacher"]),
    ];
    let mut preference = Vec::new();
    let mut value = Vec::new();
    let mut negation = Vec::new();
    let mut number = Vec::new();
    for (p, person) in PEOPLE.iter().enumerate() {
        for (t, (phrase, options)) in preferences.iter().enumerate() {
            let (old, new) =
                (options[(p + t) % options.len()], options[(p + t + 1) % options.len()]);
            let day = (p * 20 + t) as i64 * 3;
            preference.push(Pair {
                older: format!("{person} {phrase} {old}."),
                newer: format!("{person} {phrase} {new}."),
                older_entails: None,
                days: (day, day + 40),
            });
        }
        for (t, (phrase, options)) in values.iter().enumerate() {
            let (old, new) =
                (options[(p + t) % options.len()], options[(p + t + 2) % options.len()]);
            let day = (p * 20 + t) as i64 * 3;
            let sep = if phrase.starts_with('\'') { "" } else { " " };
            value.push(Pair {
                older: format!("{person}{sep}{phrase} {old}."),
                newer: format!("{person}{sep}{phrase} {new}."),
                older_entails: None,
                days: (day, day + 40),
            });
        }
        let day = p as i64 * 5;
        for (yes, no) in [
            ("eats meat at home", "does not eat meat at home"),
            ("drinks coffee in the morning", "never drinks coffee in the morning"),
            ("is allowed to deploy on Fridays", "is not allowed to deploy on Fridays"),
        ] {
            negation.push(Pair {
                older: format!("{person} {yes}."),
                newer: format!("{person} {no}."),
                older_entails: None,
                days: (day, day + 1),
            });
        }
        for (what, a, b) in [
            ("cats at home", 2, 3),
            ("open support tickets", 14, 15),
            ("days of leave left", 12, 21),
        ] {
            number.push(Pair {
                older: format!("{person} has {a} {what}."),
                newer: format!("{person} has {b} {what}."),
                older_entails: None,
                days: (day, day + 7),
            });
        }
    }
    vec![
        ("preference_updates", preference),
        ("value_updates", value),
        ("negations", negation),
        ("numbers", number),
    ]
}

/// The words of a text with a digit, bare: the numbers a join must keep.
/// Whether `result` misses a word of three letters or more that one of
/// `sources` has: a merge that keeps every word of both texts loses no
/// fact, whatever the pair's label.
fn loses_words<'a>(result: &str, sources: impl IntoIterator<Item = &'a String>) -> bool {
    let kept = reverie_core::normalize(result);
    let kept: HashSet<&str> = kept.split_ascii_whitespace().collect();
    sources.into_iter().any(|s| {
        reverie_core::normalize(s)
            .split_ascii_whitespace()
            .any(|w| w.len() >= 3 && !kept.contains(w))
    })
}

fn numbers(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

fn measure(name: &str, pairs: &[Pair]) -> Value {
    let day = Timestamp::DAY;
    let mut entries = Vec::with_capacity(2 * pairs.len());
    // Entry id -> (pair, older?)
    let mut owner: HashMap<String, (usize, bool)> = HashMap::new();
    for (i, p) in pairs.iter().enumerate() {
        for (text, older, d) in [(&p.older, true, p.days.0), (&p.newer, false, p.days.1)] {
            let id = format!("p{i:05}{}", if older { "a" } else { "b" });
            let mut e = MemoryEntry::new(
                Id::new(id.clone()).expect("valid id"),
                text.clone(),
                EntryKind::Fact,
                Timestamp(d * day),
            );
            e.observed_at = Some(Timestamp(d * day));
            entries.push(e);
            owner.insert(id, (i, older));
        }
    }
    let store = MemoryStore {
        id: Id::new("pairs").expect("valid id"),
        version: 1,
        scope: Scope::Private { agent_id: Id::new("agent").expect("valid id") },
        entries,
    };
    let text_of: HashMap<&str, &str> =
        store.entries.iter().map(|e| (e.id.as_str(), e.text.as_str())).collect();
    let history = ReviewHistory::default();
    let input = PassInput::new(&store, &[], &history);
    let last = pairs.iter().map(|p| p.days.1).max().unwrap_or(0);
    let config =
        PassConfig::recommended(Id::new("bench").expect("valid id"), Timestamp((last + 1) * day));
    let started = std::time::Instant::now();
    let out =
        run_pass(&input, &config).unwrap_or_else(|e| fail(&format!("{name}: pass failed: {e}")));
    let seconds = started.elapsed().as_secs_f64();

    let (mut merged, mut consolidated, mut superseded, mut forward) = (0, 0, 0, 0);
    let mut cross: BTreeMap<&str, u32> = BTreeMap::new();
    let mut lost_number = 0;
    let mut lost_words = 0;
    let mut kept_stale = 0;
    let mut kept_entailing = 0;
    let mut flagged_names = 0;
    let mut merged_pairs: HashSet<usize> = HashSet::new();
    for change in &out.proposal.changes {
        let mut ids: Vec<&str> = change.targets.iter().map(Id::as_str).collect();
        if let Some(r) = &change.result {
            if owner.contains_key(r.id.as_str()) {
                ids.push(r.id.as_str());
            }
        }
        let pair_ids: HashSet<usize> =
            ids.iter().filter_map(|id| owner.get(*id).map(|o| o.0)).collect();
        if pair_ids.len() > 1 {
            let texts: HashSet<String> = ids
                .iter()
                .filter_map(|id| text_of.get(id))
                .map(|t| reverie_core::normalize(t))
                .collect();
            if texts.len() > 1 {
                let n = cross.entry(change.kind.as_str()).or_default();
                *n += 1;
                if (*n as usize) <= SHOW.load(std::sync::atomic::Ordering::Relaxed) {
                    let texts: Vec<&str> =
                        ids.iter().filter_map(|id| text_of.get(id).copied()).collect();
                    eprintln!("{name}: across pairs, {} {texts:?}", change.kind.as_str());
                }
            }
        }
        if matches!(change.kind, ChangeKind::Merge | ChangeKind::Consolidate) {
            let result = change.result.as_ref().map_or("", |r| r.text.as_str());
            let kept = numbers(result);
            if change.targets.iter().any(|t| {
                text_of
                    .get(t.as_str())
                    .is_some_and(|text| numbers(text).iter().any(|n| !kept.contains(n)))
            }) {
                lost_number += 1;
            }
        }
        // What the change did to each pair it holds whole (a change may
        // join a pair and entries of other pairs alike).
        let whole = pair_ids.iter().copied().filter(|&p| {
            let (a, b) = (format!("p{p:05}a"), format!("p{p:05}b"));
            ids.contains(&a.as_str()) && ids.contains(&b.as_str())
        });
        for p in whole {
            if matches!(
                change.kind,
                ChangeKind::Merge | ChangeKind::Supersede | ChangeKind::Consolidate
            ) && merged + consolidated + superseded
                < SHOW.load(std::sync::atomic::Ordering::Relaxed)
            {
                let texts: Vec<&str> =
                    ids.iter().filter_map(|id| text_of.get(id).copied()).collect();
                eprintln!("{name}: {} {:?}", change.kind.as_str(), texts);
            }
            match change.kind {
                ChangeKind::Merge => {
                    merged += 1;
                    merged_pairs.insert(p);
                    if change.risk.iter().any(|r| r.kind == reverie_core::RiskKind::DifferentNames)
                    {
                        flagged_names += 1;
                    }
                    let result = change.result.as_ref().map_or("", |r| r.text.as_str());
                    if loses_words(result, [&pairs[p].older, &pairs[p].newer]) {
                        lost_words += 1;
                    }
                    // A merge that keeps the older wording keeps the stale
                    // value when the two differ; one that keeps a third
                    // entry's wording keeps neither.
                    let kept_older = change
                        .result
                        .as_ref()
                        .and_then(|r| owner.get(r.id.as_str()))
                        .filter(|o| o.0 == p)
                        .map(|o| o.1);
                    if kept_older == Some(true) {
                        kept_stale += 1;
                    }
                    if pairs[p].older_entails.is_some() && pairs[p].older_entails == kept_older {
                        kept_entailing += 1;
                    } else if pairs[p].older_entails.is_some()
                        && SHOW.load(std::sync::atomic::Ordering::Relaxed) > 0
                    {
                        let kept = change.result.as_ref().map_or("", |r| r.text.as_str());
                        eprintln!(
                            "{name}: merge kept the text saying less {:?} -> {kept:?}",
                            [&pairs[p].older, &pairs[p].newer]
                        );
                    }
                }
                ChangeKind::Consolidate => consolidated += 1,
                ChangeKind::Supersede => {
                    superseded += 1;
                    let older = format!("p{p:05}a");
                    if change.targets.iter().any(|t| t.as_str() == older) {
                        forward += 1;
                    }
                }
                _ => {}
            }
        }
    }
    if name.ends_with("paraphrase") {
        let show = SHOW.load(std::sync::atomic::Ordering::Relaxed);
        for p in (0..pairs.len()).filter(|i| !merged_pairs.contains(i)).take(show) {
            eprintln!("{name}: not merged {:?}", [&pairs[p].older, &pairs[p].newer]);
        }
    }
    let unsettled = out
        .unsettled
        .iter()
        .filter(|g| {
            let p: HashSet<usize> =
                g.entries.iter().filter_map(|id| owner.get(id.as_str()).map(|o| o.0)).collect();
            p.len() == 1 && g.entries.len() >= 2
        })
        .count();
    let n = pairs.len().max(1) as f64;
    let share = |k: usize| (k as f64 / n * 10_000.0).round() / 10_000.0;
    json!({
        "bench": "pairs",
        "set": name,
        "pairs": pairs.len(),
        "merged": merged,
        "merged_share": share(merged),
        "merges_keeping_older_text": kept_stale,
        "merges_keeping_the_text_that_says_more": kept_entailing,
        "merges_losing_words": lost_words,
        "merges_flagged_different_names": flagged_names,
        "consolidated": consolidated,
        "superseded": superseded,
        "superseded_share": share(superseded),
        "superseded_older_to_newer": forward,
        "unsettled_for_model": unsettled,
        "cross_pair_changes": cross,
        "cross_pair_supersede_share_of_entries": ((*cross.get("supersede").unwrap_or(&0) as f64) / (2.0 * n) * 10_000.0).round() / 10_000.0,
        "joins_losing_a_number": lost_number,
        "changes": out.proposal.changes.len(),
        "seconds": (seconds * 1000.0).round() / 1000.0,
    })
}
