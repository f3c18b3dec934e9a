use reverie_core::{Change, ChangeKind, EntryKind, Id, MemoryEntry, Timestamp};

use super::*;

fn view(id: &str, result: Option<&str>, decision: Option<Decision>) -> ChangeView {
    let result = result.map(|t| {
        MemoryEntry::new(Id::new("m1").unwrap(), t.to_string(), EntryKind::Fact, Timestamp(0))
    });
    ChangeView {
        change: Change {
            id: Id::new(id).unwrap(),
            kind: ChangeKind::Merge,
            targets: vec![Id::new("m1").unwrap(), Id::new("m2").unwrap()],
            result,
            justification: "alike".into(),
            evidence: Vec::new(),
            confidence: 0.9,
            risk: Vec::new(),
            sessions_seen: None,
        },
        seq: 1,
        before: Vec::new(),
        diff: Vec::new(),
        decision,
        decided_by: None,
        decided_at: None,
        applied_version: None,
    }
}

fn review(open: bool) -> Review {
    Review::new(
        &[
            view("c1", Some("User prefers tea."), None),
            view("c2", Some("Deploys on Fridays."), Some(Decision::Accept)),
            view("c3", None, None),
        ],
        open,
    )
}

#[test]
fn selection_stays_on_the_list() {
    let r = review(true);
    assert_eq!(r.clamp(0), Some(0));
    assert_eq!(r.clamp(7), Some(2));
    assert_eq!(Review::new(&[], true).clamp(0), None);
}

#[test]
fn decisions_go_to_the_draft_unless_the_service_made_them() {
    let r = review(true);
    let mut draft = Draft::new();
    assert!(r.decide(&mut draft, 0, Some(Decision::Accept)));
    assert!(!r.decide(&mut draft, 0, Some(Decision::Accept)), "the same decision again");
    assert!(!r.decide(&mut draft, 1, Some(Decision::Reject { reason: None })), "decided");
    assert!(!r.decide(&mut draft, 9, Some(Decision::Accept)), "no such change");
    assert_eq!(r.decision_of(&draft, 0), Some((Decision::Accept, false)));
    assert_eq!(r.decision_of(&draft, 1), Some((Decision::Accept, true)));
    assert_eq!(r.decision_of(&draft, 2), None);
    assert!(r.decide(&mut draft, 0, None));
    assert!(draft.is_empty());
}

#[test]
fn a_closed_review_takes_no_decision_and_no_edit() {
    let r = review(false);
    let mut draft = Draft::new();
    assert!(!r.decide(&mut draft, 0, Some(Decision::Accept)));
    assert_eq!(r.edit_text(&draft, 0), None);
}

#[test]
fn an_edit_starts_from_the_last_edit_or_the_result() {
    let r = review(true);
    let mut draft = Draft::new();
    assert_eq!(r.edit_text(&draft, 0).as_deref(), Some("User prefers tea."));
    r.decide(&mut draft, 0, Some(Decision::Edit { text: "User prefers green tea.".into() }));
    assert_eq!(r.edit_text(&draft, 0).as_deref(), Some("User prefers green tea."));
    assert_eq!(r.edit_text(&draft, 1), None, "decided by the service");
    assert_eq!(r.edit_text(&draft, 2), None, "a prune has no text");
}

#[test]
fn setting_a_conflict_aside_keeps_the_other_decisions() {
    let r = review(true);
    // Decided one by one: the conflicting change leaves the draft.
    let mut draft: Draft = [("c1".to_string(), Decision::Accept), ("c3".into(), Decision::Accept)]
        .into_iter()
        .collect();
    r.set_aside(&mut draft, &["c3".to_string()], false);
    assert_eq!(draft.keys().collect::<Vec<_>>(), ["c1"]);
    // After "approve all", every other pending change is accepted.
    let mut draft = Draft::new();
    r.set_aside(&mut draft, &["c1".to_string()], true);
    assert_eq!(draft, [("c3".to_string(), Decision::Accept)].into_iter().collect());
}

#[test]
fn keys_and_submissions() {
    assert_eq!(Key::of("j"), Some(Key::Next));
    assert_eq!(Key::of("ArrowUp"), Some(Key::Previous));
    assert_eq!(Key::of("x"), None);
    let all = Submission::new("p1", Draft::new(), Rest::Accept, None);
    assert!(all.is_approve_all() && all.state == State::Waiting);
    // Kept on the device as the outbox was before: the same JSON words.
    let json = serde_json::to_value(&all).unwrap();
    assert_eq!(json["rest"], "accept");
    assert_eq!(json["state"], "waiting");
    let back: Submission = serde_json::from_value(json).unwrap();
    assert_eq!(back, all);
}
