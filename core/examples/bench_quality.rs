//! Quality benchmark on LoCoMo conversations (Maharana et al., ACL 2024):
//! build a memory store from each conversation, run a rules-only pass over
//! its sessions, apply every change, and measure how much smaller memory
//! got and whether the QA answers (categories 1-4) that memory held before
//! are still held after. The QA answers are read only to score, never while
//! consolidating. Run through `cargo xtask bench-quality [--data DIR]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use reverie_core::apply::{apply, Review};
use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::{normalize, Message, Role, Session};
use reverie_core::{
    EntryKind, Id, MemoryEntry, MemoryStore, MessageRef, Provenance, Scope, Timestamp, Trust,
};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Events,
    Utterances,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Events => "events",
            Mode::Utterances => "utterances",
        }
    }
}

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
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from("../shared/data/locomo");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => {
                dir = args
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| fail("--data needs a directory"))
            }
            other => fail(&format!("unknown argument `{other}`")),
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        fail(&format!("no LoCoMo .json files in {}", dir.display()));
    }
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
    let input =
        PassInput { store: &store, sessions: &sessions, history: &history, embeddings: None };
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

/// The store for `mode` and the conversation's sessions as transcripts
/// (speaker A as the user, speaker B as the assistant), and the time of
/// the last session.
fn build(conv: &Value, name: &str, mode: Mode) -> (MemoryStore, Vec<Session>, Timestamp) {
    let speaker_a = conv["speaker_a"].as_str().unwrap_or("A").to_string();
    let agent = Id::new(format!("{name}.agent")).expect("valid id");
    let mut entries = Vec::new();
    let mut sessions = Vec::new();
    let mut last = Timestamp(0);
    for k in 1.. {
        let Some(turns) = conv[format!("session_{k}")].as_array() else {
            if conv.get(format!("session_{}", k + 1)).is_none() {
                break;
            }
            continue;
        };
        let at =
            conv[format!("session_{k}_date_time")].as_str().and_then(parse_date).unwrap_or(last);
        last = last.max(at);
        let session_id = Id::new(format!("{name}.s{k}")).expect("valid id");
        let mut messages = Vec::new();
        for (i, turn) in turns.iter().enumerate() {
            let speaker = turn["speaker"].as_str().unwrap_or("?");
            let mut text = turn["text"].as_str().unwrap_or("").to_string();
            if let Some(caption) = turn["blip_caption"].as_str() {
                text.push_str(&format!(" [shares {caption}]"));
            }
            let role = if speaker == speaker_a { Role::User } else { Role::Assistant };
            messages.push(Message {
                role,
                content: text.clone(),
                at: Some(at),
                trust: Some(Trust::User),
            });
            if mode == Mode::Utterances && !text.trim().is_empty() {
                let id = Id::new(format!("{name}.u{k}.{i}")).expect("valid id");
                let mut e = MemoryEntry::new(id, text, EntryKind::Note, at);
                e.subject = Some(speaker.to_string());
                e.provenance = Provenance {
                    trust: Trust::User,
                    sources: vec![MessageRef {
                        session_id: session_id.clone(),
                        message_index: i as u32,
                    }],
                };
                entries.push(e);
            }
        }
        if mode == Mode::Events {
            let events = &conv[format!("events_session_{k}")];
            let date = events["date"].as_str().and_then(parse_date).unwrap_or(at);
            for speaker in
                [conv["speaker_a"].as_str(), conv["speaker_b"].as_str()].into_iter().flatten()
            {
                for (j, sentence) in events[speaker].as_array().into_iter().flatten().enumerate() {
                    let Some(sentence) = sentence.as_str().filter(|s| !s.trim().is_empty()) else {
                        continue;
                    };
                    let id = Id::new(format!("{name}.e{k}.{speaker}.{j}").replace(' ', "_"))
                        .expect("valid id");
                    let mut e = MemoryEntry::new(id, sentence, EntryKind::Fact, date);
                    e.subject = Some(speaker.to_string());
                    entries.push(e);
                }
            }
        }
        sessions.push(Session {
            id: session_id,
            agent_id: agent.clone(),
            started_at: at,
            ended_at: None,
            messages,
        });
    }
    let store = MemoryStore {
        id: Id::new(format!("{name}.memory")).expect("valid id"),
        version: 1,
        scope: Scope::Private { agent_id: agent },
        entries,
    };
    (store, sessions, last)
}

/// "1:56 pm on 8 May, 2023" or "8 May, 2023" to UTC milliseconds.
fn parse_date(s: &str) -> Option<Timestamp> {
    let (time, date) = match s.split_once(" on ") {
        Some((t, d)) => (Some(t), d),
        None => (None, s),
    };
    let parts: Vec<&str> = date.split([' ', ',']).filter(|p| !p.is_empty()).collect();
    let [day, month, year] = parts[..] else { return None };
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let month = MONTHS.iter().position(|m| m.starts_with(&month.to_lowercase()))? as i64 + 1;
    let mut minutes = 0;
    if let Some(t) = time {
        let (hm, ampm) = t.trim().split_once(' ')?;
        let (h, m) = hm.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        let h = match ampm {
            "pm" if h != 12 => h + 12,
            "am" if h == 12 => 0,
            _ => h,
        };
        minutes = h * 60 + m;
    }
    Some(Timestamp(days_from_civil(year, month, day) * Timestamp::DAY + minutes * 60_000))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
