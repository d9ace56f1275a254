-- Group commit's batch read (`q::current_assignments_at`: the requesters and their groups, each
-- activation's role, its scope and the ancestors) probes one index entry per key (kept parallel
-- to migrations/postgres/0021_assignments_role_scope_principal.sql, where the earlier `IN`-list
-- form of the read was planned, on a table not analysed yet, as a bitmap AND reading every row of
-- the role). With the principal as the third column a probe reads only that key's rows. It
-- replaces `assignments_role_scope`, whose reads (by role, by role and scope) its leading columns
-- serve.
CREATE INDEX assignments_role_scope_principal ON assignments (role_id, scope, principal_id);
DROP INDEX assignments_role_scope;
