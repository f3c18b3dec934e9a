//! An agent's dreaming configuration: the block of the announcement
//! (`agent_id`, `dreaming.enabled`, `schedule`, `schedule_time`,
//! `inputs.sessions_since`, `inputs.memory_store`, `review.require_approval`,
//! `review.notify`), read from a JSON tree (YAML is turned into the same
//! tree first, by [`from_yaml`]) with errors that name the bad field by its path.
//!
//! Where a field sits is read leniently, because people paste this block
//! from many places: each field may sit in its section (`dreaming.inputs`),
//! in `dreaming`, or at the top level (the announcement's own text lost its
//! indentation, so a verbatim paste is flat). A field given twice, an
//! unknown key, or a value of the wrong shape is an error naming the path.
//! The canonical form, written back by `to_json` and `to_yaml`, is nested.

use serde_json::{json, Map, Value};

use crate::entry::Id;
use crate::error::{Error, Result};
pub use crate::yaml::to_json as from_yaml;

/// How often scheduled passes run. `OnDemand` runs only when asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Every day, at the schedule time.
    Nightly,
    /// Mondays, at the schedule time.
    Weekly,
    /// The first day of each month, at the schedule time.
    Monthly,
    /// No scheduled passes; a pass runs only when asked.
    OnDemand,
}

impl Schedule {
    /// Every schedule, in the order error messages list them.
    pub const ALL: [Schedule; 4] =
        [Schedule::Nightly, Schedule::Weekly, Schedule::Monthly, Schedule::OnDemand];

    /// The name a config uses: `nightly`, `weekly`, `monthly` or `on-demand`.
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Nightly => "nightly",
            Schedule::Weekly => "weekly",
            Schedule::Monthly => "monthly",
            Schedule::OnDemand => "on-demand",
        }
    }

    /// The schedule whose `as_str` is `s`; None for any other text.
    pub fn parse(s: &str) -> Option<Schedule> {
        Schedule::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The window of sessions a pass reads when the config names none: the
    /// time since the previous scheduled pass.
    pub fn default_window(self) -> Window {
        match self {
            Schedule::Nightly | Schedule::OnDemand => Window { amount: 24, unit: 'h' },
            Schedule::Weekly => Window { amount: 7, unit: 'd' },
            Schedule::Monthly => Window { amount: 31, unit: 'd' },
        }
    }
}

/// A time of day in UTC, in minutes after midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `hour:minute` UTC; None unless the hour is below 24 and the minute below 60.
    pub fn new(hour: u16, minute: u16) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60).then_some(TimeOfDay(hour * 60 + minute))
    }

    /// Minutes after midnight UTC.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Reads `HH:MM`, optionally followed by ` UTC` or `Z`. Other zones are
    /// refused rather than guessed at.
    pub fn parse(s: &str) -> std::result::Result<TimeOfDay, String> {
        let s = s.trim();
        let clock = s.strip_suffix("UTC").or_else(|| s.strip_suffix('Z')).unwrap_or(s).trim_end();
        let bad = || {
            format!("`{s}` is not a UTC time of day; write it as \"HH:MM UTC\", e.g. \"03:00 UTC\"")
        };
        let (h, m) = clock.split_once(':').ok_or_else(bad)?;
        let digits = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || m.len() != 2 || !digits(m) {
            return Err(bad());
        }
        let (h, m) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        TimeOfDay::new(h, m)
            .ok_or_else(|| format!("`{s}` is not a time of day: hours run 00-23, minutes 00-59"))
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02} UTC", self.0 / 60, self.0 % 60)
    }
}

/// A look-back window such as `24h` or `7d`: minutes (`m`), hours (`h`),
/// days (`d`) or weeks (`w`), at most a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    amount: u32,
    unit: char,
}

impl Window {
    const MAX_MILLIS: i64 = 366 * 24 * 3_600_000;

    /// The window's length in milliseconds.
    pub fn millis(self) -> i64 {
        let unit = match self.unit {
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => 7 * 86_400_000,
        };
        i64::from(self.amount) * unit
    }

