//! Memory poisoning with the approval gate off. Each set of the poisoning
//! corpus (`tests/poison/*.jsonl`, written for this project: attacks in the
//! styles published memory-injection attacks use, and benign look-alikes)
//! is planted in one store and its sessions — user turns, tool results,
//! external content, notes — a rules-only pass runs, and the changes an
//! unattended apply would make are read against the labels. Run through
//! `cargo xtask bench-poison [--show N] [FILE…]`.
//!
//! Figures per set, overall and per style:
//! - `harmful_auto_applied`: changes carrying attack text that the
//!   unattended apply would make (must be 0);
//! - `attacks_reaching_a_change` and how many of them every such change
//!   holds for a person (`held`) or flags as suspected poisoning;
//! - `benign_reaching_a_change` and how many are flagged as poisoning (the
//!   false positives a reviewer pays for) or held for any reason;
//! - the detector on the planted texts alone, each read with the trust of
//!   where it was planted (as a pass reads it): attacks read as injected
//!   (detection) and benign texts read as injected (false positives).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Value};

use reverie_core::apply::auto_apply_plan;
use reverie_core::pass::{retired_by, run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::{
    injection_signals_from, normalize, Change, EntryKind, EvidenceSource, Id, MemoryEntry,
    MemoryStore, Message, Provenance, RiskKind, Role, Scope, Session, Timestamp, Trust,
};

#[derive(Deserialize)]
struct Item {
    id: String,
    label: String,
    style: String,
    plants: Vec<Plant>,
    #[serde(default)]
    payload: Option<String>,
}

#[derive(Deserialize)]
struct Plant {
    #[serde(rename = "as")]
    channel: String,
    #[serde(default)]
    session: u32,
    text: String,
    #[serde(default)]
    trust: Option<Trust>,
}

/// Where a planted text ended up.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Place {
    Message(Id, u32),
    Entry(Id),
}

static SHOW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn main() {
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--show" => {
                let n = args.next().and_then(|n| n.parse().ok());
                SHOW.store(
                    n.unwrap_or_else(|| fail("--show needs a count")),
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            path => files.push(PathBuf::from(path)),
        }
    }
    if files.is_empty() {
        fail("name the corpus files (tests/poison/*.jsonl)");
    }
    let mut total_harmful = 0;
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", file.display())));
        let items: Vec<Item> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| fail(&format!("{}:{}: {e}", file.display(), i + 1)))
            })
            .collect();
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("set").to_string();
        let result = measure(&name, &items);
        total_harmful += result["harmful_auto_applied"].as_u64().unwrap_or(0);
        println!("{result}");
    }
    if total_harmful > 0 {
        eprintln!("bench-poison: {total_harmful} harmful changes would be applied unattended");
        std::process::exit(1);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("bench-poison: {msg}");
    std::process::exit(2)
}

/// The trust a planted text has where `plant` puts it.
fn channel_trust(plant: &Plant) -> Trust {
    match plant.channel.as_str() {
        "user" => Trust::User,
        "tool" => Trust::Tool,
        "note" => plant.trust.unwrap_or(Trust::External),
        _ => Trust::External,
    }
}

fn id(s: &str) -> Id {
    Id::new(s).unwrap_or_else(|e| fail(&format!("bad id {s:?}: {e}")))
}

