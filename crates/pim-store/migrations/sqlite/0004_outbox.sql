-- pim schema, version 4 (SQLite): the notification outbox and reminder tracking.
--
-- Kept line for line parallel to migrations/postgres/0004_outbox.sql. The differences:
--   booleans are INTEGER 0/1 here (BOOLEAN there), ordered text is COLLATE "C" there.
--
-- One row per delivery: one notice to one email address, or to one configured webhook. Rows are
-- written in the same transaction as the change that caused them; a worker claims due rows with a
-- lease (claimed_until), delivers them outside any transaction, then records the outcome.
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    created_at      BIGINT  NOT NULL,
    event           TEXT    NOT NULL,
    channel         TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    critical        INTEGER NOT NULL CHECK (critical IN (0, 1)),
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    claimed_until   BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    principal_id    TEXT,
    role_id         TEXT,
    scope           TEXT,
    request_id      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_request ON outbox (request_id);

-- Which reminder of an assignment's end was sent: 0 none, 1 the 14-day one, 2 the 1-day one.
-- Reset to 0 when the end changes. (The notice at the end goes with the recorded expiry.)
ALTER TABLE assignments ADD COLUMN reminder_stage INTEGER NOT NULL DEFAULT 0;
