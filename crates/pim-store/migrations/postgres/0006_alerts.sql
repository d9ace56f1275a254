-- Security alerts (PostgreSQL; parallel to migrations/sqlite/0006_alerts.sql): administrators' changes to the built-in rules, and the alerts raised.
CREATE TABLE alert_rules (
    id         TEXT   NOT NULL PRIMARY KEY,
    config     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An alert is one JSON value (body); its rule, key and state are columns to find it by.
CREATE TABLE alerts (
    id         TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    rule_id    TEXT   NOT NULL,
    alert_key  TEXT   NOT NULL,
    state      TEXT   NOT NULL CHECK (state IN ('active', 'dismissed', 'resolved')),
    body       TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX alerts_state ON alerts (state);
CREATE INDEX alerts_rule_key ON alerts (rule_id, alert_key);