    /// Reads a whole number and a unit, e.g. `24h`, from 1m to 366d.
    pub fn parse(s: &str) -> std::result::Result<Window, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "`{s}` is not a window; write a whole number and a unit m, h, d or w, e.g. \"24h\""
            )
        };
        let unit =
            s.chars().last().filter(|c| matches!(c, 'm' | 'h' | 'd' | 'w')).ok_or_else(bad)?;
        let digits = &s[..s.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let amount: u32 = digits.parse().map_err(|_| bad())?;
        let window = Window { amount, unit };
        if amount == 0 || window.millis() > Window::MAX_MILLIS {
            return Err(format!("`{s}` is outside 1m..366d"));
        }
        Ok(window)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.amount, self.unit)
    }
}

/// A validated dreaming configuration with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct DreamingConfig {
    /// The agent the config belongs to.
    pub agent_id: Id,
    /// Whether scheduled passes run (default true).
    pub enabled: bool,
    /// How often passes run (default nightly; weekly for a shared store).
    pub schedule: Schedule,
    /// When scheduled passes run (default 03:00 UTC).
    pub schedule_time: TimeOfDay,
    /// How far back a pass reads sessions (default: the schedule's
    /// `default_window`).
    pub sessions_since: Window,
    /// The store passes consolidate (default: the agent's own, whose id is the
    /// agent's).
    pub memory_store: Id,
    /// Whether proposals wait for a person's review (default true; a shared
    /// store always needs it).
    pub require_approval: bool,
    /// Addresses told about each pass; they travel in webhook payloads.
    pub notify: Vec<String>,
}

/// What `parse` read; `resolve` fills the defaults that depend on the
/// memory store (shared stores run weekly and always need approval).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigInput {
    /// The agent the config is for, as given to `parse`.
    pub agent_id: Id,
    /// `enabled`; None when absent or null.
    pub enabled: Option<bool>,
    /// `schedule`; None when absent or null.
    pub schedule: Option<Schedule>,
    /// `schedule_time`; None when absent or null.
    pub schedule_time: Option<TimeOfDay>,
    /// `sessions_since`; None when absent or null.
    pub sessions_since: Option<Window>,
    /// `memory_store`; None when absent or null (see `store_id`).
    pub memory_store: Option<Id>,
    /// `require_approval`; None when absent or null.
    pub require_approval: Option<bool>,
    /// `notify`, as email addresses; None when absent or null.
    pub notify: Option<Vec<String>>,
}

/// Where each field may sit, leniently (see the module comment).
const FIELDS: [(&str, &[&str]); 8] = [
    ("agent_id", &[""]),
    ("enabled", &["", "dreaming"]),
    ("schedule", &["", "dreaming"]),
    ("schedule_time", &["", "dreaming"]),
    ("sessions_since", &["", "dreaming", "inputs", "dreaming.inputs"]),
    ("memory_store", &["", "dreaming", "inputs", "dreaming.inputs"]),
    ("require_approval", &["", "dreaming", "review", "dreaming.review"]),
    ("notify", &["", "dreaming", "review", "dreaming.review"]),
];
const SECTIONS: [(&str, &str); 3] =
    [("dreaming", ""), ("inputs", "dreaming"), ("review", "dreaming")];

const MAX_NOTIFY: usize = 50;

impl ConfigInput {
    fn empty(agent_id: Id) -> ConfigInput {
        ConfigInput {
            agent_id,
            enabled: None,
            schedule: None,
            schedule_time: None,
            sessions_since: None,
            memory_store: None,
            require_approval: None,
            notify: None,
        }
    }

