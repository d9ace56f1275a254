-- The ends whose expiry is not recorded yet move from a flag on `assignments` to a small table of
-- their own (kept parallel to migrations/postgres/0020_unrecorded_ends_table.sql): one row per
-- assignment that has an end and whose `assignment.expired` event is not written yet. Recording an
-- expiry deletes its row instead of updating the assignment: on PostgreSQL that update could never
-- be HOT (the flag was in the partial index's predicate), so each mark wrote a new entry into every
-- index of `assignments`. Triggers keep the table in step with every write of `assignments`, so no
-- writer (the engine, the bulk seeder, a restore) can forget it: a row is added when an assignment
-- with an end is inserted, moved when its end changes (the expiry is then due again, as the flag
-- was reset), and dropped with the assignment.
CREATE TABLE unrecorded_ends (
    assignment_id TEXT   NOT NULL PRIMARY KEY,
    end_at        BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX unrecorded_ends_end ON unrecorded_ends (end_at, assignment_id);
INSERT INTO unrecorded_ends (assignment_id, end_at)
    SELECT id, end_at FROM assignments WHERE end_at IS NOT NULL AND expiry_recorded = 0;
DROP INDEX assignments_unrecorded_end;
ALTER TABLE assignments DROP COLUMN expiry_recorded;

CREATE TRIGGER assignments_end_inserted AFTER INSERT ON assignments
    WHEN NEW.end_at IS NOT NULL
BEGIN
    INSERT INTO unrecorded_ends (assignment_id, end_at) VALUES (NEW.id, NEW.end_at)
        ON CONFLICT (assignment_id) DO UPDATE SET end_at = excluded.end_at;
END;

CREATE TRIGGER assignments_end_changed AFTER UPDATE OF end_at ON assignments
    WHEN OLD.end_at IS NOT NEW.end_at
BEGIN
    DELETE FROM unrecorded_ends WHERE assignment_id = OLD.id;
    INSERT INTO unrecorded_ends (assignment_id, end_at) SELECT NEW.id, NEW.end_at WHERE NEW.end_at IS NOT NULL
        ON CONFLICT (assignment_id) DO UPDATE SET end_at = excluded.end_at;
END;

CREATE TRIGGER assignments_id_changed AFTER UPDATE OF id ON assignments
    WHEN OLD.id IS NOT NEW.id
BEGIN
    UPDATE unrecorded_ends SET assignment_id = NEW.id WHERE assignment_id = OLD.id;
END;

CREATE TRIGGER assignments_deleted AFTER DELETE ON assignments
BEGIN
    DELETE FROM unrecorded_ends WHERE assignment_id = OLD.id;
END;
