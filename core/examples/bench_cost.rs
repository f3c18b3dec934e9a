//! What a dream costs on LoCoMo conversations (Maharana et al., ACL 2024):
//! the tokens a naive dream would send (the whole store and every
//! transcript, in a 200k-token window, each call carrying the store and
//! answering with the rewritten store) against what Reverie's planner
//! sends (`llm::plan`: the learn, judge, rewrite and synthesize stages as
//! a pass builds them). Tokens are bytes / 4.
//!
//! Each conversation is dreamt over as it would be halfway through: the
//! store holds LoCoMo's event sentences of its first half of sessions
//! (what earlier dreams kept), and the dream reads the second half, the
//! sessions memory has not seen.
//!
//! Prices: the worker's defaults, Anthropic's list prices for Sonnet 4.6
//! as published in 2026 (US$3 per million input tokens, US$15 per million
//! output tokens; prompt-cache writes at 1.25 times input, reads at 0.1
//! times; Message Batches at half of every price). The naive dream is one
//! direct call at list price. Reverie is priced as a scheduled pass sends
//! it: each stage one batch, the prefix a stage's calls share cached after
//! the first call when it is 1,024 tokens or more (`StagePlan::tokens`).
//!
//! Output is what the model writes, which no planner knows beforehand;
//! two figures are given. The ceiling counts every output token each call
//! allows (`llm::max_output`, what the pass's budget reserves). The
//! expected figure takes LoCoMo's own annotation of what each session
//! read taught about the user (the speaker-A events of
//! `events_session_K`) as the memories a model writes: each in the learn
//! tool's shape (its text, its kind, any of the five alike, and one ref
//! as JSON at three bytes a token, and 30 tokens a call), with a quote of one sentence as often as
//! the excerpts sent are longer than a short paragraph (the prompt asks
//! for quotes only there); and in the naive dream's rewritten store too
//! (its text plus 8 tokens). A
//! judging answer is expected to hold, per group, a merged text as long
//! as the group's longest entry, a justification of 80 bytes, and a
//! quote of one sentence of each entry longer than a short paragraph; a
//! wording, the rules' wording's length (the model's may not be longer).
//! Text is four bytes a token, the JSON around it three. Every expected
//! figure is capped at the ceiling. `ratio` is the expected
//! figure; `ceiling` and `undiscounted` (direct calls, no cache) are
//! printed beside it.
//!
//! Also counts the sessions holding a signal (a first-person statement or
//! a correction by the user) and how many of them the planner sends: it
//! must send them all. Run through `cargo xtask bench-cost [--data DIR]`.

use serde_json::{json, Value};

#[path = "shared/locomo.rs"]
mod locomo;
use locomo::{build, Mode};

use reverie_core::llm::rewrite::{self, Wording};
use reverie_core::llm::{learn, plan, Prices, Provider};
use reverie_core::pass::{run_pass, PassConfig, PassInput, UnsettledGroup};
use reverie_core::review::ReviewHistory;
use reverie_core::{Id, LlmStage, Role, Session, Timestamp, TokenCost};

const USD_PER_MTOK_IN: f64 = 3.0;
const USD_PER_MTOK_OUT: f64 = 15.0;
/// The naive dream's context window, in tokens.
const WINDOW: u64 = 200_000;
/// The most output tokens one call may take (the worker's default cap;
/// each call's own limit follows what it carries, `llm::max_output`).
const MAX_TOKENS: u32 = 4096;
/// Groups or changes per call (the worker's default).
const PER_CALL: usize = 20;
/// A naive dream's instructions, in bytes (about a page).
const NAIVE_PROMPT_BYTES: u64 = 4_000;
/// Expected output: tokens around a learned memory's text in the learn
/// tool's answer, and around each call's answer; around an entry's text
/// in the naive dream's rewritten store.
const CALL_WRAP: u64 = 30;
const STORED_WRAP: u64 = 8;