    /// Reads the block for `agent_id`. A config that names another agent is
    /// an error: it was meant for someone else.
    pub fn parse(doc: &Value, agent_id: &Id) -> Result<ConfigInput> {
        let mut leaves: Vec<(&'static str, String, &Value)> = Vec::new();
        let Value::Object(top) = doc else {
            return Err(Error::invalid(
                "config",
                format!("must be a mapping of fields, got {}", kind_of(doc)),
            ));
        };
        collect(top, "", &mut leaves)?;
        let mut input = ConfigInput::empty(agent_id.clone());
        let mut seen: Vec<(&str, String)> = Vec::new();
        for (field, path, value) in leaves {
            if let Some((_, first)) = seen.iter().find(|(f, _)| *f == field) {
                return Err(Error::invalid(path, format!("is given twice (also as `{first}`)")));
            }
            seen.push((field, path.clone()));
            if value.is_null() {
                continue;
            }
            let bad = |message: String| Error::invalid(path.clone(), message);
            match field {
                "agent_id" => {
                    let named = Id::new(as_str(value, &path)?).map_err(|e| bad(e.to_string()))?;
                    if &named != agent_id {
                        return Err(bad(format!(
                            "names `{named}`, but this is the config of `{agent_id}`"
                        )));
                    }
                }
                "enabled" => input.enabled = Some(as_bool(value, &path)?),
                "require_approval" => input.require_approval = Some(as_bool(value, &path)?),
                "schedule" => {
                    let s = as_str(value, &path)?;
                    let names: Vec<&str> = Schedule::ALL.iter().map(|k| k.as_str()).collect();
                    input.schedule = Some(Schedule::parse(s.trim()).ok_or_else(|| {
                        bad(format!(
                            "`{s}` is not a schedule; expected one of {}",
                            names.join(", ")
                        ))
                    })?);
                }
                "schedule_time" => {
                    input.schedule_time =
                        Some(TimeOfDay::parse(as_str(value, &path)?).map_err(bad)?)
                }
                "sessions_since" => {
                    input.sessions_since = Some(Window::parse(as_str(value, &path)?).map_err(bad)?)
                }
                "memory_store" => {
                    input.memory_store = Some(
                        Id::new(as_str(value, &path)?.trim()).map_err(|e| bad(e.to_string()))?,
                    )
                }
                _ => input.notify = Some(notify_list(value, &path)?),
            }
        }
        Ok(input)
    }

    /// The store this config names, or the agent's own default store.
    pub fn store_id(&self) -> Id {
        self.memory_store.clone().unwrap_or_else(|| self.agent_id.clone())
    }

    /// Fills the defaults: nightly at 03:00 UTC (weekly for a shared store),
    /// a window matching the schedule, approval required. A shared store
    /// that is told not to require approval is an error, not a silent fix.
    pub fn resolve(self, shared_store: bool) -> Result<DreamingConfig> {
        if shared_store && self.require_approval == Some(false) {
            return Err(Error::invalid(
                "dreaming.review.require_approval",
                format!(
                    "store `{}` is shared by several agents: its passes always need approval",
                    self.store_id()
                ),
            ));
        }
        Ok(self.fill(shared_store))
    }

    fn fill(self, shared_store: bool) -> DreamingConfig {
        let schedule = self.schedule.unwrap_or(if shared_store {
            Schedule::Weekly
        } else {
            Schedule::Nightly
        });
        DreamingConfig {
            memory_store: self.store_id(),
            agent_id: self.agent_id,
            enabled: self.enabled.unwrap_or(true),
            schedule,
            schedule_time: self.schedule_time.unwrap_or(TimeOfDay(3 * 60)),
            sessions_since: self.sessions_since.unwrap_or(schedule.default_window()),
            require_approval: self.require_approval.unwrap_or(true),
            notify: self.notify.unwrap_or_default(),
        }
    }
}

impl DreamingConfig {
    /// The recommended configuration of a new agent with its own store.
    pub fn recommended(agent_id: Id) -> DreamingConfig {
        ConfigInput::empty(agent_id).fill(false)
    }

    /// The canonical nested JSON form.
    pub fn to_json(&self) -> Value {
        json!({
            "agent_id": self.agent_id,
            "dreaming": {
                "enabled": self.enabled,
                "schedule": self.schedule.as_str(),
                "schedule_time": self.schedule_time.to_string(),
                "inputs": {
                    "sessions_since": self.sessions_since.to_string(),
                    "memory_store": self.memory_store,
                },
                "review": {
                    "require_approval": self.require_approval,
                    "notify": self.notify,
                },
            },
        })
    }

