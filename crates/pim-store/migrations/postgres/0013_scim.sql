-- SCIM 2.0 provisioning (kept parallel between migrations/sqlite and migrations/postgres): the
-- registered SCIM clients and the SCIM attributes pim's directory has no column for.
-- docs/designs/scim.md explains the model.
--
-- A SCIM client: its bearer secret is kept as SHA-256 (hex), like API tokens. Names are unique
-- (case-insensitive: name_key is the lower-cased name), revoked clients included.
CREATE TABLE scim_clients (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name         TEXT   NOT NULL,
    name_key     TEXT COLLATE "C" NOT NULL,
    secret_hash  TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT COLLATE "C",
    revoked_at   BIGINT,
    last_used_at BIGINT,
    CONSTRAINT scim_clients_name UNIQUE (name_key),
    CONSTRAINT scim_clients_secret UNIQUE (secret_hash)
);

-- One row per user or group written through SCIM: its canonical SCIM document (JSON: name,
-- emails, addresses, the enterprise extension, ...), its externalId (indexed for the clients'
-- lookups), the client that last wrote it, and when SCIM deleted it (then SCIM no longer sees it;
-- the principal itself is disabled, never deleted).
CREATE TABLE scim_resources (
    principal_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES principals (id),
    external_id  TEXT COLLATE "C",
    document     TEXT   NOT NULL,
    client_id    TEXT COLLATE "C",
    updated_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX scim_resources_external_id ON scim_resources (external_id);
