-- SSH certificate authority (SQLite; kept parallel to migrations/postgres/0012_ssh_ca.sql).
-- docs/designs/ssh-certificates.md explains the model.
--
-- pim's CA keys for OpenSSH user certificates, shared by every replica. The private key is sealed
-- by the engine (XChaCha20-Poly1305 under the server's secret key, bound to 'ssh-ca:<id>'), never
-- stored in clear. One key is made on first need, inside a write transaction (writers are
-- serialized), so replicas never make two; the newest row is the key in use.
CREATE TABLE ssh_ca_keys (
    id          TEXT NOT NULL PRIMARY KEY,
    algorithm   TEXT   NOT NULL,
    public_key  TEXT   NOT NULL,
    sealed      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