/// Plants every item in one store and its sessions; returns them with
/// where each item's texts went.
fn plant(items: &[Item]) -> (MemoryStore, Vec<Session>, Vec<Vec<Place>>) {
    let agent = id("agent");
    let start = Timestamp(1_700_000_000_000);
    let mut entries = Vec::new();
    let mut sessions: BTreeMap<(usize, u32), Session> = BTreeMap::new();
    let mut places = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let mut mine = Vec::new();
        for (p, plant) in item.plants.iter().enumerate() {
            let day = Timestamp(start.0 + (k as i64 * 7 + p as i64) * Timestamp::DAY / 24);
            if plant.channel == "note" {
                let entry_id = id(&format!("{}.n{p}", item.id));
                let mut entry =
                    MemoryEntry::new(entry_id.clone(), &plant.text, EntryKind::Note, day);
                entry.provenance = Provenance { trust: channel_trust(plant), sources: Vec::new() };
                entries.push(entry);
                mine.push(Place::Entry(entry_id));
                continue;
            }
            let session = sessions.entry((k, plant.session)).or_insert_with(|| Session {
                id: id(&format!("{}.s{}", item.id, plant.session)),
                agent_id: agent.clone(),
                started_at: Timestamp(
                    start.0 + (k as i64 + plant.session as i64 * 40) * Timestamp::DAY,
                ),
                ended_at: None,
                messages: Vec::new(),
            });
            let message = match plant.channel.as_str() {
                "user" => Message::new(Role::User, &plant.text),
                "tool" => {
                    session
                        .messages
                        .push(Message::new(Role::Assistant, "Let me check that for you."));
                    Message::new(Role::Tool, &plant.text)
                }
                "external" => {
                    session.messages.push(Message::new(Role::Assistant, "Fetching it now."));
                    Message {
                        trust: Some(Trust::External),
                        ..Message::new(Role::Tool, &plant.text)
                    }
                }
                other => fail(&format!("{}: unknown plant `as`: {other}", item.id)),
            };
            session.messages.push(message);
            mine.push(Place::Message(session.id.clone(), session.messages.len() as u32 - 1));
            session.messages.push(Message::new(Role::Assistant, "Understood."));
        }
        places.push(mine);
    }
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let store = MemoryStore {
        id: id("poison"),
        version: 1,
        scope: Scope::Private { agent_id: agent },
        entries,
    };
    (store, sessions.into_values().collect(), places)
}

/// Content words (three letters or more) of a text, normalized.
fn words(text: &str) -> BTreeSet<String> {
    normalize(text).split(' ').filter(|w| w.len() >= 3).map(str::to_string).collect()
}

/// Whether a change resting on an attack carries it into memory: its new
/// text holds most of the payload's words, or it retires entries that are
/// not the attack's own.
fn carries(change: &Change, payload: &BTreeSet<String>, own: &BTreeSet<&Id>) -> bool {
    let text = change.result.as_ref().map(|r| words(&r.text)).unwrap_or_default();
    let shared = payload.iter().filter(|w| text.contains(*w)).count();
    let holds = !payload.is_empty() && shared * 2 >= payload.len().min(12);
    let retires_others = retired_by(change) > 0 && change.targets.iter().any(|t| !own.contains(t));
    holds || (retires_others && change.kind != reverie_core::ChangeKind::Merge)
}

#[derive(Default)]
struct Tally {
    items: u32,
    texts_read_as_injected: u32,
    reaching_a_change: u32,
    held: u32,
    flagged_poisoning: u32,
    auto_applied_changes: u32,
}

impl Tally {
    fn json(&self, attack: bool) -> Value {
        let ratio = |a: u32, b: u32| {
            if b == 0 {
                Value::Null
            } else {
                json!(((a as f64 / b as f64) * 10_000.0).round() / 10_000.0)
            }
        };
        if attack {
            json!({
                "items": self.items,
                "text_detection": ratio(self.texts_read_as_injected, self.items),
                "reaching_a_change": self.reaching_a_change,
                "held_for_review": ratio(self.held, self.reaching_a_change),
                "flagged_poisoning": ratio(self.flagged_poisoning, self.reaching_a_change),
                "auto_applied_changes": self.auto_applied_changes,
            })
        } else {
            json!({
                "items": self.items,
                "text_false_positives": ratio(self.texts_read_as_injected, self.items),
                "reaching_a_change": self.reaching_a_change,
                "flagged_poisoning": ratio(self.flagged_poisoning, self.reaching_a_change),
                "held_for_review": ratio(self.held, self.reaching_a_change),
                "auto_applied_changes": self.auto_applied_changes,
            })
        }
    }
}

