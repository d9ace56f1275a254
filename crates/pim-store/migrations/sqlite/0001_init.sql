-- pim schema, version 1 (SQLite).
--
-- Kept line for line parallel to migrations/postgres/0001_init.sql. The differences:
--   booleans are INTEGER 0/1 here (sqlx's Any driver cannot read SQLite's BOOLEAN affinity),
--   text that is ordered or compared is byte-ordered by default here (COLLATE "C" there),
--   the audit sequence is INTEGER PRIMARY KEY (a rowid alias) here.
-- Ids are UUID strings, times are milliseconds since the epoch, JSON is TEXT.

CREATE TABLE principals (
    id               TEXT    NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('user', 'group', 'servicePrincipal')),
    name             TEXT    NOT NULL,
    name_key         TEXT    NOT NULL,
    display_name     TEXT    NOT NULL,
    email            TEXT,
    description      TEXT,
    manager_id       TEXT    REFERENCES principals (id),
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    emergency_access INTEGER NOT NULL CHECK (emergency_access IN (0, 1)),
    last_sign_in_at  BIGINT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    CONSTRAINT principals_name_key UNIQUE (name_key)
);

CREATE TABLE credentials (
    principal_id  TEXT   NOT NULL PRIMARY KEY REFERENCES principals (id),
    password_hash TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE memberships (
    group_id   TEXT   NOT NULL REFERENCES principals (id),
    member_id  TEXT   NOT NULL REFERENCES principals (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX memberships_member ON memberships (member_id);

CREATE TABLE roles (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    description TEXT    NOT NULL,
    builtin     INTEGER NOT NULL CHECK (builtin IN (0, 1)),
    permissions TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    CONSTRAINT roles_name_key UNIQUE (name_key)
);

CREATE TABLE role_settings (
    role_id    TEXT   NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    scope      TEXT   NOT NULL,
    settings   TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT,
    PRIMARY KEY (role_id, scope)
);

CREATE TABLE resources (
    id         TEXT   NOT NULL PRIMARY KEY,
    scope      TEXT   NOT NULL,
    scope_key  TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT resources_scope UNIQUE (scope)
);
CREATE INDEX resources_scope_key ON resources (scope_key);

-- role_id has no foreign key: a custom role may be deleted once nothing current holds it, and
-- ended assignments and old requests keep its id as history (as audit events do).
CREATE TABLE assignments (
    id                 TEXT    NOT NULL PRIMARY KEY,
    principal_id       TEXT    NOT NULL REFERENCES principals (id),
    principal_kind     TEXT    NOT NULL,
    role_id            TEXT    NOT NULL,
    scope              TEXT    NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('eligible', 'active')),
    start_at           BIGINT  NOT NULL,
    end_at             BIGINT,
    activated_from     TEXT    REFERENCES assignments (id) DEFERRABLE INITIALLY DEFERRED,
    created_by_request TEXT    NOT NULL REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED,
    created_at         BIGINT  NOT NULL,
    ended_early_at     BIGINT,
    expiry_recorded    INTEGER NOT NULL DEFAULT 0 CHECK (expiry_recorded IN (0, 1))
);
CREATE INDEX assignments_principal ON assignments (principal_id);
CREATE INDEX assignments_role_scope ON assignments (role_id, scope);
CREATE INDEX assignments_activated_from ON assignments (activated_from);
CREATE INDEX assignments_end ON assignments (end_at);

CREATE TABLE requests (
    id                TEXT   NOT NULL PRIMARY KEY,
    action            TEXT   NOT NULL,
    status            TEXT   NOT NULL,
    principal_id      TEXT   NOT NULL REFERENCES principals (id),
    role_id           TEXT   NOT NULL,
    scope             TEXT   NOT NULL,
    kind              TEXT   NOT NULL CHECK (kind IN ('eligible', 'active')),
    start_at          BIGINT NOT NULL,
    end_at            BIGINT,
    requested_by      TEXT   NOT NULL,
    justification     TEXT,
    ticket_system     TEXT,
    ticket_number     TEXT,
    target_assignment TEXT   REFERENCES assignments (id) DEFERRABLE INITIALLY DEFERRED,
    eligibility       TEXT   REFERENCES assignments (id) DEFERRABLE INITIALLY DEFERRED,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    status_reason     TEXT
);
CREATE INDEX requests_principal ON requests (principal_id);
CREATE INDEX requests_status ON requests (status);
CREATE INDEX requests_target_assignment ON requests (target_assignment);

CREATE TABLE api_tokens (
    id           TEXT   NOT NULL PRIMARY KEY,
    principal_id TEXT   NOT NULL REFERENCES principals (id),
    name         TEXT   NOT NULL,
    token_hash   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    CONSTRAINT api_tokens_hash UNIQUE (token_hash)
);
CREATE INDEX api_tokens_principal ON api_tokens (principal_id);

-- The audit log has no foreign keys: it outlives what it talks about.
CREATE TABLE audit_events (
    seq             INTEGER NOT NULL PRIMARY KEY,
    id              TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    action          TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'failure')),
    error_code      TEXT,
    actor_id        TEXT,
    actor_name      TEXT,
    principal_id    TEXT,
    role_id         TEXT,
    scope           TEXT,
    justification   TEXT,
    ticket          TEXT,
    request_id      TEXT,
    http_request_id TEXT,
    client_addr     TEXT,
    details         TEXT    NOT NULL,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    CONSTRAINT audit_events_id UNIQUE (id)
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_actor ON audit_events (actor_id);
CREATE INDEX audit_events_principal ON audit_events (principal_id);

-- The head of the audit chain. Every write transaction starts by updating this one row, which
-- serializes writers; its seq and hash are those of the last event.
CREATE TABLE audit_head (
    id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq       BIGINT  NOT NULL,
    hash      TEXT    NOT NULL,
    locked_at BIGINT  NOT NULL
);
INSERT INTO audit_head (id, seq, hash, locked_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
