-- A decision applied page by page holds its store while it stages: other
-- writes to the store are refused (409, try again) until it commits or
-- drops its staging, or the hold runs out (a request that died).
ALTER TABLE stores ADD COLUMN held_by TEXT;
ALTER TABLE stores ADD COLUMN held_until REAL;
