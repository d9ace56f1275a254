-- The change feed: one row per entity a write changed, so every replica's access index can follow.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX changes_at ON changes (at);
