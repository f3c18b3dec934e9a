//! The words the service and the dashboard agree on: roles, pass and
//! proposal statuses, with the rules that move between them.

use serde::{Deserialize, Serialize};

/// Writes an enum's wire word, so one table serves `as_str` and serde.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            /// Reads the word on the wire or in the database.
            pub fn parse(word: &str) -> Option<$name> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// What a token may do: `admin` everything; `reviewer` read and decide
    /// for its agents; `ingest` write sessions and entries for its agents.
    Role {
        /// Everything, every agent.
        Admin = "admin",
        /// Read and decide, for its agents.
        Reviewer = "reviewer",
        /// Write sessions and entries, for its agents.
        Ingest = "ingest",
    }
}

words! {
    /// Where a pass is: running, or finished one way or the other.
    PassStatus {
        /// Started and not finished.
        Running = "running",
        /// Finished, with a proposal (perhaps an empty one).
        Completed = "completed",
        /// Finished without one; the pass says why.
        Failed = "failed",
    }
}

words! {
    /// The stage a running pass has reached, in order.
    PassStage {
        /// Claimed, not started.
        Queued = "queued",
        /// Reading the store and the sessions.
        Loading = "loading",
        /// The rules-only pass.
        Rules = "rules",
        /// Asking the model about what the rules left.
        Llm = "llm",
        /// Writing the proposal.
        Saving = "saving",
        /// Finished.
        Done = "done",
    }
}

words! {
    /// Where a proposal is. `Empty`: the pass found nothing to change.
    ProposalStatus {
        /// Waiting for a decision on every change.
        Pending = "pending",
        /// Some changes applied, some still waiting.
        PartiallyApplied = "partially_applied",
        /// Every change decided, at least one applied.
        Applied = "applied",
        /// Every change rejected.
        Rejected = "rejected",
        /// Nothing to change.
        Empty = "empty",
    }
}

words! {
    /// Where a webhook delivery is.
    DeliveryStatus {
        /// Not yet delivered; tried again later.
        Pending = "pending",
        /// The endpoint answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed, or the webhook was deleted.
        Failed = "failed",
    }
}

impl PassStatus {
    /// Whether the pass has ended, either way.
    pub fn is_finished(self) -> bool {
        self != PassStatus::Running
    }
}

impl ProposalStatus {
    /// The status a new proposal is saved with: `Empty` when it changes
    /// nothing.
    pub fn initial(changes: usize) -> ProposalStatus {
        if changes == 0 {
            ProposalStatus::Empty
        } else {
            ProposalStatus::Pending
        }
    }

    /// The status after a review: `pending` changes still undecided, of
    /// which `accepted` were accepted over the proposal's life.
    pub fn after(pending: usize, accepted: usize) -> ProposalStatus {
        match (pending, accepted) {
            (0, 0) => ProposalStatus::Rejected,
            (0, _) => ProposalStatus::Applied,
            (_, 0) => ProposalStatus::Pending,
            _ => ProposalStatus::PartiallyApplied,
        }
    }

    /// Whether changes may still be decided.
    pub fn is_open(self) -> bool {
        matches!(self, ProposalStatus::Pending | ProposalStatus::PartiallyApplied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_serde_and_parse() {
        for &s in ProposalStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<ProposalStatus>(&json).unwrap(), s);
            assert_eq!(ProposalStatus::parse(s.as_str()), Some(s));
        }
        for &s in PassStage::ALL {
            assert_eq!(PassStage::parse(s.as_str()), Some(s));
        }
        assert_eq!(Role::parse("owner"), None);
        assert!(serde_json::from_str::<PassStatus>("\"done\"").is_err());
    }

    #[test]
    fn a_review_moves_a_proposal_on() {
        assert_eq!(ProposalStatus::after(3, 0), ProposalStatus::Pending);
        assert_eq!(ProposalStatus::after(2, 1), ProposalStatus::PartiallyApplied);
        assert_eq!(ProposalStatus::after(0, 4), ProposalStatus::Applied);
        assert_eq!(ProposalStatus::after(0, 0), ProposalStatus::Rejected);
        assert_eq!(ProposalStatus::initial(0), ProposalStatus::Empty);
        assert!(ProposalStatus::PartiallyApplied.is_open());
        assert!(!ProposalStatus::Applied.is_open());
        assert!(PassStatus::Failed.is_finished() && !PassStatus::Running.is_finished());
    }
}
