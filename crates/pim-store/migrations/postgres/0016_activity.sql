-- Activity per activation (kept parallel to migrations/sqlite/0016_activity.sql; see docs/designs/activity.md).
-- What principals did in the systems that report to pim, and the connectors' grants and revokes,
-- each tied to the assignment (activation) it happened under, or unmatched (assignment_id NULL).
CREATE TABLE activity_events (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    at             BIGINT NOT NULL,
    principal_id   TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
    assignment_id  TEXT COLLATE "C",
    role_id        TEXT COLLATE "C",
    scope          TEXT COLLATE "C",
    system         TEXT   NOT NULL,
    action         TEXT   NOT NULL,
    target         TEXT,
    outcome        TEXT   NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail         TEXT,
    match_kind     TEXT   NOT NULL CHECK (match_kind IN ('explicit', 'inferred', 'unmatched')),
    source         TEXT   NOT NULL CHECK (source IN ('reported', 'connector')),
    reported_by    TEXT,
    recorded_at    BIGINT NOT NULL
);
-- Per activation, paged by id.
CREATE INDEX activity_events_assignment ON activity_events (assignment_id, id);
-- Per principal and time (reviews' last use, unmatched events).
CREATE INDEX activity_events_principal_at ON activity_events (principal_id, at);
-- Per role and time (whether anyone reports use of a role), and retention.
CREATE INDEX activity_events_role_at ON activity_events (role_id, at);
CREATE INDEX activity_events_recorded ON activity_events (recorded_at);

-- The latest reported use of a review item's access, shown beside its last activation.
ALTER TABLE access_review_items ADD COLUMN last_use BIGINT;
