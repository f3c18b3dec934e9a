//! Memory stores: a versioned set of entries, private to one agent or shared
//! by several.

use rustc_hash::FxHashSet;

use serde::{Deserialize, Serialize};

use crate::entry::{Id, MemoryEntry, Status};
use crate::error::{Error, Result};

/// Which agents use a store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scope {
    /// Used by one agent only.
    Private {
        /// The agent that uses the store.
        agent_id: Id,
    },
    /// Used by several agents: passes on it always need a person's approval.
    Shared {
        /// The agents that use the store.
        agent_ids: Vec<Id>,
    },
}

impl Scope {
    /// Whether the store is [`Scope::Shared`].
    pub fn is_shared(&self) -> bool {
        matches!(self, Scope::Shared { .. })
    }
}

/// A versioned set of memory entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryStore {
    /// The store's id.
    pub id: Id,
    /// Goes up by one each time changes are applied or rolled back.
    pub version: u64,
    /// Which agents use the store.
    pub scope: Scope,
    /// Every entry, retired ones included; usually in id order.
    pub entries: Vec<MemoryEntry>,
}

impl MemoryStore {
    /// Parses and validates a store from JSON.
    pub fn from_json(json: &str) -> Result<Self> {
        let store: MemoryStore = serde_json::from_str(json)
            .map_err(|e| Error::Json { what: "memory store", message: e.to_string() })?;
        store.validate()?;
        Ok(store)
    }

    /// Every entry valid, ids unique, and every retired entry pointing at an
    /// entry of this store.
    pub fn validate(&self) -> Result<()> {
        self.validate_visiting(|_| {}).map(|_| ())
    }

    /// `validate`, handing each active entry to `visit` on the way, while
    /// it is in cache: a million-entry store is then read from memory once,
    /// not once to check and again to use. Entries are visited only while
    /// they are in id order; the answer says whether all of them were (if
    /// not, the caller sorts and reads them itself). On an error some
    /// entries may have been visited.
    pub(crate) fn validate_visiting<'s>(
        &'s self,
        mut visit: impl FnMut(&'s MemoryEntry),
    ) -> Result<bool> {
        // Stores are usually kept in id order: then ids are unique when each
        // is greater than the one before, and references resolve by binary
        // search, with no hash set of a million ids.
        let mut sorted = true;
        let mut points_elsewhere = false;
        for (k, entry) in self.entries.iter().enumerate() {
            entry.validate()?;
            sorted = sorted && (k == 0 || self.entries[k - 1].id < entry.id);
            if sorted && entry.is_active() {
                visit(entry);
            }
            points_elsewhere = points_elsewhere
                || matches!(entry.status, Status::Superseded { .. } | Status::Merged { .. });
        }
        let ids: FxHashSet<&Id> = if sorted {
            FxHashSet::default()
        } else {
            let mut ids =
                FxHashSet::with_capacity_and_hasher(self.entries.len(), Default::default());
            for entry in &self.entries {
                if !ids.insert(&entry.id) {
                    return Err(Error::DuplicateId { kind: "entry", id: entry.id.to_string() });
                }
            }
            ids
        };
        if !points_elsewhere {
            return Ok(sorted);
        }
        let exists = |id: &Id| {
            if sorted {
                self.entries.binary_search_by(|e| e.id.cmp(id)).is_ok()
            } else {
                ids.contains(id)
            }
        };
        for entry in &self.entries {
            if let Status::Superseded { superseded_by: target, .. }
            | Status::Merged { merged_into: target } = &entry.status
            {
                if !exists(target) {
                    return Err(Error::UnknownId { kind: "entry", id: target.to_string() });
                }
            }
        }
        Ok(sorted)
    }

    /// The entry with id `id`, retired or not.
    pub fn get(&self, id: &Id) -> Option<&MemoryEntry> {
        self.entries.iter().find(|e| &e.id == id)
    }

    /// The active entries, in store order.
    pub fn active(&self) -> impl Iterator<Item = &MemoryEntry> {
        self.entries.iter().filter(|e| e.is_active())
    }
}
