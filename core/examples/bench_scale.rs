//! Scale benchmark: a rules-only pass over seeded synthetic stores of the
//! sizes given (default 1k, 10k, 100k, 1M entries). Prints a line per size
//! and a final JSON line. Run through `cargo xtask bench-scale`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::synth::{generate, Rng, Truth};
use reverie_core::{
    ChangeKind, EntryKind, Id, MemoryEntry, MemoryStore, Proposal, Scope, Timestamp,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let with_stress = args.iter().any(|a| a == "--stress");
    let sizes: Vec<usize> = args
        .iter()
        .filter(|a| *a != "--stress")
        .map(|a| {
            a.parse().unwrap_or_else(|_| panic!("sizes are entry counts or --stress, got `{a}`"))
        })
        .collect();
    let sizes = if sizes.is_empty() { vec![1_000, 10_000, 100_000, 1_000_000] } else { sizes };
    let stores: Vec<_> = sizes.iter().map(|&n| generate(n, 42)).collect();
    let history = ReviewHistory::default();
    let inputs: Vec<_> = stores.iter().map(|s| PassInput::new(&s.store, &[], &history)).collect();
    let configs: Vec<_> = sizes
        .iter()
        .map(|&n| {
            PassConfig::recommended(
                Id::new("bench").unwrap(),
                Timestamp(n as i64 * 60_000 + Timestamp::DAY),
            )
        })
        .collect();
    // Sizes take turns, a round at a time: on a shared machine a slow
    // spell of a few seconds then slows every size a little, instead of
    // one size a lot, and a ratio of two sizes' times stays a ratio of
    // like with like. In each round a size first runs once untimed, so
    // its timed runs start from its own state of the caches and the heap,
    // not the state the previous size left. Small stores get more timed
    // runs (a few-millisecond pass is noisier), for medians of 27 runs
    // below 100k entries, 18 below a million and 9 at a million.
    const ROUNDS: usize = 9;
    let timed_per_round = |n: usize| match n {
        0..100_000 => 3,
        100_000..1_000_000 => 2,
        _ => 1,
    };
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    let mut outputs: Vec<Option<_>> = (0..sizes.len()).map(|_| None).collect();
    for _ in 0..ROUNDS {
        for (k, &n) in sizes.iter().enumerate() {
            for run in 0..=timed_per_round(n) {
                // The previous run's proposal is freed before the clock
                // starts: the figure is the pass, not the caller dropping
                // its last result.
                drop(outputs[k].take());
                let started = Instant::now();
                let result = run_pass(&inputs[k], &configs[k]).expect("synthetic input is valid");
                if run > 0 {
                    times[k].push(started.elapsed().as_secs_f64());
                }
                outputs[k] = Some(result);
            }
        }
    }
    let mut seconds = Vec::new();
    let mut last_quality = None;
    for (k, &n) in sizes.iter().enumerate() {
        let runs = times[k].len();
        times[k].sort_by(f64::total_cmp);
        let secs = times[k][runs / 2];
        let out = outputs[k].take().expect("every size ran");
        let q = quality(&out.proposal, &stores[k].truth);
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
    let stress: BTreeMap<&str, f64> = if with_stress { stress() } else { BTreeMap::new() };
    println!(
        "{}",
        serde_json::json!({
            "bench": "scale-native",
            "sizes": sizes,
            "seconds": seconds,
            "growth_per_10x": growth_per_10x,
            "dup_precision": dp, "dup_recall": dr,
            "supersede_precision": sp, "supersede_recall": sr,
            "stress_seconds": stress,
        })
    );
}

/// Stores of one shape repeated, which a rule comparing every member of a
/// group with every other would make quadratic, each of `STRESS` entries:
/// one text copied, one slot restated with three values, one slot restated
/// and switched from one of ten values to another, and a synthetic store
/// whose review history rejected merging a tenth as many pairs. The median
/// of three passes each.
fn stress() -> BTreeMap<&'static str, f64> {
    const STRESS: usize = 100_000;
    let repeated = |text: &dyn Fn(&mut Rng) -> String, kind: EntryKind| {
        let mut rng = Rng::new(7);
        let entries = (0..STRESS)
            .map(|k| {
                let id = Id::new(format!("r{k:07}")).expect("generated ids are valid");
                MemoryEntry::new(id, text(&mut rng), kind, Timestamp(k as i64 * 60_000))
            })
            .collect();
        let agent_id = Id::new("agent_stress").expect("valid literal");
        MemoryStore {
            id: Id::new("stress").expect("valid literal"),
            version: 1,
            scope: Scope::Private { agent_id },
            entries,
        }
    };
    let copies = repeated(&|_| "The user prefers dark mode.".into(), EntryKind::Preference);
    let one_slot = repeated(
        &|rng| format!("The user's editor is {}.", ["Vim", "Helix", "Zed"][rng.below(3)]),
        EntryKind::Fact,
    );
    let switches = repeated(
        &|rng| match rng.below(2) {
            0 => format!("The user's editor is e{}.", rng.below(10)),
            _ => format!("The user switched from e{} to e{}.", rng.below(10), rng.below(10)),
        },
        EntryKind::Fact,
    );
    let synthetic = generate(STRESS, 42).store;
    let mut rejected = ReviewHistory::default();
    let mut rng = Rng::new(9);
    for _ in 0..STRESS / 10 {
        let mut pair =
            [rng.below(STRESS), rng.below(STRESS)].map(|k| synthetic.entries[k].id.clone());
        pair.sort();
        rejected.rejected_groups.insert(pair.to_vec());
    }
    let empty = ReviewHistory::default();
    let shapes = [
        ("copies", &copies, &empty),
        ("one_slot", &one_slot, &empty),
        ("switches", &switches, &empty),
        ("rejected_history", &synthetic, &rejected),
    ];
    let mut seconds = BTreeMap::new();
    for (name, store, history) in shapes {
        let input = PassInput::new(store, &[], history);
        let config = PassConfig::recommended(
            Id::new("bench").unwrap(),
            Timestamp(STRESS as i64 * 60_000 + Timestamp::DAY),
        );
        let mut times: Vec<f64> = (0..3)
            .map(|_| {
                let started = Instant::now();
                let out = run_pass(&input, &config).expect("stress input is valid");
                let secs = started.elapsed().as_secs_f64();
                drop(out);
                secs
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("stress {name:<16} {STRESS:>9} entries  pass {:>8.3} s (median of 3)", times[1]);
        seconds.insert(name, times[1]);
    }
    seconds
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
    let truth_dups = truth.duplicate_pairs();
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
