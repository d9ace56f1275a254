-- The expiry worker's look-ups (kept parallel to migrations/postgres/0018_unrecorded_ends.sql): the
-- ended assignments not yet recorded, oldest end first, and the next end to wake up at. Partial,
-- so recorded history is never walked: without it a batch of the storm read every row with the
-- same end and sorted them by id (100,000 rows per batch of 1,000).
CREATE INDEX assignments_unrecorded_end ON assignments (end_at, id) WHERE expiry_recorded = FALSE;
