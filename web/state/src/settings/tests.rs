use reverie_api::{Agent, StoreSummary};

use super::*;

fn agent(shared: bool) -> Agent {
    Agent {
        id: "support-bot".into(),
        name: "Support bot".into(),
        created_at: None,
        updated_at: None,
        store: StoreSummary {
            id: if shared { "team".into() } else { "support-bot".into() },
            scope: None,
            shared,
            version: None,
            active_entries: 0,
        },
        enabled: true,
        schedule: "nightly".into(),
        schedule_time: "03:00 UTC".into(),
        sessions_since: "24h".into(),
        require_approval: true,
        notify: vec!["ops@team.example".into(), "lead@team.example".into()],
        next_run_at: None,
        last_pass: None,
        pending_proposals: 0,
        config: Value::Null,
    }
}

fn problem(form: &Form, shared: bool) -> Problem {
    form.check("support-bot", shared).expect_err("the form has a problem")
}

#[test]
fn an_agents_settings_check_as_they_are() {
    let form = Form::of(&agent(false));
    assert_eq!(form.time, "03:00");
    assert_eq!(form.notify, "ops@team.example, lead@team.example");
    let config = form.check("support-bot", false).unwrap();
    assert_eq!(config.schedule_time.to_string(), "03:00 UTC");
    assert_eq!(config.sessions_since.to_string(), "24h");
    assert_eq!(config.notify, ["ops@team.example", "lead@team.example"]);
    assert!(config.require_approval);
}

#[test]
fn each_problem_is_shown_at_its_field() {
    let base = Form::of(&agent(false));
    let with = |f: fn(&mut Form)| {
        let mut form = base.clone();
        f(&mut form);
        problem(&form, false).field
    };
    assert_eq!(with(|f| f.schedule = "hourly".into()), Field::Schedule);
    assert_eq!(with(|f| f.time = "25:00".into()), Field::Time);
    assert_eq!(with(|f| f.window = "7 fortnights".into()), Field::Window);
    assert_eq!(with(|f| f.store = "no spaces allowed".into()), Field::Store);
    assert_eq!(with(|f| f.notify = "ops@team.example, not an address".into()), Field::Notify);
}

#[test]
fn a_shared_store_keeps_approval_on() {
    let mut form = Form::of(&agent(true));
    assert!(form.check("support-bot", true).is_ok());
    form.approval = false;
    let p = problem(&form, true);
    assert_eq!(p.field, Field::Approval);
    assert!(p.message.contains("shared"), "{}", p.message);
    assert!(form.check("support-bot", false).is_ok(), "a store of its own may skip approval");
}

#[test]
fn a_time_may_be_typed_with_or_without_utc() {
    let mut form = Form::of(&agent(false));
    for typed in ["04:30", "04:30 UTC", " 04:30UTC "] {
        form.time = typed.into();
        let doc = form.document("support-bot");
        assert_eq!(doc["dreaming"]["schedule_time"], "04:30 UTC", "typed {typed:?}");
    }
}

#[test]
fn paths_name_their_fields() {
    assert_eq!(Field::of_path("dreaming.review.notify[2]"), Field::Notify);
    assert_eq!(Field::of_path("dreaming.inputs.sessions_since"), Field::Window);
    assert_eq!(Field::of_path("schedule_time"), Field::Time);
    assert_eq!(Field::of_path("agent_id"), Field::Form);
    assert_eq!(Field::of_path("config"), Field::Form);
}

#[test]
fn the_config_is_shown_only_when_the_form_is_right() {
    let form = Form::of(&agent(false));
    let checked = form.check("support-bot", false);
    let yaml = config_text(&checked, Format::Yaml);
    assert!(yaml.contains("schedule: \"nightly\""), "{yaml}");
    let json: Value = serde_json::from_str(&config_text(&checked, Format::Json)).unwrap();
    assert_eq!(json, checked.as_ref().unwrap().to_json());
    let mut bad = form.clone();
    bad.window = "soon".into();
    assert_eq!(
        config_text(&bad.check("support-bot", false), Format::Yaml),
        "Fix the form to see the config."
    );
}
