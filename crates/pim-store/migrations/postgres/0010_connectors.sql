-- Connectors (kept parallel between migrations/sqlite and migrations/postgres): the work queue,
-- what pim granted in each target, and managed logins' passwords waiting to be handed out.
-- docs/designs/connectors.md explains the model.
--
-- One row per connector and principal whose access in the target may be wrong from due_at on.
-- Written in the same transaction as the change (upsert: due_at the earlier, generation + 1);
-- claimed with a lease (claimed_until, also the claim's token); rescheduled at the principal's
-- next transition, or deleted, only by the worker that holds the lease and read this generation.
-- pending_since: since when the principal's access may be out of line (cleared by a success).
CREATE TABLE connector_work (
    connector     TEXT   NOT NULL,
    principal_id  TEXT   NOT NULL,
    due_at        BIGINT NOT NULL,
    generation    BIGINT NOT NULL DEFAULT 0,
    claimed_until BIGINT,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    pending_since BIGINT,
    PRIMARY KEY (connector, principal_id)
);
CREATE INDEX connector_work_due ON connector_work (due_at);

-- One row per connector, principal and entitlement pim granted (or tried to) in the target.
CREATE TABLE connector_grants (
    connector     TEXT   NOT NULL,
    principal_id  TEXT   NOT NULL,
    entitlement   TEXT   NOT NULL,
    account       TEXT   NOT NULL,
    state         TEXT   NOT NULL CHECK (state IN ('pending', 'granted', 'revoking', 'revoked', 'failed')),
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    ends_at       BIGINT,
    assignment_id TEXT,
    granted_at    BIGINT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (connector, principal_id, entitlement)
);
CREATE INDEX connector_grants_state ON connector_grants (connector, state);
CREATE INDEX connector_grants_account ON connector_grants (connector, account);

-- A managed login's password, sealed with the secret key, until its user takes it (once).
CREATE TABLE connector_credentials (
    connector    TEXT   NOT NULL,
    principal_id TEXT   NOT NULL,
    account      TEXT   NOT NULL,
    sealed       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    PRIMARY KEY (connector, principal_id)
);
