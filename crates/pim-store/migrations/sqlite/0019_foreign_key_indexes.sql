-- Every foreign key's child column gets an index (kept parallel to
-- migrations/postgres/0019_foreign_key_indexes.sql). SQLite checks a deferred key by searching the
-- child table: without these, writing a request or an assignment through the engine scanned the
-- whole other table (found seeding the expiry storm: 5,000 users in 27.9 s with foreign keys on,
-- 0.9 s with them off). tests/it/open.rs asserts that no foreign key is left unindexed.
CREATE INDEX assignments_created_by_request ON assignments (created_by_request);
CREATE INDEX requests_eligibility ON requests (eligibility);
CREATE INDEX principals_manager ON principals (manager_id);
CREATE INDEX settings_changes_requested_by ON settings_changes (requested_by);
CREATE INDEX access_reviews_created_by ON access_reviews (created_by);
