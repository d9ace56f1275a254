-- Every foreign key's child column gets an index (kept parallel to
-- migrations/sqlite/0019_foreign_key_indexes.sql, where a deferred key check searched the whole
-- child table on each write). Here they serve removals and changes of a parent key and the joins
-- on these columns. tests/it/open.rs asserts that no foreign key is left unindexed.
CREATE INDEX assignments_created_by_request ON assignments (created_by_request);
CREATE INDEX requests_eligibility ON requests (eligibility);
CREATE INDEX principals_manager ON principals (manager_id);
CREATE INDEX settings_changes_requested_by ON settings_changes (requested_by);
CREATE INDEX access_reviews_created_by ON access_reviews (created_by);
