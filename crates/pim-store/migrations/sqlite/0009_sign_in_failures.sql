-- Failed password sign-ins per user name, so the lockout holds across restarts and replicas (kept
-- parallel to migrations/postgres/0009_sign_in_failures.sql). Keyed by the SHA-256 (hex) of the
-- lower-case name, so a row is small whatever was typed; rows whose window ended are pruned, and
-- names of no principal are stored only while the table is small (see pim-engine/src/lockout.rs).
CREATE TABLE sign_in_failures (
    name_hash    TEXT   NOT NULL PRIMARY KEY,
    failed       BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_window ON sign_in_failures (window_start);
