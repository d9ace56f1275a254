-- OpenID Connect device sign-ins (RFC 8628) begun and not yet finished (kept parallel to
-- migrations/sqlite/0017_oidc_device.sql; see docs/designs/oidc-device.md). Keyed by the SHA-256
-- (hex) of the handle pim gave the CLI; the provider's device authorization answer (with its device
-- code) is sealed with the server's secret key; `binding` is the hash of the CLI's binding. A poll
-- claims its slot by moving `next_poll_at`; the row is deleted when the sign-in finishes or is
-- refused, and pruned past `expires_at`.
CREATE TABLE oidc_device_pending (
    handle_hash   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    provider      TEXT   NOT NULL,
    sealed        TEXT   NOT NULL,
    binding       TEXT   NOT NULL,
    interval_ms   BIGINT NOT NULL,
    next_poll_at  BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX oidc_device_pending_expires ON oidc_device_pending (expires_at);
