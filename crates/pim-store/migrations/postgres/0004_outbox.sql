-- pim schema, version 4 (PostgreSQL): the notification outbox and reminder tracking.
--
-- Kept line for line parallel to migrations/sqlite/0004_outbox.sql. The differences:
--   booleans are BOOLEAN here (INTEGER 0/1 there), ordered text is COLLATE "C" here.
--
-- One row per delivery: one notice to one email address, or to one configured webhook. Rows are
-- written in the same transaction as the change that caused them; a worker claims due rows with a
-- lease (claimed_until), delivers them outside any transaction, then records the outcome.
CREATE TABLE outbox (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    created_at      BIGINT  NOT NULL,
    event           TEXT COLLATE "C" NOT NULL,
    channel         TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    critical        BOOLEAN NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    claimed_until   BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    principal_id    TEXT COLLATE "C",
    role_id         TEXT COLLATE "C",
    scope           TEXT COLLATE "C",
    request_id      TEXT COLLATE "C"
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_request ON outbox (request_id);

-- Which reminder of an assignment's end was sent: 0 none, 1 the 14-day one, 2 the 1-day one.
-- Reset to 0 when the end changes. (The notice at the end goes with the recorded expiry.)
ALTER TABLE assignments ADD COLUMN reminder_stage INTEGER NOT NULL DEFAULT 0;
