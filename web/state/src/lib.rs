//! The dashboard's screens as plain data: the review of a proposal, an
//! agent's settings form, a dry run's estimate, and importing and
//! exporting memory files. The
//! screens hold these values in signals and call the transitions here, so
//! the rules are tested natively, without a browser.

#![warn(missing_docs)]

pub mod chart;
pub mod dream;
pub mod imports;
pub mod preview;
mod review;
pub mod settings;
#[cfg(test)]
mod test_support;

pub use review::{
    describe, proposal_warnings, step, Bulk, Draft, Filter, Key, Related, Rest, Review, State,
    Submission, MAX_RELATED,
};