    /// The same block as YAML, for people to copy. Strings are written as
    /// JSON strings, which YAML reads unchanged.
    pub fn to_yaml(&self) -> String {
        let q = |s: &str| Value::String(s.to_string()).to_string();
        let notify = if self.notify.is_empty() {
            " []".to_string()
        } else {
            self.notify.iter().map(|n| format!("\n      - {}", q(n))).collect()
        };
        format!(
            "agent_id: {}\ndreaming:\n  enabled: {}\n  schedule: {}\n  schedule_time: {}\n  inputs:\n    \
             sessions_since: {}\n    memory_store: {}\n  review:\n    require_approval: {}\n    notify:{notify}\n",
            q(self.agent_id.as_str()),
            self.enabled,
            q(self.schedule.as_str()),
            q(&self.schedule_time.to_string()),
            q(&self.sessions_since.to_string()),
            q(self.memory_store.as_str()),
            self.require_approval,
        )
    }
}

/// Walks the tree, checking every key against the sections and fields it
/// may hold, and collects the fields with their paths.
fn collect<'a>(
    object: &'a Map<String, Value>,
    section: &str,
    leaves: &mut Vec<(&'static str, String, &'a Value)>,
) -> Result<()> {
    for (key, value) in object {
        let path = if section.is_empty() { key.clone() } else { format!("{section}.{key}") };
        if SECTIONS
            .iter()
            .any(|(name, parent)| name == key && (section.is_empty() || *parent == section))
        {
            match value {
                // `path` is the section's name at the top, `dreaming.<name>` inside.
                Value::Object(inner) => collect(inner, &path, leaves)?,
                Value::Null => {}
                other => {
                    return Err(Error::invalid(
                        path,
                        format!("must be a mapping of fields, got {}", kind_of(other)),
                    ))
                }
            }
            continue;
        }
        match FIELDS.iter().find(|(name, _)| name == key) {
            Some((name, places)) if places.contains(&section) => leaves.push((name, path, value)),
            Some((_, places)) => {
                let at: Vec<String> = places
                    .iter()
                    .map(|p| if p.is_empty() { key.clone() } else { format!("{p}.{key}") })
                    .collect();
                return Err(Error::invalid(
                    path,
                    format!("is out of place; write it as {}", at.join(" or ")),
                ));
            }
            None => {
                let mut known: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
                known.extend(SECTIONS.iter().map(|(n, _)| *n));
                return Err(Error::invalid(
                    path,
                    format!("unknown field; known fields are {}", known.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn as_str<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.as_str().ok_or_else(|| Error::invalid(path, format!("must be a string, got {}", kind_of(v))))
}

fn as_bool(v: &Value, path: &str) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| Error::invalid(path, format!("must be true or false, got {}", kind_of(v))))
}

/// `notify` is a list of addresses or one comma-separated string of them.
fn notify_list(v: &Value, path: &str) -> Result<Vec<String>> {
    let items: Vec<String> = match v {
        Value::String(s) => {
            s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| as_str(item, &format!("{path}[{i}]")).map(|s| s.trim().to_string()))
            .collect::<Result<_>>()?,
        other => {
            return Err(Error::invalid(
                path,
                format!("must be a list of addresses, got {}", kind_of(other)),
            ));
        }
    };
    if items.len() > MAX_NOTIFY {
        return Err(Error::invalid(
            path,
            format!("lists {} addresses; the limit is {MAX_NOTIFY}", items.len()),
        ));
    }
    for item in &items {
        let looks_like_address = item.len() <= 254
            && !item.contains(char::is_whitespace)
            && item.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.contains('@')
            });
        if !looks_like_address {
            return Err(Error::invalid(path, format!("`{item}` is not an email address")));
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> Id {
        Id::new("agent_abc123").unwrap()
    }

    fn parse(doc: Value) -> Result<DreamingConfig> {
        ConfigInput::parse(&doc, &agent())?.resolve(false)
    }

    fn check_err(doc: Value, expected: &str) {
        match parse(doc.clone()) {
            Ok(c) => panic!("accepted {doc}: {c:?}"),
            Err(e) => {
                assert!(e.to_string().contains(expected), "{doc}\n -> {e}\n expected {expected:?}")
            }
        }
    }

    #[test]
    fn the_announcement_block_reads_nested_and_flat() {
        let nested = json!({
            "agent_id": "agent_abc123",
            "dreaming": {
                "enabled": true, "schedule": "nightly", "schedule_time": "03:00 UTC",
                "inputs": { "sessions_since": "24h", "memory_store": "primary" },
                "review": { "require_approval": true, "notify": "alice@team.example,review-bot@team.example" },
            },
        });
        let config = parse(nested).unwrap();
        assert_eq!(config.memory_store.as_str(), "primary");
        assert_eq!(config.notify, ["alice@team.example", "review-bot@team.example"]);
        assert_eq!(config.sessions_since.millis(), 24 * 3_600_000);
        // The announcement's text lost its indentation: sections are empty
        // and every field sits at the top.
        let flat = json!({
            "agent_id": "agent_abc123", "dreaming": null, "enabled": true, "schedule": "nightly",
            "schedule_time": "03:00 UTC", "inputs": null, "sessions_since": "24h", "memory_store": "primary",
            "review": null, "require_approval": true, "notify": "alice@team.example,review-bot@team.example",
        });
        assert_eq!(parse(flat).unwrap(), config);
        // The canonical form reads back to the same config.
        assert_eq!(parse(config.to_json()).unwrap(), config);
    }

    #[test]
    fn defaults_depend_on_the_store() {
        let input = ConfigInput::parse(&json!({}), &agent()).unwrap();
        let private = input.clone().resolve(false).unwrap();
        assert_eq!(
            (private.schedule, private.schedule_time.to_string()),
            (Schedule::Nightly, "03:00 UTC".into())
        );
        assert_eq!(
            (private.sessions_since.to_string(), private.require_approval),
            ("24h".into(), true)
        );
        assert_eq!(private.memory_store, agent());
        let shared = input.resolve(true).unwrap();
        assert_eq!(
            (shared.schedule, shared.sessions_since.to_string()),
            (Schedule::Weekly, "7d".into())
        );
        let no_gate =
            ConfigInput::parse(&json!({"review": {"require_approval": false}}), &agent()).unwrap();
        let err = no_gate.resolve(true).unwrap_err().to_string();
        assert!(err.contains("always need approval"), "{err}");
        assert_eq!(DreamingConfig::recommended(agent()), private);
    }

    #[test]
    fn bad_fields_are_named_by_path() {
        check_err(
            json!({"dreaming": {"schedule": "hourly"}}),
            "`dreaming.schedule`: `hourly` is not a schedule",
        );
        check_err(json!({"dreaming": {"schedule_time": "3am"}}), "`dreaming.schedule_time`");
        check_err(json!({"schedule_time": "03:00 CET"}), "HH:MM UTC");
        check_err(json!({"schedule_time": "24:00"}), "hours run 00-23");
        check_err(json!({"inputs": {"sessions_since": "0h"}}), "outside 1m..366d");
        check_err(json!({"inputs": {"sessions_since": "1 day"}}), "`inputs.sessions_since`");
        check_err(
            json!({"dreaming": {"enabled": "yes"}}),
            "`dreaming.enabled`: must be true or false",
        );
        check_err(json!({"dreaming": {"colour": "blue"}}), "`dreaming.colour`: unknown field");
        check_err(
            json!({"review": {"sessions_since": "24h"}}),
            "is out of place; write it as sessions_since or",
        );
        check_err(json!({"enabled": true, "dreaming": {"enabled": false}}), "is given twice");
        check_err(json!({"agent_id": "someone_else"}), "names `someone_else`");
        check_err(json!({"review": {"notify": "alice"}}), "`alice` is not an email address");
        check_err(json!({"review": {"notify": [1]}}), "`review.notify[0]`: must be a string");
        check_err(json!({"inputs": {"memory_store": "my store"}}), "contains ` `");
        check_err(json!(["nightly"]), "must be a mapping");
        check_err(json!({"dreaming": "on"}), "`dreaming`: must be a mapping");
    }

    #[test]
    fn times_and_windows_round_trip() {
        for (text, shown) in
            [("03:00 UTC", "03:00 UTC"), ("3:05", "03:05 UTC"), ("23:59Z", "23:59 UTC")]
        {
            assert_eq!(TimeOfDay::parse(text).unwrap().to_string(), shown);
        }
        for (text, millis) in [
            ("90m", 90 * 60_000),
            ("24h", 86_400_000),
            ("7d", 7 * 86_400_000),
            ("2w", 14 * 86_400_000),
        ] {
            let w = Window::parse(text).unwrap();
            assert_eq!((w.millis(), w.to_string()), (millis, text.to_string()));
        }
    }

    #[test]
    fn yaml_form_lists_every_field() {
        let mut config = parse(json!({"review": {"notify": ["a@x.example"]}})).unwrap();
        assert_eq!(
            config.to_yaml(),
            "agent_id: \"agent_abc123\"\ndreaming:\n  enabled: true\n  schedule: \"nightly\"\n  schedule_time: \
             \"03:00 UTC\"\n  inputs:\n    sessions_since: \"24h\"\n    memory_store: \"agent_abc123\"\n  review:\n    \
             require_approval: true\n    notify:\n      - \"a@x.example\"\n"
        );
        config.notify.clear();
        assert!(config.to_yaml().ends_with("notify: []\n"));
    }
}
