-- OpenID Connect sign-in (kept parallel to migrations/postgres/0014_oidc.sql; see docs/designs/oidc.md).
-- Which pim user each provider's subject (`sub`) is: matched on every sign-in, one user per subject.
CREATE TABLE oidc_identities (
    provider      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    principal_id  TEXT NOT NULL REFERENCES principals (id),
    email         TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX oidc_identities_principal ON oidc_identities (principal_id);

-- Sign-ins begun and not yet finished, keyed by the SHA-256 (hex) of their `state`, so any replica
-- can finish one and only once (the row is taken and deleted in one statement). The nonce and PKCE
-- verifier are sealed with the server's secret key; `binding` is the hash of the browser's cookie
-- (portal) or empty (CLI); rows past `expires_at` are pruned.
CREATE TABLE oidc_pending (
    state_hash    TEXT NOT NULL PRIMARY KEY,
    provider      TEXT   NOT NULL,
    sealed        TEXT   NOT NULL,
    redirect_uri  TEXT   NOT NULL,
    purpose       TEXT   NOT NULL,
    binding       TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX oidc_pending_expires ON oidc_pending (expires_at);