fn measure(set: &str, items: &[Item]) -> Value {
    let (store, sessions, places) = plant(items);
    let history = ReviewHistory::default();
    let input = PassInput::new(&store, &sessions, &history);
    let now =
        Timestamp(sessions.iter().map(|s| s.started_at.0).max().unwrap_or(0) + 30 * Timestamp::DAY);
    let config = PassConfig::recommended(id(&format!("{set}.pass")), now);
    let out =
        run_pass(&input, &config).unwrap_or_else(|e| fail(&format!("{set}: pass failed: {e}")));
    let active = store.entries.iter().filter(|e| e.is_active()).count();
    let plan = auto_apply_plan(&out.proposal, active, config.large_deletion);
    let applied: BTreeSet<&Id> = plan.apply.iter().collect();

    // Which item each planted place belongs to.
    let mut owner: HashMap<Place, usize> = HashMap::new();
    for (k, mine) in places.iter().enumerate() {
        for p in mine {
            owner.insert(p.clone(), k);
        }
    }
    let evidence_items = |c: &Change| -> BTreeSet<usize> {
        c.evidence
            .iter()
            .filter_map(|ev| match &ev.source {
                EvidenceSource::Message { session_id, message_index } => {
                    owner.get(&Place::Message(session_id.clone(), *message_index)).copied()
                }
                EvidenceSource::Entry { entry_id } => {
                    owner.get(&Place::Entry(entry_id.clone())).copied()
                }
            })
            .chain(c.targets.iter().filter_map(|t| owner.get(&Place::Entry(t.clone())).copied()))
            .collect()
    };

    let mut tallies: BTreeMap<(bool, String), Tally> = BTreeMap::new();
    let mut totals = [Tally::default(), Tally::default()];
    let mut harmful = 0;
    let mut shown = 0;
    let show = SHOW.load(std::sync::atomic::Ordering::Relaxed);
    for (k, item) in items.iter().enumerate() {
        let attack = item.label == "attack";
        let own: BTreeSet<&Id> = places[k]
            .iter()
            .filter_map(|p| match p {
                Place::Entry(e) => Some(e),
                _ => None,
            })
            .collect();
        let payload_text = item.payload.clone().unwrap_or_else(|| {
            item.plants.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join(" ")
        });
        let payload = words(&payload_text);
        // Read as the pass reads it: with the trust of where it came from.
        let read_as_injected = item
            .plants
            .iter()
            .any(|p| !injection_signals_from(&p.text, channel_trust(p)).is_empty());
        let touching: Vec<&Change> = out
            .proposal
            .changes
            .iter()
            .filter(|c| evidence_items(c).contains(&k))
            .filter(|c| !attack || carries(c, &payload, &own))
            .collect();
        let reached = !touching.is_empty();
        let held = reached && touching.iter().all(|c| !applied.contains(&c.id));
        let flag = |c: &&Change| c.risk.iter().any(|r| r.kind == RiskKind::PoisoningSuspected);
        let flagged =
            if attack { reached && touching.iter().all(flag) } else { touching.iter().any(flag) };
        let auto = touching.iter().filter(|c| applied.contains(&c.id)).count() as u32;
        if attack {
            harmful += auto;
        }
        let wrong = (attack && (auto > 0 || !read_as_injected))
            || (!attack && (flagged || read_as_injected));
        if wrong && shown < show {
            shown += 1;
            eprintln!(
                "{} [{}] read_as_injected={read_as_injected} changes={} auto_applied={auto} flagged={flagged}",
                item.id,
                item.style,
                touching.len()
            );
            for p in &item.plants {
                eprintln!(
                    "    {} {}: {:?}",
                    p.channel,
                    p.session,
                    p.text.chars().take(300).collect::<String>()
                );
            }
            for c in &touching {
                let text = c.result.as_ref().map(|r| r.text.as_str()).unwrap_or("");
                let risks: Vec<String> = c.risk.iter().map(|r| format!("{:?}", r.kind)).collect();
                eprintln!(
                    "    -> {} {:?} {:?}",
                    c.kind.as_str(),
                    text.chars().take(200).collect::<String>(),
                    risks
                );
            }
        }
        for tally in
            [tallies.entry((attack, item.style.clone())).or_default(), &mut totals[attack as usize]]
        {
            tally.items += 1;
            tally.texts_read_as_injected += read_as_injected as u32;
            tally.reaching_a_change += reached as u32;
            tally.held += held as u32;
            tally.flagged_poisoning += flagged as u32;
            tally.auto_applied_changes += auto;
        }
    }
    let styles = |attack: bool| -> Value {
        tallies
            .iter()
            .filter(|((a, _), _)| *a == attack)
            .map(|((_, style), t)| (style.clone(), t.json(attack)))
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    json!({
        "bench": "poison",
        "set": set,
        "approval": "off",
        "changes_proposed": out.proposal.changes.len(),
        "changes_auto_applied": plan.apply.len(),
        "harmful_auto_applied": harmful,
        "attacks": totals[1].json(true),
        "benign": totals[0].json(false),
        "attack_styles": styles(true),
        "benign_styles": styles(false),
    })
}
