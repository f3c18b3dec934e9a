//! An agent's settings form: the fields as the person types them, the
//! config block they say, and the field each problem belongs to. The form
//! is checked as it is typed, by the core, with the rules the service
//! applies when it is saved.

use reverie_api::Agent;
use reverie_core::config::{ConfigInput, DreamingConfig};
use reverie_core::{Error, Id};
use serde_json::{json, Value};

/// A place on the form where a problem is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// How often passes run.
    Schedule,
    /// The time of day they run.
    Time,
    /// How far back a pass reads sessions.
    Window,
    /// The memory store.
    Store,
    /// Whether changes wait for approval.
    Approval,
    /// Who is told about passes.
    Notify,
    /// The form as a whole (a problem no one field owns).
    Form,
}

impl Field {
    /// The field a config error is about, from its path
    /// (`dreaming.inputs.sessions_since`, `dreaming.review.notify[2]`).
    pub fn of_path(path: &str) -> Field {
        let last = path.rsplit('.').next().unwrap_or(path);
        match last.split('[').next().unwrap_or(last) {
            "schedule" => Field::Schedule,
            "schedule_time" => Field::Time,
            "sessions_since" => Field::Window,
            "memory_store" => Field::Store,
            "require_approval" => Field::Approval,
            "notify" => Field::Notify,
            _ => Field::Form,
        }
    }
}

/// What is wrong with the form, and where to say it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Where the message goes.
    pub field: Field,
    /// The core's words.
    pub message: String,
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        match e {
            Error::Invalid { field, message } => Problem { field: Field::of_path(&field), message },
            other => Problem { field: Field::Form, message: other.to_string() },
        }
    }
}

/// The form's fields, as text the person edits.
#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    /// Scheduled passes run.
    pub enabled: bool,
    /// `nightly`, `weekly`, `monthly` or `on-demand`.
    pub schedule: String,
    /// `HH:MM`, UTC (a trailing "UTC" is allowed).
    pub time: String,
    /// How far back a pass reads: `90m`, `24h`, `7d`, `2w`.
    pub window: String,
    /// The memory store's id.
    pub store: String,
    /// Changes wait for a person's approval.
    pub approval: bool,
    /// Addresses to tell, separated by commas.
    pub notify: String,
}

impl Form {
    /// The form filled in with an agent's settings.
    pub fn of(agent: &Agent) -> Form {
        Form {
            enabled: agent.enabled,
            schedule: agent.schedule.clone(),
            time: agent.schedule_time.trim_end_matches(" UTC").to_string(),
            window: agent.sessions_since.clone(),
            store: agent.store.id.clone(),
            approval: agent.require_approval,
            notify: agent.notify.join(", "),
        }
    }

    /// The config block this form says, in the announcement's shape.
    pub fn document(&self, agent: &str) -> Value {
        let time = self.time.trim().trim_end_matches("UTC").trim_end();
        json!({
            "agent_id": agent,
            "dreaming": {
                "enabled": self.enabled,
                "schedule": self.schedule,
                "schedule_time": format!("{time} UTC"),
                "inputs": { "sessions_since": self.window.trim(), "memory_store": self.store.trim() },
                "review": { "require_approval": self.approval, "notify": self.notify },
            },
        })
    }

    /// The config this form gives agent `agent`, or the first problem
    /// with it. `shared`: the agent's store is shared by several agents
    /// (its passes always need approval).
    pub fn check(&self, agent: &str, shared: bool) -> Result<DreamingConfig, Problem> {
        let id = Id::new(agent)?;
        Ok(ConfigInput::parse(&self.document(agent), &id)?.resolve(shared)?)
    }
}

/// How the config is shown for copying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// As YAML, the announcement's form.
    #[default]
    Yaml,
    /// As JSON, what the API takes.
    Json,
}

/// The text shown for copying: the checked config in `format`, or a
/// request to fix the form first.
pub fn config_text(checked: &Result<DreamingConfig, Problem>, format: Format) -> String {
    match (checked, format) {
        (Ok(config), Format::Yaml) => config.to_yaml(),
        (Ok(config), Format::Json) => {
            serde_json::to_string_pretty(&config.to_json()).unwrap_or_default()
        }
        (Err(_), _) => "Fix the form to see the config.".into(),
    }
}

#[cfg(test)]
mod tests;
