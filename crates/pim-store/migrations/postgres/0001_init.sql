-- pim schema, version 1 (PostgreSQL).
--
-- Kept line for line parallel to migrations/sqlite/0001_init.sql. The differences:
--   booleans are BOOLEAN here (INTEGER 0/1 there),
--   text that is ordered or compared is COLLATE "C" here, so that order is byte order as in SQLite,
--   the audit sequence is BIGINT PRIMARY KEY here (INTEGER PRIMARY KEY, a rowid alias, there),
--   the assignments -> requests foreign key is added after both tables exist.
-- Ids are UUID strings, times are milliseconds since the epoch, JSON is TEXT.

CREATE TABLE principals (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('user', 'group', 'servicePrincipal')),
    name             TEXT    NOT NULL,
    name_key         TEXT COLLATE "C" NOT NULL,
    display_name     TEXT    NOT NULL,
    email            TEXT,
    description      TEXT,
    manager_id       TEXT COLLATE "C" REFERENCES principals (id),
    enabled          BOOLEAN NOT NULL,
    emergency_access BOOLEAN NOT NULL,
    last_sign_in_at  BIGINT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    CONSTRAINT principals_name_key UNIQUE (name_key)
);

CREATE TABLE credentials (
    principal_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES principals (id),
    password_hash TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE memberships (
    group_id   TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
    member_id  TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX memberships_member ON memberships (member_id);

CREATE TABLE roles (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    name_key    TEXT COLLATE "C" NOT NULL,
    description TEXT    NOT NULL,
    builtin     BOOLEAN NOT NULL,
    permissions TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    CONSTRAINT roles_name_key UNIQUE (name_key)
);

CREATE TABLE role_settings (
    role_id    TEXT COLLATE "C" NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    scope      TEXT COLLATE "C" NOT NULL,
    settings   TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT,
    PRIMARY KEY (role_id, scope)
);

CREATE TABLE resources (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    scope      TEXT COLLATE "C" NOT NULL,
    scope_key  TEXT COLLATE "C" NOT NULL,
    name       TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT resources_scope UNIQUE (scope)
);
CREATE INDEX resources_scope_key ON resources (scope_key);

-- role_id has no foreign key: a custom role may be deleted once nothing current holds it, and
-- ended assignments and old requests keep its id as history (as audit events do).
CREATE TABLE assignments (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    principal_id       TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
    principal_kind     TEXT    NOT NULL,
    role_id            TEXT COLLATE "C" NOT NULL,
    scope              TEXT COLLATE "C" NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('eligible', 'active')),
    start_at           BIGINT  NOT NULL,
    end_at             BIGINT,
    activated_from     TEXT COLLATE "C" REFERENCES assignments (id) DEFERRABLE INITIALLY DEFERRED,
    created_by_request TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT  NOT NULL,
    ended_early_at     BIGINT,
    expiry_recorded    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX assignments_principal ON assignments (principal_id);
CREATE INDEX assignments_role_scope ON assignments (role_id, scope);
CREATE INDEX assignments_activated_from ON assignments (activated_from);
CREATE INDEX assignments_end ON assignments (end_at);

CREATE TABLE requests (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    action            TEXT COLLATE "C" NOT NULL,
    status            TEXT COLLATE "C" NOT NULL,
    principal_id      TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
    role_id           TEXT COLLATE "C" NOT NULL,
    scope             TEXT COLLATE "C" NOT NULL,
    kind              TEXT   NOT NULL CHECK (kind IN ('eligible', 'active')),
    start_at          BIGINT NOT NULL,
    end_at            BIGINT,
    requested_by      TEXT   NOT NULL,
    justification     TEXT,
    ticket_system     TEXT,
    ticket_number     TEXT,
    target_assignment TEXT COLLATE "C" REFERENCES assignments (id) DEFERRABLE INITIALLY DEFERRED,
    eligibility       TEXT COLLATE "C" REFERENCES assignments (id) DEFERRABLE INITIALLY DEFERRED,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    status_reason     TEXT
);
ALTER TABLE assignments ADD CONSTRAINT assignments_created_by_request
    FOREIGN KEY (created_by_request) REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX requests_principal ON requests (principal_id);
CREATE INDEX requests_status ON requests (status);
CREATE INDEX requests_target_assignment ON requests (target_assignment);

CREATE TABLE api_tokens (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
    name         TEXT   NOT NULL,
    token_hash   TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    CONSTRAINT api_tokens_hash UNIQUE (token_hash)
);
CREATE INDEX api_tokens_principal ON api_tokens (principal_id);

-- The audit log has no foreign keys: it outlives what it talks about.
CREATE TABLE audit_events (
    seq             BIGINT  NOT NULL PRIMARY KEY,
    id              TEXT COLLATE "C" NOT NULL,
    at              BIGINT  NOT NULL,
    action          TEXT COLLATE "C" NOT NULL,
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
    key   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
