//! Who is asking: bearer tokens with a role. `admin` may do everything;
//! `reviewer` reads and reviews the agents it is granted; `ingest` writes
//! sessions, metrics and entries for its one agent. Tokens are stored as
//! the SHA-256 of the secret; the environment's `ADMIN_TOKEN` is an admin
//! token that is never stored.

use reverie_api::{self as api, Role};
use serde::Serialize;
use sha2::{Digest, Sha256};
use worker::{Env, Request};

use crate::db::Db;
use crate::http::{self, ApiError, ApiResult, Query};
use crate::{repo, Cx};

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Principal {
    pub token_id: String,
    pub role: Role,
    pub label: String,
    /// Granted agents (reviewer) or the one agent (ingest).
    pub agents: Vec<String>,
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.label)
    }

    pub fn require_admin(&self) -> ApiResult<()> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::forbidden(format!(
                "this needs an admin token; yours is a {} token",
                self.role.as_str()
            ))),
        }
    }

    fn granted(&self, agent_id: &str) -> bool {
        self.role == Role::Admin || self.agents.iter().any(|a| a == agent_id)
    }

    /// Reading an agent's data: admins, its reviewers, its ingest token.
    pub fn can_read(&self, agent_id: &str) -> ApiResult<()> {
        if self.granted(agent_id) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this token is not granted agent `{agent_id}`")))
        }
    }

    /// Reviewing proposals and starting passes: admins and its reviewers.
    pub fn can_review(&self, agent_id: &str) -> ApiResult<()> {
        self.can_read(agent_id)?;
        match self.role {
            Role::Ingest => Err(ApiError::forbidden(
                "ingest tokens write sessions and entries; they cannot review",
            )),
            _ => Ok(()),
        }
    }

    /// Writing sessions, metrics and entries: admins and its ingest token.
    pub fn can_ingest(&self, agent_id: &str) -> ApiResult<()> {
        self.can_read(agent_id)?;
        match self.role {
            Role::Reviewer => Err(ApiError::forbidden(
                "reviewer tokens review; writing data needs an ingest token",
            )),
            _ => Ok(()),
        }
    }

    /// The granted agents as a JSON array for SQL's `json_each`, or `None`
    /// for an admin (every agent): lists filter with
    /// `(?N IS NULL OR agent_id IN (SELECT value FROM json_each(?N)))`.
    pub fn grant_filter(&self) -> ApiResult<Option<String>> {
        match self.role {
            Role::Admin => Ok(None),
            _ => Ok(Some(serde_json::to_string(&self.agents)?)),
        }
    }

    /// Whether any of `agents` is granted (for shared stores).
    pub fn can_read_any(&self, agents: &[String]) -> ApiResult<()> {
        match agents.iter().find(|a| self.granted(a)) {
            Some(_) => Ok(()),
            None if agents.is_empty() => self.require_admin(),
            None => Err(ApiError::forbidden(format!(
                "this token is not granted any of {}",
                agents.join(", ")
            ))),
        }
    }
}

pub(crate) fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The caller of `req`, or 401.
pub(crate) async fn authenticate(req: &Request, env: &Env, db: &Db) -> ApiResult<Principal> {
    let header = req.headers().get("authorization")?.unwrap_or_default();
    // The scheme's name is case-insensitive (RFC 9110, 11.1): "bearer" is
    // "Bearer".
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(ApiError::new(
            401,
            "missing bearer token: send `Authorization: Bearer <token>`",
        ));
    };
    let hash = sha256_hex(token);
    if let Some(admin) = admin_token(env) {
        if sha256_hex(&admin) == hash {
            return Ok(Principal {
                token_id: "env".into(),
                role: Role::Admin,
                label: "admin".into(),
                agents: vec![],
            });
        }
    }
    let Some(row) = repo::tokens::find_active(db, &hash).await? else {
        return Err(ApiError::new(401, "unknown or revoked token"));
    };
    Ok(Principal {
        token_id: row.id,
        role: row.role,
        label: row.label,
        agents: serde_json::from_str(&row.agents)?,
    })
}

fn admin_token(env: &Env) -> Option<String> {
    let value = env
        .secret("ADMIN_TOKEN")
        .map(|s| s.to_string())
        .or_else(|_| env.var("ADMIN_TOKEN").map(|v| v.to_string()));
    value.ok().filter(|t| !t.trim().is_empty())
}

/// `POST /tokens`: the secret is in this answer only.
pub(crate) async fn create(cx: &Cx, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    let new: api::NewToken = http::json_body(req, http::limits::SMALL).await?;
    let label = new.label.trim();
    if label.is_empty() || label.chars().count() > 80 || label.contains(char::is_control) {
        return Err(ApiError::new(
            422,
            "`label` must be 1 to 80 printable characters, e.g. the person's name",
        ));
    }
    match (new.role, new.agents.len()) {
        (Role::Admin, 0) | (Role::Reviewer, _) | (Role::Ingest, 1) => {}
        (Role::Admin, _) => {
            return Err(ApiError::new(422, "`agents`: admin tokens are not limited to agents"))
        }
        (Role::Ingest, n) => {
            return Err(ApiError::new(
                422,
                format!("`agents`: an ingest token writes for exactly one agent, got {n}"),
            ))
        }
    }
    for agent in &new.agents {
        if repo::agents::find_light(&cx.db, agent).await?.is_none() {
            return Err(ApiError::new(422, format!("`agents`: no agent `{agent}`")));
        }
    }
    let secret = format!("rvr_{}{}", crate::random_hex(), crate::random_hex());
    let id = format!("tok_{}", &crate::random_hex()[..12]);
    let hash = sha256_hex(&secret);
    repo::tokens::insert(&cx.db, &id, &hash, new.role, &new.agents, label, cx.now).await?;
    http::json_status(
        201,
        &api::CreatedToken {
            id,
            token: secret,
            role: new.role,
            agents: new.agents,
            label: label.to_string(),
            created_at: cx.now.0,
        },
    )
}

/// `GET /tokens`: every token, never a secret.
pub(crate) async fn list(cx: &Cx, _query: &Query) -> ApiResult {
    cx.who.require_admin()?;
    let tokens = repo::tokens::list(&cx.db)
        .await?
        .into_iter()
        .map(|t| {
            Ok(api::Token {
                agents: serde_json::from_str(&t.agents)?,
                id: t.id,
                role: t.role,
                label: t.label,
                created_at: t.created_at as i64,
                revoked_at: t.revoked_at.map(|r| r as i64),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    http::json(&api::TokenList { tokens })
}

/// `DELETE /tokens/{id}`: revokes; the row stays for the record.
pub(crate) async fn revoke(cx: &Cx, id: &str) -> ApiResult {
    cx.who.require_admin()?;
    if !repo::tokens::revoke(&cx.db, id, cx.now).await? {
        return Err(ApiError::not_found("active token", id));
    }
    http::no_content()
}

/// `GET /me`: the caller's role and grants.
pub(crate) fn me(cx: &Cx) -> ApiResult {
    http::json(&api::Me {
        token_id: cx.who.token_id.clone(),
        actor: cx.who.actor(),
        role: cx.who.role,
        label: cx.who.label.clone(),
        agents: cx.who.agents.clone(),
    })
}
