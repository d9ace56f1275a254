-- MFA (SQLite; kept parallel to migrations/postgres/0003_mfa.sql).
--
-- A user has at most one confirmed TOTP factor and at most one pending one (enrolled, waiting for
-- its first code); the partial unique indexes hold that. The secret is stored encrypted
-- (XChaCha20-Poly1305, bound to the principal), never in clear. Recovery codes are stored as keyed
-- hashes (HMAC-SHA256) only.

CREATE TABLE mfa_totp_factors (
    id              TEXT   NOT NULL PRIMARY KEY,
    principal_id    TEXT   NOT NULL REFERENCES principals (id),
    secret          TEXT   NOT NULL,
    confirmed_at    BIGINT,
    last_step       BIGINT,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX mfa_totp_factors_confirmed ON mfa_totp_factors (principal_id) WHERE confirmed_at IS NOT NULL;
CREATE UNIQUE INDEX mfa_totp_factors_pending ON mfa_totp_factors (principal_id) WHERE confirmed_at IS NULL;

CREATE TABLE mfa_recovery_codes (
    principal_id TEXT   NOT NULL REFERENCES principals (id),
    code_hash    TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    used_at      BIGINT,
    PRIMARY KEY (principal_id, code_hash)
);

-- When the session holding the token last passed MFA.
ALTER TABLE api_tokens ADD COLUMN mfa_at BIGINT;
