//! The storage layer: one module per table family, with typed rows and
//! named operations; the SQL of those tables lives here and nowhere else.
//! (Moved family by family: `passes`, `proposals`, review memory,
//! `sessions`, the agents' schedule slots and the staging of large
//! decisions so far; the other handlers still hold their own
//! statements.)

pub(crate) mod passes;
pub(crate) mod proposals;
pub(crate) mod reviews;
pub(crate) mod sessions;
pub(crate) mod slots;
pub(crate) mod staging;
