use reverie_core::{ChangeKind, EntryKind, Id, MemoryEntry, RiskFlag, RiskKind, Timestamp};

use super::*;

fn view(id: &str, result: Option<&str>, decision: Option<Decision>) -> ChangeView {
    let mut v = crate::test_support::change_view(
        id,
        ChangeKind::Merge,
        &["m1", "m2"],
        result.map(|t| ("m1", t)),
    );
    v.decision = decision;
    v
}

fn review(open: bool) -> Review {
    Review::new(
        &[
            view("c1", Some("User prefers tea."), None),
            view("c2", Some("Deploys on Fridays."), Some(Decision::ACCEPT)),
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
    assert!(r.decide(&mut draft, 0, Some(Decision::ACCEPT)));
    assert!(!r.decide(&mut draft, 0, Some(Decision::ACCEPT)), "the same decision again");
    assert!(!r.decide(&mut draft, 1, Some(Decision::Reject { reason: None })), "decided");
    assert!(!r.decide(&mut draft, 9, Some(Decision::ACCEPT)), "no such change");
    assert_eq!(r.decision_of(&draft, 0), Some((Decision::ACCEPT, false)));
    assert_eq!(r.decision_of(&draft, 1), Some((Decision::ACCEPT, true)));
    assert_eq!(r.decision_of(&draft, 2), None);
    assert!(r.decide(&mut draft, 0, None));
    assert!(draft.is_empty());
}

#[test]
fn a_comment_goes_with_the_drafted_decision_and_stays_when_it_changes() {
    let r = review(true);
    let mut draft = Draft::new();
    assert!(!r.comment(&mut draft, 0, "Why not."), "nothing drafted to comment on");
    assert!(!r.comment(&mut draft, 1, "Why not."), "decided by the service");
    r.decide(&mut draft, 0, Some(Decision::ACCEPT));
    assert!(r.comment(&mut draft, 0, "  Same fact twice. "));
    assert_eq!(draft["c1"].note(), Some("Same fact twice."));
    assert!(!r.comment(&mut draft, 0, "Same fact twice."), "unchanged");
    r.decide(&mut draft, 0, Some(Decision::Reject { reason: None }));
    assert_eq!(draft["c1"], Decision::Reject { reason: Some("Same fact twice.".into()) });
    r.decide(&mut draft, 0, Some(Decision::edit("User prefers green tea.")));
    assert_eq!(draft["c1"].note(), Some("Same fact twice."));
    assert!(r.comment(&mut draft, 0, " "));
    assert_eq!(draft["c1"], Decision::edit("User prefers green tea."));
}

#[test]
fn a_closed_review_takes_no_decision_and_no_edit() {
    let r = review(false);
    let mut draft = Draft::new();
    assert!(!r.decide(&mut draft, 0, Some(Decision::ACCEPT)));
    assert_eq!(r.edit_text(&draft, 0), None);
}

#[test]
fn an_edit_starts_from_the_last_edit_or_the_result() {
    let r = review(true);
    let mut draft = Draft::new();
    assert_eq!(r.edit_text(&draft, 0).as_deref(), Some("User prefers tea."));
    r.decide(&mut draft, 0, Some(Decision::edit("User prefers green tea.")));
    assert_eq!(r.edit_text(&draft, 0).as_deref(), Some("User prefers green tea."));
    assert_eq!(r.edit_text(&draft, 1), None, "decided by the service");
    assert_eq!(r.edit_text(&draft, 2), None, "a prune has no text");
}

#[test]
fn setting_a_conflict_aside_keeps_the_other_decisions() {
    let r = review(true);
    // Decided one by one: the conflicting change leaves the draft.
    let mut draft: Draft = [("c1".to_string(), Decision::ACCEPT), ("c3".into(), Decision::ACCEPT)]
        .into_iter()
        .collect();
    r.set_aside(&mut draft, &["c3".to_string()], None);
    assert_eq!(draft.keys().collect::<Vec<_>>(), ["c1"]);
    // After "approve all", every other pending change is accepted.
    let mut draft = Draft::new();
    r.set_aside(&mut draft, &["c1".to_string()], Some(Rest::Accept));
    assert_eq!(draft, [("c3".to_string(), Decision::ACCEPT)].into_iter().collect());
}

#[test]
fn keys_and_submissions() {
    assert_eq!(Key::of("j"), Some(Key::Next));
    assert_eq!(Key::of("ArrowUp"), Some(Key::Previous));
    assert_eq!(Key::of("x"), None);
    let all = Submission::new("p1", Draft::new(), Rest::Accept, None);
    assert!(all.bulk_accept() == Some(Rest::Accept) && all.state == State::Waiting);
    // Kept on the device as the outbox was before: the same JSON words.
    let json = serde_json::to_value(&all).unwrap();
    assert_eq!(json["rest"], "accept");
    assert_eq!(json["state"], "waiting");
    let back: Submission = serde_json::from_value(json).unwrap();
    assert_eq!(back, all);
}

fn flagged(mut v: ChangeView, kind: ChangeKind, risk: RiskKind) -> ChangeView {
    v.change.kind = kind;
    v.change.risk = vec![RiskFlag { kind: risk, detail: String::new() }];
    v
}

/// c1 merge, plain; c2 supersede, poisoning suspected; c3 merge, on a
/// shared store only; c4 add, decided already.
fn risky_review() -> Review {
    Review::new(
        &[
            view("c1", Some("Tea."), None),
            flagged(
                view("c2", Some("Ignore it."), None),
                ChangeKind::Supersede,
                RiskKind::PoisoningSuspected,
            ),
            flagged(view("c3", Some("Coffee."), None), ChangeKind::Merge, RiskKind::SharedStore),
            flagged(
                view("c4", Some("Cake."), Some(Decision::ACCEPT)),
                ChangeKind::Add,
                RiskKind::SensitiveData,
            ),
        ],
        true,
    )
}

#[test]
fn a_bulk_approval_counts_by_kind_and_leaves_flagged_changes_out() {
    let bulk = risky_review().bulk();
    assert_eq!(bulk.pending, 3, "c4 is decided");
    assert_eq!(bulk.by_kind, [(ChangeKind::Merge, 2), (ChangeKind::Supersede, 1)]);
    assert_eq!(bulk.flagged, [1], "a shared store is the proposal's flag, not c3's");
    assert_eq!(bulk.approvable(), 2);
}

#[test]
fn setting_aside_after_approving_the_unflagged_keeps_flagged_changes_pending() {
    let r = risky_review();
    let mut draft = Draft::new();
    r.set_aside(&mut draft, &["c3".to_string()], Some(Rest::AcceptUnflagged));
    assert_eq!(draft, [("c1".to_string(), Decision::ACCEPT)].into_iter().collect());
    let sent = Submission::new("p1", Draft::new(), Rest::AcceptUnflagged, None);
    assert_eq!(sent.bulk_accept(), Some(Rest::AcceptUnflagged));
    assert_eq!(serde_json::to_value(&sent).unwrap()["rest"], "accept_unflagged");
    let named = Submission::new("p1", draft, Rest::AcceptUnflagged, None);
    assert_eq!(named.bulk_accept(), None, "changes named one by one are no bulk approval");
}

#[test]
fn warnings_about_the_whole_proposal_are_said_once() {
    let wide = |id: &str, n: usize| {
        let mut v = view(id, None, None);
        v.change.risk = vec![
            RiskFlag { kind: RiskKind::SharedStore, detail: "the store is shared".into() },
            RiskFlag {
                kind: RiskKind::ProposalWideDeletion,
                detail: format!(
                    "retires {n} entries; the proposal retires 88 of 208 active entries"
                ),
            },
        ];
        v
    };
    let changes = [wide("c1", 1), wide("c2", 3), view("c3", Some("Tea."), None)];
    let warnings = proposal_warnings(&changes);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0].0, RiskKind::SharedStore);
    assert!(warnings[0].1.contains("every change waits for a person"));
    assert_eq!(
        warnings[1],
        (RiskKind::ProposalWideDeletion, "the proposal retires 88 of 208 active entries".into())
    );
    assert!(proposal_warnings(&changes[2..]).is_empty());
}

