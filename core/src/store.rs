//! Memory stores: a versioned set of entries, private to one agent or shared
//! by several.

use rustc_hash::FxHashSet;

use serde::{Deserialize, Serialize};

use crate::entry::{Id, MemoryEntry, Status};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scope {
    Private {
        agent_id: Id,
    },
    /// Used by several agents: passes on it always need a person's approval.
    Shared {
        agent_ids: Vec<Id>,
    },
}

impl Scope {
    pub fn is_shared(&self) -> bool {
        matches!(self, Scope::Shared { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryStore {
    pub id: Id,
    pub version: u64,
    pub scope: Scope,
    pub entries: Vec<MemoryEntry>,
}

impl MemoryStore {
    /// Parses and validates a store from JSON.
    pub fn from_json(json: &str) -> Result<Self> {
        let store: MemoryStore =
            serde_json::from_str(json).map_err(|e| Error::Json { what: "memory store", message: e.to_string() })?;
        store.validate()?;
        Ok(store)
    }

    /// Every entry valid, ids unique, and every retired entry pointing at an
    /// entry of this store.
    pub fn validate(&self) -> Result<()> {
        for entry in &self.entries {
            entry.validate()?;
        }
        // Stores are usually kept in id order: then ids are unique when each
        // is greater than the one before, and references resolve by binary
        // search, with no hash set of a million ids.
        let sorted = self.entries.windows(2).all(|w| w[0].id < w[1].id);
        let ids: FxHashSet<&Id> = if sorted {
            FxHashSet::default()
        } else {
            let mut ids = FxHashSet::with_capacity_and_hasher(self.entries.len(), Default::default());
            for entry in &self.entries {
                if !ids.insert(&entry.id) {
                    return Err(Error::DuplicateId { kind: "entry", id: entry.id.to_string() });
                }
            }
            ids
        };
        let exists = |id: &Id| {
            if sorted {
                self.entries.binary_search_by(|e| e.id.cmp(id)).is_ok()
            } else {
                ids.contains(id)
            }
        };
        for entry in &self.entries {
            if let Status::Superseded { superseded_by: target, .. } | Status::Merged { merged_into: target } =
                &entry.status
            {
                if !exists(target) {
                    return Err(Error::UnknownId { kind: "entry", id: target.to_string() });
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, id: &Id) -> Option<&MemoryEntry> {
        self.entries.iter().find(|e| &e.id == id)
    }

    pub fn active(&self) -> impl Iterator<Item = &MemoryEntry> {
        self.entries.iter().filter(|e| e.is_active())
    }
}
