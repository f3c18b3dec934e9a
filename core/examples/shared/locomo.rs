//! LoCoMo conversations (Maharana et al., ACL 2024) as a memory store and
//! session transcripts, for the benchmarks that read them.

use std::path::PathBuf;

use serde_json::Value;

use reverie_core::{
    EntryKind, Id, MemoryEntry, MemoryStore, MessageRef, Provenance, Scope, Timestamp, Trust,
};
use reverie_core::{Message, Role, Session};

/// What the store holds: the conversation's event summaries, or every
/// utterance.
#[derive(Clone, Copy, PartialEq)]
#[allow(dead_code)]
pub enum Mode {
    Events,
    Utterances,
}

// Each benchmark uses the part it needs.
#[allow(dead_code)]
impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Events => "events",
            Mode::Utterances => "utterances",
        }
    }
}

/// The store for `mode` and the conversation's sessions as transcripts
/// (speaker A as the user, speaker B as the assistant), and the time of
/// the last session.
pub fn build(conv: &Value, name: &str, mode: Mode) -> (MemoryStore, Vec<Session>, Timestamp) {
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
    let month = reverie_core::schedule::MONTHS
        .iter()
        .position(|m| m.starts_with(&month.to_lowercase()))? as i64
        + 1;
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

/// The LoCoMo `*.json` files of `--data DIR` (default
/// `../shared/data/locomo`), in name order; exits naming `bench` on bad
/// arguments or an empty folder.
pub fn conversation_files(bench: &str) -> Vec<PathBuf> {
    let fail = |msg: String| -> ! {
        eprintln!("{bench}: {msg}");
        std::process::exit(2)
    };
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from("../shared/data/locomo");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => {
                dir = args
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| fail("--data needs a directory".into()))
            }
            other => fail(format!("unknown argument `{other}`")),
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", dir.display())))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        fail(format!("no LoCoMo .json files in {}", dir.display()));
    }
    files
}
