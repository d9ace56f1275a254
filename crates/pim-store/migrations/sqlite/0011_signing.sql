-- Signed access tokens (kept parallel to migrations/postgres/0011_signing.sql; docs/designs/tokens.md).
--
-- Audiences: the resource servers that accept pim's tokens. name is the tokens' aud (unique,
-- compared exactly); role_ids is a JSON array of role ids (empty: every role); algorithm NULL is the
-- server's default; introspector is a principal whose API token may introspect this audience's tokens.
CREATE TABLE audiences (
    id            TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role_ids      TEXT   NOT NULL,
    scope_prefix  TEXT   NOT NULL,
    lifetime_secs BIGINT NOT NULL,
    algorithm     TEXT,
    introspector  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Signing keys. private_sealed is the PKCS#8 private key sealed by the secret box for
-- 'signing-key:<kid>'; public_jwk the JWK the JWKS serves. The current key of an algorithm is its
-- newest row with rotated_at NULL; a rotated key stays in the JWKS until retire_at, and the periodic
-- job records its retirement (retired_at).
CREATE TABLE signing_keys (
    kid            TEXT NOT NULL PRIMARY KEY,
    algorithm      TEXT   NOT NULL,
    public_jwk     TEXT   NOT NULL,
    private_sealed TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    rotated_at     BIGINT,
    retire_at      BIGINT,
    retired_at     BIGINT
);
CREATE INDEX signing_keys_algorithm ON signing_keys (algorithm, created_at);

-- When a principal was last disabled: access tokens issued before it never introspect as active
-- again, even once the principal is enabled again.
CREATE TABLE access_token_cutoffs (
    principal_id TEXT NOT NULL PRIMARY KEY,
    not_before   BIGINT NOT NULL
);