/// The judging answer expected for `groups` (see the module doc), in
/// tokens.
fn expected_judging(store: &reverie_core::MemoryStore, groups: &[UnsettledGroup]) -> u64 {
    const JSON: &str = r#"{"group":12,"verdict":"duplicate","merged_text":"","justification":"","confidence":0.9},"#;
    const JUSTIFICATION: usize = 80;
    groups
        .iter()
        .map(|g| {
            let entries: Vec<_> = g.entries.iter().filter_map(|id| store.get(id)).collect();
            let longest = entries.iter().map(|e| e.text.len()).max().unwrap_or(0);
            let quotes: f64 = entries
                .iter()
                .filter(|e| e.text.len() > QUOTED_FROM_BYTES)
                .map(|e| QUOTE_JSON.len() as f64 / 3.0 + sentence_bytes(&e.text) / 4.0)
                .sum();
            let text = ((longest + JUSTIFICATION) as f64 / 4.0).ceil() as u64;
            (JSON.len() as u64).div_ceil(3) + text + quotes.ceil() as u64
        })
        .sum()
}

/// The wordings expected for the changes a rewrite or synthesize stage
/// words, in tokens.
fn expected_wording(items: &[rewrite::Item]) -> u64 {
    const JSON: &str = r#"{"item":12,"text":""},"#;
    items.iter().map(|i| (JSON.len() as u64).div_ceil(3) + tokens(i.wording.len() as u64)).sum()
}

