-- Access reviews (PostgreSQL; parallel to migrations/sqlite/0007_reviews.sql). See docs/designs/access-reviews.md.
-- Targets, reviewers, schedules, decisions and enum values are JSON text, as in pim-domain/src/review.rs.
CREATE TABLE access_reviews (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    description     TEXT,
    target          TEXT    NOT NULL,
    kinds           TEXT    NOT NULL,
    inactive_days   INTEGER,
    reviewers       TEXT    NOT NULL,
    schedule        TEXT    NOT NULL,
    auto_apply      BOOLEAN NOT NULL,
    if_no_response  TEXT    NOT NULL,
    reason_required BOOLEAN NOT NULL,
    created_by      TEXT    NOT NULL REFERENCES principals (id),
    created_at      BIGINT  NOT NULL,
    stopped_at      BIGINT
);

CREATE TABLE access_review_instances (
    id           TEXT    NOT NULL PRIMARY KEY,
    review_id    TEXT    NOT NULL REFERENCES access_reviews (id),
    occurrence   INTEGER NOT NULL,
    start_at     BIGINT  NOT NULL,
    end_at       BIGINT  NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('InProgress', 'Completed', 'Applied')),
    reminded_at  BIGINT,
    completed_at BIGINT,
    applied_at   BIGINT,
    CONSTRAINT access_review_instances_occurrence UNIQUE (review_id, occurrence)
);
CREATE INDEX access_review_instances_status ON access_review_instances (status);

CREATE TABLE access_review_items (
    id                 TEXT   NOT NULL PRIMARY KEY,
    instance_id        TEXT   NOT NULL REFERENCES access_review_instances (id),
    assignment_id      TEXT,
    principal_id       TEXT   NOT NULL,
    role_id            TEXT   NOT NULL,
    scope              TEXT COLLATE "C" NOT NULL,
    kind               TEXT   NOT NULL CHECK (kind IN ('eligible', 'active')),
    last_activity      BIGINT,
    recommendation     TEXT   NOT NULL,
    reviewers          TEXT   NOT NULL,
    decision           TEXT,
    outcome            TEXT,
    applied_request_id TEXT
);
CREATE INDEX access_review_items_instance ON access_review_items (instance_id);
