//! Quality benchmark on LoCoMo conversations (Maharana et al., ACL 2024):
//! build a memory store from each conversation, run a rules-only pass over
//! its sessions, apply every change, and measure how much smaller memory
//! got and whether the QA answers (categories 1-4) that memory held before
//! are still held after. The QA answers are read only to score, never while
//! consolidating. Run through `cargo xtask bench-quality [--data DIR]`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

#[path = "shared/locomo.rs"]
mod locomo;
use locomo::{build, Mode};

use reverie_core::apply::{apply, Review};
use reverie_core::normalize;
use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::{Id, MemoryStore, Timestamp};

#[derive(Default)]
struct Totals {
    conversations: usize,
    entries_before: usize,
    entries_after: usize,
    tokens_before: usize,
    tokens_after: usize,
    answers_found_before: usize,
    answers_retained: usize,
    changes: BTreeMap<String, u32>,
    lost: Vec<String>,
}

fn main() {
    let files = locomo::conversation_files("bench-quality");
    for mode in [Mode::Events, Mode::Utterances] {
        let mut totals = Totals::default();
        for file in &files {
            run_conversation(file, mode, &mut totals);
        }
        let retention = totals.answers_retained as f64 / totals.answers_found_before.max(1) as f64;
        let change = |before: usize, after: usize| {
            let pct = 100.0 * (after as f64 / before.max(1) as f64 - 1.0);
            if pct <= 0.0 {
                format!("{:.1}% fewer", -pct)
            } else {
                format!("{pct:.1}% more")
            }
        };
        eprintln!(
            "{}: {} conversations, entries {} -> {} ({}), tokens {} -> {} ({}), answers held {} -> {}",
            mode.name(),
            totals.conversations,
            totals.entries_before,
            totals.entries_after,
            change(totals.entries_before, totals.entries_after),
            totals.tokens_before,
            totals.tokens_after,
            change(totals.tokens_before, totals.tokens_after),
            totals.answers_found_before,
            totals.answers_retained,
        );
        for lost in totals.lost.iter().take(40) {
            eprintln!("  lost: {lost}");
        }
        println!(
            "{}",
            serde_json::json!({
                "bench": "quality",
                "mode": mode.name(),
                "conversations": totals.conversations,
                "entries_before": totals.entries_before,
                "entries_after": totals.entries_after,
                "tokens_before": totals.tokens_before,
                "tokens_after": totals.tokens_after,
                "tokenizer": "chars/4",
                "answers_found_before": totals.answers_found_before,
                "answer_retention": retention,
                "changes": totals.changes,
            })
        );
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("bench-quality: {msg}");
    std::process::exit(2)
}

fn run_conversation(file: &Path, mode: Mode, totals: &mut Totals) {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", file.display())));
    let conv: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
    let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("conv").to_string();
    let (store, sessions, last) = build(&conv, &name, mode);
    let history = ReviewHistory::default();
    let input = PassInput::new(&store, &sessions, &history);
    let now = Timestamp(last.0 + Timestamp::DAY);
    let config = PassConfig::recommended(Id::new(format!("{name}.pass")).expect("valid id"), now);
    let out =
        run_pass(&input, &config).unwrap_or_else(|e| fail(&format!("{name}: pass failed: {e}")));
    let review = Review::approve_all(&out.proposal, "bench", now);
    let applied = apply(&store, &out.proposal, &review)
        .unwrap_or_else(|e| fail(&format!("{name}: apply failed: {e}")));
    for (kind, n) in &out.proposal.summary.counts {
        *totals.changes.entry(kind.clone()).or_default() += n;
    }

    let active = |s: &MemoryStore| -> Vec<String> {
        s.active().map(|e| format!(" {} ", normalize(&e.text))).collect()
    };
    let before = active(&store);
    let after = active(&applied.store);
    totals.conversations += 1;
    totals.entries_before += before.len();
    totals.entries_after += after.len();
    totals.tokens_before +=
        store.active().map(|e| e.text.chars().count().div_ceil(4)).sum::<usize>();
    totals.tokens_after +=
        applied.store.active().map(|e| e.text.chars().count().div_ceil(4)).sum::<usize>();
    // Scoring only: the answers were never part of the pass's input.
    for qa in conv["qa"].as_array().into_iter().flatten() {
        let category = qa["category"].as_u64().unwrap_or(5);
        if !(1..=4).contains(&category) {
            continue;
        }
        let answer = match &qa["answer"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        let needle = format!(" {} ", normalize(&answer));
        if needle.trim().is_empty() {
            continue;
        }
        if before.iter().any(|t| t.contains(&needle)) {
            totals.answers_found_before += 1;
            if after.iter().any(|t| t.contains(&needle)) {
                totals.answers_retained += 1;
            } else {
                // Say which change retired the entries that held it.
                let holders: Vec<String> = store
                    .active()
                    .filter(|e| format!(" {} ", normalize(&e.text)).contains(&needle))
                    .filter_map(|e| out.proposal.changes.iter().find(|c| c.targets.contains(&e.id)))
                    .map(|c| {
                        format!(
                            "{} ({})",
                            c.kind.as_str(),
                            c.justification.chars().take(120).collect::<String>()
                        )
                    })
                    .collect();
                totals.lost.push(format!("{name}: {answer:?} <- {}", holders.join("; ")));
            }
        }
    }
}