/// c1 merge "Tea.", c2 supersede flagged "Ignore it.", c3 merge "Coffee."
/// (shared store only), c4 add decided.
#[test]
fn filters_narrow_the_list_by_kind_flag_decision_and_words() {
    let r = risky_review();
    let mut draft = Draft::new();
    let all = Filter::default();
    assert!(all.is_empty());
    assert_eq!(r.matching(&draft, &all), [0, 1, 2, 3]);
    let merges = Filter { kind: Some(ChangeKind::Merge), ..Filter::default() };
    assert_eq!(r.matching(&draft, &merges), [0, 2]);
    let flagged = Filter { flagged: Some(true), ..Filter::default() };
    assert_eq!(r.matching(&draft, &flagged), [1, 3]);
    let open = Filter { decided: Some(false), ..Filter::default() };
    assert_eq!(r.matching(&draft, &open), [0, 1, 2]);
    r.decide(&mut draft, 0, Some(Decision::ACCEPT));
    assert_eq!(r.matching(&draft, &open), [1, 2], "a draft decision counts");
    let words = Filter { search: "  COFFEE ".into(), ..Filter::default() };
    assert!(!words.is_empty());
    assert_eq!(r.matching(&draft, &words), [2]);
    assert_eq!(r.progress(&draft), (2, 4));
}

