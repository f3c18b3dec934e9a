//! What a dream costs on LoCoMo conversations (Maharana et al., ACL 2024):
//! the tokens a naive dream would send (the whole store and every
//! transcript, in a 200k-token window, each call carrying the store and
//! answering with the rewritten store) against what Reverie's planner
//! sends (`llm::plan`: the learn, judge and rewrite stages as a pass
//! builds them, each call's output counted at its limit). Prices are the
//! worker's defaults, Anthropic's list prices for Sonnet 4.6 (US$3 per
//! million input tokens, US$15 per million output tokens, as published in
//! 2026), with no caching or batch discount on either side. Tokens are
//! bytes / 4. Also counts the sessions holding a signal (a first-person
//! statement or a correction by the user) and how many of them the
//! planner sends: it must send them all. Run through
//! `cargo xtask bench-cost [--data DIR]`.

use serde_json::{json, Value};

#[path = "shared/locomo.rs"]
mod locomo;
use locomo::{build, Mode};

use reverie_core::llm::{learn, plan, Provider};
use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::{Id, LlmStage, Role, Session, Timestamp};

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

fn tokens(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

fn usd(input: u64, output: u64) -> f64 {
    (input as f64 * USD_PER_MTOK_IN + output as f64 * USD_PER_MTOK_OUT) / 1e6
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

#[derive(Default)]
struct Totals {
    conversations: usize,
    naive_in: u64,
    naive_out: u64,
    ours_in: u64,
    ours_out: u64,
    signal: usize,
    signal_sent: usize,
    stages: std::collections::BTreeMap<&'static str, (usize, usize, u64, u64)>,
}

fn main() {
    let files = locomo::conversation_files("bench-cost");
    let mut t = Totals::default();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", file.display())));
        let conv: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("conv").to_string();
        let (store, sessions, last) = build(&conv, &name, Mode::Events);
        let now = Timestamp(last.0 + Timestamp::DAY);

        // Naive: the store and every transcript, windowed.
        let store_bytes: u64 = store
            .active()
            .map(|e| json!({ "id": e.id, "text": e.text }).to_string().len() as u64)
            .sum();
        let session_bytes: Vec<u64> = sessions
            .iter()
            .map(|s| serde_json::to_string(&s.messages).map_or(0, |j| j.len() as u64))
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
        let naive_out = calls * tokens(store_bytes);

        // Reverie: the rules, then the calls its stages would make.
        let history = ReviewHistory::default();
        let input =
            PassInput { store: &store, sessions: &sessions, history: &history, embeddings: None };
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
        let (mut ours_in, mut ours_out) = (0, 0);
        for s in &stages {
            let (i, o) = (tokens(s.request_bytes as u64), s.max_output_tokens);
            ours_in += i;
            ours_out += o;
            let name = match s.stage {
                LlmStage::Learn => "learn",
                LlmStage::Judge => "judge",
                LlmStage::Rewrite => "rewrite",
                LlmStage::Synthesize => "synthesize",
            };
            let e = t.stages.entry(name).or_default();
            *e = (e.0 + s.calls, e.1 + s.items, e.2 + i, e.3 + o);
        }

        // Sessions with a signal, and whether the planner sends them.
        let (excerpts, _) = learn::select(&sessions, &learn::Seen::of(&store, &out.proposal));
        let sent: std::collections::HashSet<&Id> = excerpts.iter().map(|e| &e.session).collect();
        let signal: Vec<&Session> = sessions.iter().filter(|s| has_signal(s)).collect();
        let signal_sent = signal.iter().filter(|s| sent.contains(&s.id)).count();
        eprintln!(
            "{name}: {} entries, {} sessions; naive {} calls, {} in + {} out; reverie {} in + {} \
             out ({:.1}%); signal sessions {}/{} sent",
            store.entries.len(),
            sessions.len(),
            calls,
            naive_in,
            naive_out,
            ours_in,
            ours_out,
            100.0 * usd(ours_in, ours_out) / usd(naive_in, naive_out).max(1e-9),
            signal_sent,
            signal.len()
        );
        t.conversations += 1;
        t.naive_in += naive_in;
        t.naive_out += naive_out;
        t.ours_in += ours_in;
        t.ours_out += ours_out;
        t.signal += signal.len();
        t.signal_sent += signal_sent;
    }
    let naive_usd = usd(t.naive_in, t.naive_out);
    let ours_usd = usd(t.ours_in, t.ours_out);
    let stages: serde_json::Map<String, Value> = t
        .stages
        .iter()
        .map(|(k, (calls, items, i, o))| {
            (
                k.to_string(),
                json!({ "calls": calls, "items": items, "input_tokens": i, "max_output_tokens": o, "usd": usd(*i, *o) }),
            )
        })
        .collect();
    println!(
        "{}",
        json!({
            "bench": "cost",
            "conversations": t.conversations,
            "naive_input_tokens": t.naive_in,
            "naive_output_tokens": t.naive_out,
            "naive_usd": naive_usd,
            "reverie_input_tokens": t.ours_in,
            "reverie_output_tokens": t.ours_out,
            "reverie_usd": ours_usd,
            "ratio": ours_usd / naive_usd.max(1e-9),
            "signal_sessions": t.signal,
            "signal_sessions_sent": t.signal_sent,
            "stages": stages,
            "prices": { "usd_per_mtok_in": USD_PER_MTOK_IN, "usd_per_mtok_out": USD_PER_MTOK_OUT, "model": "claude-sonnet-4-6", "discounts": "none" },
        })
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("bench-cost: {msg}");
    std::process::exit(2)
}
