-- Approvals (SQLite; parallel to migrations/postgres/0005_approvals.sql).
-- A request's approval (stages copied from the role settings, decisions so far) is one JSON value.
ALTER TABLE requests ADD COLUMN duration_minutes INTEGER;
ALTER TABLE requests ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0 CHECK (break_glass IN (0, 1));
ALTER TABLE requests ADD COLUMN approval TEXT;

-- Changes to protected role settings, waiting for a second administrator.
CREATE TABLE settings_changes (
    id            TEXT   NOT NULL PRIMARY KEY,
    role_id       TEXT   NOT NULL,
    scope         TEXT   NOT NULL,
    settings      TEXT,
    status        TEXT   NOT NULL,
    requested_by  TEXT   NOT NULL REFERENCES principals (id),
    justification TEXT,
    decision      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    status_reason TEXT
);
CREATE INDEX settings_changes_status ON settings_changes (status);

-- Break-glass activations, queued for review after the fact.
CREATE TABLE break_glass_reviews (
    request_id   TEXT   NOT NULL PRIMARY KEY REFERENCES requests (id),
    principal_id TEXT   NOT NULL,
    role_id      TEXT   NOT NULL,
    scope        TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    reviewed_by  TEXT,
    reviewed_at  BIGINT,
    verdict      TEXT CHECK (verdict IN ('appropriate', 'inappropriate')),
    note         TEXT
);
CREATE INDEX break_glass_reviews_reviewed_at ON break_glass_reviews (reviewed_at);
