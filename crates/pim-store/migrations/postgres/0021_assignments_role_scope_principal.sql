-- Group commit's batch read (`q::current_assignments_at`: the requesters and their groups, each
-- activation's role, its scope and the ancestors) probes one index entry per key, whatever the
-- table's statistics say (kept parallel to migrations/sqlite/0021_assignments_role_scope_principal.sql).
-- Its earlier form (`IN` lists of principals and scopes with the role) was answered, on a table
-- grown fast and not analysed yet (a new database under load, before autovacuum), with a bitmap
-- AND of `assignments_principal` and the role alone, reading every row of the role: 3.2 ms a
-- batch at 15,000 rows and growing, against 0.056 ms once analysed. With the principal as the
-- third column a probe reads only that key's rows, not every holder of the role at a scope
-- (at `/` that may be thousands). It replaces `assignments_role_scope`, whose reads (by role, by
-- role and scope) its leading columns serve.
CREATE INDEX assignments_role_scope_principal ON assignments (role_id, scope, principal_id);
DROP INDEX assignments_role_scope;
