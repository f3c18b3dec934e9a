//! Scale benchmark: a rules-only pass over seeded synthetic stores of the
//! sizes given (default 1k, 10k, 100k, 1M entries). Prints a line per size
//! and a final JSON line. Run through `cargo xtask bench-scale`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use reverie_core::dedup::UnionFind;
use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::synth::{generate, Truth};
use reverie_core::{ChangeKind, Id, Proposal, Timestamp};

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or_else(|_| panic!("sizes are entry counts, got `{a}`")))
        .collect();
    let sizes = if sizes.is_empty() { vec![1_000, 10_000, 100_000, 1_000_000] } else { sizes };
    let mut seconds = Vec::new();
    let mut last_quality = None;
    for &n in &sizes {
        let synthetic = generate(n, 42);
        let history = ReviewHistory::default();
        let input = PassInput { store: &synthetic.store, sessions: &[], history: &history, embeddings: None };
        let config = PassConfig::recommended(Id::new("bench").unwrap(), Timestamp(n as i64 * 60_000 + Timestamp::DAY));
        // The median of several runs: a shared machine's noise is ±10% a
        // run, more for passes of a few milliseconds, so small stores get
        // more runs (25 below 100k entries, 9 below a million, 3 at a
        // million) for a median as steady as the large ones'.
        let runs = match n {
            0..100_000 => 25,
            100_000..1_000_000 => 9,
            _ => 3,
        };
        let mut times = Vec::new();
        let mut out = None;
        for _ in 0..runs {
            // The previous run's proposal is freed before the clock starts:
            // the figure is the pass, not the caller dropping its last result.
            drop(out.take());
            let started = Instant::now();
            let result = run_pass(&input, &config).expect("synthetic input is valid");
            times.push(started.elapsed().as_secs_f64());
            out = Some(result);
        }
        times.sort_by(f64::total_cmp);
        let secs = times[runs / 2];
        let out = out.expect("at least one run");
        let q = quality(&out.proposal, &synthetic.truth);
        println!(
            "n={n:>9}  pass {secs:>8.3} s (median of {runs})  {:>12.0} entries/s  changes {:>7}  dup P {:.3} R {:.3}  supersede P {:.3} R {:.3}  counts {:?}",
            n as f64 / secs,
            out.proposal.changes.len(),
            q.0,
            q.1,
            q.2,
            q.3,
            out.proposal.summary.counts
        );
        seconds.push(secs);
        last_quality = Some(q);
    }
    let growth: Vec<f64> = seconds
        .windows(2)
        .zip(sizes.windows(2))
        .map(|(s, n)| (s[1] / s[0]) / (n[1] as f64 / n[0] as f64) * 10.0)
        .collect();
    let growth_per_10x = growth.iter().copied().fold(0.0, f64::max);
    let (dp, dr, sp, sr) = last_quality.unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "bench": "scale-native",
            "sizes": sizes,
            "seconds": seconds,
            "growth_per_10x": growth_per_10x,
            "dup_precision": dp, "dup_recall": dr,
            "supersede_precision": sp, "supersede_recall": sr,
        })
    );
}

/// Pairwise precision and recall of merges against planted duplicates, and
/// of supersessions against planted ones.
fn quality(p: &Proposal, truth: &Truth) -> (f64, f64, f64, f64) {
    let mut predicted_dups = BTreeSet::new();
    let mut predicted_sup = HashSet::new();
    for c in &p.changes {
        match c.kind {
            ChangeKind::Merge => {
                for (i, a) in c.targets.iter().enumerate() {
                    for b in &c.targets[i + 1..] {
                        predicted_dups.insert(ordered(a, b));
                    }
                }
            }
            ChangeKind::Supersede => {
                if let Some(r) = &c.result {
                    predicted_sup.insert((c.targets[0].clone(), r.id.clone()));
                }
            }
            _ => {}
        }
    }
    // Planted duplicates form clusters (an original and its copies).
    let mut ids: BTreeMap<&Id, usize> = BTreeMap::new();
    for (a, b) in &truth.duplicates {
        let n = ids.len();
        ids.entry(a).or_insert(n);
        let n = ids.len();
        ids.entry(b).or_insert(n);
    }
    let mut names: Vec<&Id> = ids.keys().copied().collect();
    for (id, &i) in &ids {
        names[i] = id;
    }
    let mut uf = UnionFind::new(ids.len());
    for (a, b) in &truth.duplicates {
        uf.union(ids[a], ids[b]);
    }
    let mut truth_dups = BTreeSet::new();
    for g in uf.groups().iter() {
        for (i, &a) in g.iter().enumerate() {
            for &b in &g[i + 1..] {
                truth_dups.insert(ordered(names[a], names[b]));
            }
        }
    }
    let truth_sup: HashSet<(Id, Id)> = truth.supersessions.iter().cloned().collect();
    let dup_hits = predicted_dups.intersection(&truth_dups).count() as f64;
    let sup_hits = predicted_sup.intersection(&truth_sup).count() as f64;
    (
        ratio(dup_hits, predicted_dups.len()),
        ratio(dup_hits, truth_dups.len()),
        ratio(sup_hits, predicted_sup.len()),
        ratio(sup_hits, truth_sup.len()),
    )
}

fn ordered(a: &Id, b: &Id) -> (Id, Id) {
    if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

fn ratio(hits: f64, total: usize) -> f64 {
    if total == 0 {
        1.0
    } else {
        hits / total as f64
    }
}