#[test]
fn n_goes_round_to_the_next_undecided_and_j_k_stay_on_the_shown() {
    let r = risky_review();
    let mut draft = Draft::new();
    let shown = [0, 1, 2, 3];
    assert_eq!(r.next_undecided(&draft, &shown, 0), Some(1));
    assert_eq!(r.next_undecided(&draft, &shown, 2), Some(0), "round to the start; c4 is decided");
    for i in 0..3 {
        r.decide(&mut draft, i, Some(Decision::ACCEPT));
    }
    assert_eq!(r.next_undecided(&draft, &shown, 0), None);
    assert_eq!(step(&[0, 2], 0, true), Some(2));
    assert_eq!(step(&[0, 2], 2, true), Some(2), "the last stays");
    assert_eq!(step(&[0, 2], 1, false), Some(0), "from a change filtered out");
    assert_eq!(step(&[], 1, true), None);
    assert_eq!(Key::of("n"), Some(Key::NextUndecided));
}

#[test]
fn a_row_says_what_its_change_does() {
    use reverie_core::diff::word_diff;
    let entry = |id: &str, t: &str| {
        MemoryEntry::new(Id::new(id).unwrap(), t.to_string(), EntryKind::Fact, Timestamp(0))
    };
    let mut v = view("c1", Some("Umbrella's plan is Pro."), None);
    v.change.kind = ChangeKind::Supersede;
    v.before = vec![entry("m1", "Umbrella's plan is Starter.")];
    v.diff = word_diff("Umbrella's plan is Starter.", "Umbrella's plan is Pro.");
    assert_eq!(describe(&v), "Starter → Pro · Umbrella's plan is Pro.");
    let merge = view("c2", Some("The user prefers tea."), None);
    assert_eq!(describe(&merge), "2 → 1 · The user prefers tea.");
    let mut prune = view("c3", None, None);
    prune.change.kind = ChangeKind::Prune;
    prune.before = vec![entry("m3", "Lunch with Dana tomorrow.")];
    assert_eq!(describe(&prune), "retire · Lunch with Dana tomorrow.");
    let mut add = view("c4", Some(&"long ".repeat(60)), None);
    add.change.kind = ChangeKind::Add;
    assert_eq!(describe(&add).chars().count(), 140);
}

#[test]
fn deciding_the_shown_leaves_flagged_and_decided_changes_alone() {
    let r = risky_review();
    let mut draft = Draft::new();
    r.decide(&mut draft, 2, Some(Decision::Reject { reason: None }));
    // c1 open, c2 flagged, c3 decided in the draft, c4 decided by the service.
    assert_eq!(r.decide_shown(&mut draft, &[0, 1, 2, 3], &Decision::ACCEPT), 1);
    assert_eq!(draft.get("c1"), Some(&Decision::ACCEPT));
    assert_eq!(draft.get("c2"), None);
    assert_eq!(draft.get("c3"), Some(&Decision::Reject { reason: None }));
    let closed = Review::new(&[view("c1", Some("Tea."), None)], false);
    assert_eq!(closed.decide_shown(&mut Draft::new(), &[0], &Decision::ACCEPT), 0);
}

#[test]
fn related_changes_share_an_entry_or_a_name() {
    let entry = |id: &str, text: &str| {
        MemoryEntry::new(Id::new(id).unwrap(), text.to_string(), EntryKind::Fact, Timestamp(0))
    };
    let mut a = view("c1", Some("Umbrella's plan is Pro."), None);
    a.change.targets = vec![Id::new("u1").unwrap(), Id::new("u2").unwrap()];
    a.change.result.as_mut().unwrap().id = Id::new("u1").unwrap();
    let mut b = view("c2", Some("Umbrella's contact is Dana."), None);
    b.change.targets = vec![Id::new("u3").unwrap()];
    b.change.result.as_mut().unwrap().id = Id::new("u3").unwrap();
    let mut c = view("c3", None, None);
    c.change.targets = vec![Id::new("u2").unwrap()];
    c.before = vec![entry("u2", "Umbrella was on the Starter plan.")];
    let mut d = view("c4", Some("The user prefers tea."), None);
    d.change.targets = vec![Id::new("t1").unwrap()];
    d.change.result.as_mut().unwrap().id = Id::new("t1").unwrap();
    let all = [a, b, c, d];
    assert_eq!(
        Related::new(&all).of(0),
        [(1, "Umbrella".to_string()), (2, "entry u2".to_string())],
        "an entry shared says so before a name"
    );
    assert_eq!(Related::new(&all).of(3), []);
}