fn tokens(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

/// An excerpt or entry longer than this many bytes (a short paragraph)
/// may be quoted from; a shorter one is cited whole.
const QUOTED_FROM_BYTES: usize = 400;

/// The JSON around one quote in an answer.
const QUOTE_JSON: &str = r#","quotes":[""]"#;

/// The mean length of a sentence of `text`, in bytes.
fn sentence_bytes(text: &str) -> f64 {
    text.len() as f64 / text.split_inclusive(['.', '!', '?']).count().max(1) as f64
}

/// The tokens around a learned memory's text in the learn tool's answer,
/// on average over `excerpts`: its kind and one ref, and a quote of one
/// sentence of the long excerpts, in their share.
fn learned_wrap(excerpts: &[learn::Excerpt]) -> f64 {
    // Its kind, any of the five alike.
    let kinds = ["fact", "preference", "instruction", "pattern", "mistake"];
    let wrap = kinds
        .iter()
        .map(|k| format!(r#"{{"kind":"{k}","text":"","refs":[123]}},"#).len() as f64 / 3.0)
        .sum::<f64>()
        / kinds.len() as f64;
    let long: Vec<&learn::Excerpt> =
        excerpts.iter().filter(|e| e.text.len() > QUOTED_FROM_BYTES).collect();
    if long.is_empty() {
        return wrap;
    }
    let share = long.len() as f64 / excerpts.len() as f64;
    // One sentence of a long excerpt, on average.
    let sentence = long.iter().map(|e| sentence_bytes(&e.text)).sum::<f64>() / long.len() as f64;
    let quote = QUOTE_JSON.len() as f64 / 3.0 + sentence / 4.0;
    wrap + share * quote
}

/// Whether a session holds a signal the planner must not skip: the user
/// speaking of themselves, or correcting the assistant. Read here on its
/// own terms, not with the planner's rules.
fn has_signal(s: &Session) -> bool {
    s.messages.iter().filter(|m| m.role == Role::User).any(|m| {
        let lower = m.content.to_lowercase();
        let first_person = lower.split_inclusive(['.', '!', '?']).any(|sentence| {
            !sentence.trim_end().ends_with('?')
                && sentence.split(|c: char| !c.is_alphanumeric() && c != '\'').any(|w| {
                    matches!(w, "i" | "i'm" | "i've" | "my" | "me" | "we" | "our" | "mine")
                })
        });
        first_person || lower.starts_with("no,") || lower.starts_with("actually")
    })
}

/// The tokens of what LoCoMo's annotators say sessions `from..` taught
/// about speaker A (the user): one text per event.
fn user_events(conv: &Value, from: usize) -> Vec<u64> {
    let speaker = conv["speaker_a"].as_str().unwrap_or("A");
    (from..100)
        .filter_map(|k| conv.get(format!("events_session_{k}")))
        .flat_map(|e| e[speaker].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(|t| tokens(t.len() as u64)))
        .collect()
}

/// The session number `K` of an event entry's id (`<conv>.e<K>.<speaker>.<j>`).
fn event_session(id: &Id) -> Option<usize> {
    id.as_str().split('.').find_map(|p| p.strip_prefix('e')?.parse().ok())
}

/// One stage's totals over the conversations.
#[derive(Default)]
struct Stage {
    calls: usize,
    items: usize,
    /// As billed: afresh, cache writes and reads; output at the ceiling.
    tokens: TokenCost,
    expected_output: u64,
}

#[derive(Default)]
struct Totals {
    conversations: usize,
    naive_in: u64,
    naive_out: u64,
    signal: usize,
    signal_sent: usize,
    stages: std::collections::BTreeMap<&'static str, Stage>,
}

fn main() {
    let files = locomo::conversation_files("bench-cost");
    let prices = Prices::with_cache_ratios(USD_PER_MTOK_IN, USD_PER_MTOK_OUT);
    let list = |input: u64, output: u64| {
        prices.usd(
            TokenCost { input_tokens: input, output_tokens: output, ..Default::default() },
            false,
        )
    };
    let mut t = Totals::default();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", file.display())));
        let conv: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("conv").to_string();
        let (mut store, mut sessions, last) = build(&conv, &name, Mode::Events);
        let now = Timestamp(last.0 + Timestamp::DAY);
        // Memory from the first half; the second half is read.
        let seen = sessions.len() / 2;
        let read = sessions.split_off(seen);
        let first_read = read.first().and_then(|s| {
            s.id.as_str().rsplit_once(".s").and_then(|(_, k)| k.parse::<usize>().ok())
        });
        let first_read = first_read.unwrap_or(usize::MAX);
        store.entries.retain(|e| event_session(&e.id).is_some_and(|k| k < first_read));
        sessions = read;
        let learned = user_events(&conv, first_read);

        // Naive: the store and every transcript, windowed; each call
        // answers with the store rewritten, what was learned in it.
        let store_bytes: u64 = store
            .active()
            .map(|e| json!({ "id": e.id, "text": e.text }).to_string().len() as u64)
            .sum();
        // Each session as its date and its messages' role and text.
        let session_bytes: Vec<u64> = sessions
            .iter()
            .map(|s| {
                let messages: Vec<Value> = s
                    .messages
                    .iter()
                    .map(|m| json!({ "role": m.role, "content": m.content }))
                    .collect();
                json!({ "session": s.id, "started_at": s.started_at, "messages": messages })
                    .to_string()
                    .len() as u64
            })
            .collect();
        let fixed = tokens(NAIVE_PROMPT_BYTES + store_bytes);
        let room = WINDOW.saturating_sub(fixed).max(1);
        let (mut calls, mut used) = (1u64, 0u64);
        for b in &session_bytes {
            let b = tokens(*b);
            if used + b > room && used > 0 {
                calls += 1;
                used = 0;
            }
            used += b;
        }
        let naive_in = calls * fixed + session_bytes.iter().map(|b| tokens(*b)).sum::<u64>();
        let naive_out =
            calls * tokens(store_bytes) + learned.iter().map(|t| t + STORED_WRAP).sum::<u64>();

        // Reverie: the rules, then the calls its stages would make.
        let history = ReviewHistory::default();
        let input = PassInput::new(&store, &sessions, &history);
        let config =
            PassConfig::recommended(Id::new(format!("{name}.pass")).expect("valid id"), now);
        let out = run_pass(&input, &config).unwrap_or_else(|e| fail(&format!("{name}: {e}")));
        let stages = plan(
            &store,
            &sessions,
            &out.unsettled,
            &out.proposal,
            Provider::Anthropic,
            "claude-sonnet-4-6",
            MAX_TOKENS,
            PER_CALL,
        );
        let (excerpts, _) =
            learn::select(&sessions, &learn::Seen::of(&store, out.proposal.changes.iter()));
        let wrap = learned_wrap(&excerpts);
        let (mut ours, mut ours_expected) = (0.0, 0.0);
        for s in &stages {
            let billed = s.tokens(Provider::Anthropic);
            let answers = CALL_WRAP * s.calls as u64;
            let expected_output = match s.stage {
                _ if s.calls == 0 => 0,
                LlmStage::Learn => {
                    answers + learned.iter().map(|&t| t as f64 + wrap).sum::<f64>().ceil() as u64
                }
                LlmStage::Judge => answers + expected_judging(&store, &out.unsettled),
                LlmStage::Rewrite => {
                    answers
                        + expected_wording(&rewrite::candidates(
                            &out.proposal,
                            &store,
                            Wording::Concise,
                        ))
                }
                LlmStage::Synthesize => {
                    answers
                        + expected_wording(&rewrite::candidates(
                            &out.proposal,
                            &store,
                            Wording::Instruction,
                        ))
                }
            }
            .min(s.max_output_tokens);
            ours += prices.usd(billed, true);
            ours_expected +=
                prices.usd(TokenCost { output_tokens: expected_output, ..billed }, true);
            let name = match s.stage {
                LlmStage::Learn => "learn",
                LlmStage::Judge => "judge",
                LlmStage::Rewrite => "rewrite",
                LlmStage::Synthesize => "synthesize",
            };
            let e = t.stages.entry(name).or_default();
            e.calls += s.calls;
            e.items += s.items;
            e.tokens.add(billed);
            e.expected_output += expected_output;
        }

        // Sessions with a signal, and whether the planner sends them.
        let sent: std::collections::HashSet<&Id> = excerpts.iter().map(|e| &e.session).collect();
        let signal: Vec<&Session> = sessions.iter().filter(|s| has_signal(s)).collect();
        let signal_sent = signal.iter().filter(|s| sent.contains(&s.id)).count();
        let naive = list(naive_in, naive_out);
        eprintln!(
            "{name}: {} entries, {} sessions; naive {} calls, {} in + {} out, ${naive:.4}; \
             reverie ${ours_expected:.4} expected ({:.1}%), ${ours:.4} at the ceiling; signal \
             sessions {}/{} sent",
            store.entries.len(),
            sessions.len(),
            calls,
            naive_in,
            naive_out,
            100.0 * ours_expected / naive.max(1e-9),
            signal_sent,
            signal.len()
        );
        t.conversations += 1;
        t.naive_in += naive_in;
        t.naive_out += naive_out;
        t.signal += signal.len();
        t.signal_sent += signal_sent;
    }

    let naive_usd = list(t.naive_in, t.naive_out);
    let mut all = TokenCost::default();
    let (mut expected_out, mut usd, mut ceiling, mut undiscounted) = (0, 0.0, 0.0, 0.0);
    let stages: serde_json::Map<String, Value> = t
        .stages
        .iter()
        .map(|(k, s)| {
            let expected = TokenCost { output_tokens: s.expected_output, ..s.tokens };
            let input = s.tokens.total() - s.tokens.output_tokens;
            all.add(s.tokens);
            expected_out += s.expected_output;
            usd += prices.usd(expected, true);
            ceiling += prices.usd(s.tokens, true);
            undiscounted += list(input, s.expected_output);
            (
                k.to_string(),
                json!({
                    "calls": s.calls,
                    "items": s.items,
                    "input_tokens": input,
                    "cache_write_tokens": s.tokens.cache_write_tokens,
                    "cache_read_tokens": s.tokens.cache_read_tokens,
                    "expected_output_tokens": s.expected_output,
                    "max_output_tokens": s.tokens.output_tokens,
                    "usd": prices.usd(expected, true),
                    "usd_ceiling": prices.usd(s.tokens, true),
                }),
            )
        })
        .collect();
    let ratio = |x: f64| x / naive_usd.max(1e-9);
    println!(
        "{}",
        json!({
            "bench": "cost",
            "conversations": t.conversations,
            "naive_input_tokens": t.naive_in,
            "naive_output_tokens": t.naive_out,
            "naive_usd": naive_usd,
            "reverie_input_tokens": all.total() - all.output_tokens,
            "reverie_cache_read_tokens": all.cache_read_tokens,
            "reverie_output_tokens": expected_out,
            "reverie_max_output_tokens": all.output_tokens,
            "reverie_usd": usd,
            "ratio": ratio(usd),
            "ceiling": { "reverie_usd": ceiling, "ratio": ratio(ceiling) },
            "undiscounted": { "reverie_usd": undiscounted, "ratio": ratio(undiscounted) },
            "signal_sessions": t.signal,
            "signal_sessions_sent": t.signal_sent,
            "stages": stages,
            "prices": {
                "model": "claude-sonnet-4-6",
                "as_of": "2026",
                "usd_per_mtok_in": prices.input,
                "usd_per_mtok_out": prices.output,
                "usd_per_mtok_cache_write": prices.cache_write,
                "usd_per_mtok_cache_read": prices.cache_read,
                "batch": reverie_core::llm::BATCH_PRICE,
                "naive": "direct, no cache",
                "reverie": "scheduled: batched, cached prefix",
            },
        })
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("bench-cost: {msg}");
    std::process::exit(2)
}
