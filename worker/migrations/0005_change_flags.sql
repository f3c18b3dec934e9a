-- Whether a change carries a risk flag of its own (not one about the whole
-- proposal or store, such as a shared store): such a change is decided by
-- itself, never in a bulk "accept the unflagged rest". Changes saved before
-- this column are read from their bodies, every flag counting as the
-- change's own but a shared store's.
ALTER TABLE changes ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0;
UPDATE changes SET flagged = EXISTS (
    SELECT 1 FROM json_each(changes.body, '$.risk')
    WHERE json_extract(value, '$.kind') NOT IN ('shared_store', 'proposal_wide_deletion')
);
