#!/usr/bin/env python3
"""Bulk-seeds a stopped pim database with a world of about 1,000,000 assignments, straight into its tables.

For the benchmarks that need a world at scale (bench/cold_start.sh, bench/check_load.sh WORLD=1m):
thousands of API calls would take hours, so this writes the rows the API would have written
(principals, memberships, one custom role, one request, the assignments) in one transaction:
SQLite through Python's sqlite3, PostgreSQL through `psql` and COPY. Run it only while no `pim serve`
uses the database; the next start loads the whole world into its index. It writes no audit events:
the world is a benchmark's fixture, not history (the audit chain stays intact; it just does not
mention these rows).

Python 3 standard library only (plus the `psql` client for PostgreSQL). Deterministic (fixed seed).
Prints one JSON object on stdout: the counts, and two checks with their expected answers
(`allowed` through a nested group at a deep scope, and `denied` after every grant was looked at).

The world (defaults; see --help), shaped like benches/check.rs's:
- 100,000 users (`bulk-u{i}`), 5,000 groups (4,000 leaf, 800 mid, 200 top); each user in 3 random
  leaf groups; half the leaf groups in a mid group, half the mid groups in a top group;
- one custom role `Bulk Operator` (`bulk.*`, without `bulk.secrets.*`) beside the built-in Reader
  and Contributor;
- the assignments: 38% on groups, 62% on users; 60% active, 40% eligible; 40% permanent, 40% current
  and time-bound, 10% already ended (their expiry recorded), 10% starting later; scopes
  `/bulk/t{0..9}/s{0..19}/rg{0..49}` (1% at /bulk, 9% a tenant, 30% a subscription, 60% a group).
- the asked-about user `bulk-probe` is in leaf group `bulk-g0`, nested in mid `bulk-g4000`, nested in
  top `bulk-g4800`; the top group holds an active permanent Bulk Operator at /bulk/t0/s0, so
  `bulk.vms.start` at /bulk/t0/s0/rg0/vms/vm-1 is allowed through two levels of nesting, and
  `pim.assignments.write` there is denied (Contributor excludes access management; no other role
  of the world grants it).
"""

import argparse
import io
import json
import random
import sqlite3
import subprocess
import sys
import time
import uuid

BUILTIN_READER = "00000000-0000-7000-8000-000000000008"
BUILTIN_CONTRIBUTOR = "00000000-0000-7000-8000-000000000007"
BULK_ROLE = "0190f000-0000-7000-8000-00000000b01c"
DAY_MS = 86_400_000


def ids(rng, n):
    """n distinct UUID strings (version 7 layout, random bits from the seeded generator)."""
    out = []
    for _ in range(n):
        b = bytearray(rng.getrandbits(128).to_bytes(16, "big"))
        b[6] = (b[6] & 0x0F) | 0x70
        b[8] = (b[8] & 0x3F) | 0x80
        out.append(str(uuid.UUID(bytes=bytes(b))))
    return out


def build(args):
    """The rows of every table, as lists of tuples in column order (booleans as Python bools)."""
    rng = random.Random(args.seed)
    now = int(time.time() * 1000)
    users = ids(rng, args.users)
    groups = ids(rng, args.groups)
    probe = ids(rng, 1)[0]
    n_leaf, n_mid = args.groups * 4 // 5, args.groups * 4 // 25
    leaf, mid, top = groups[:n_leaf], groups[n_leaf : n_leaf + n_mid], groups[n_leaf + n_mid :]

    principals = []
    for i, pid in enumerate(users):
        name = f"bulk-u{i}"
        principals.append((pid, "user", name, name, f"Bulk user {i}", None, None, None, i % 97 != 0, False, None, now, now))
    for i, gid in enumerate(groups):
        name = f"bulk-g{i}"
        principals.append((gid, "group", name, name, f"Bulk group {i}", None, None, None, i % 101 != 1, False, None, now, now))
    principals.append((probe, "user", "bulk-probe", "bulk-probe", "Bulk probe", None, None, None, True, False, None, now, now))

    memberships = set()
    for uid in users:
        for g in rng.sample(leaf, 3):
            memberships.add((g, uid))
    for i, g in enumerate(leaf):
        if i % 2 == 0:
            memberships.add((mid[(i // 2) % len(mid)], g))
    for i, g in enumerate(mid):
        if i % 2 == 0:
            memberships.add((top[(i // 2) % len(top)], g))
    # The probe's chain: leaf 0 -> mid 0 -> top 0 (leaf 0 and mid 0 are even, so nested above).
    memberships.add((leaf[0], probe))
    membership_rows = sorted((g, m, now) for g, m in memberships)

    roles = [(BULK_ROLE, "Bulk Operator", "bulk operator", "Operates the bulk world.", False,
              json.dumps({"actions": ["bulk.*"], "notActions": ["bulk.secrets.*"]}), now, now)]

    request_id = ids(rng, 1)[0]
    requests = [(request_id, "adminAssign", "Provisioned", probe, BULK_ROLE, "/bulk", "active", now, None,
                 probe, "bench/seed_bulk.py: the bulk world", None, None, None, None, now, now, None, None, False, None)]

    scopes_t = [f"/bulk/t{t}" for t in range(10)]
    scopes_s = [f"/bulk/t{t}/s{s}" for t in range(10) for s in range(20)]
    scopes_rg = [f"/bulk/t{t}/s{s}/rg{r}" for t in range(10) for s in range(20) for r in range(50)]
    role_pool = [BULK_ROLE, BUILTIN_READER, BUILTIN_CONTRIBUTOR]
    assignment_ids = ids(rng, args.assignments)
    assignments = []
    for aid in assignment_ids:
        on_group = rng.random() < 0.38
        pid, pkind = (rng.choice(groups), "group") if on_group else (rng.choice(users), "user")
        x = rng.random()
        scope = "/bulk" if x < 0.01 else rng.choice(scopes_t) if x < 0.10 else rng.choice(scopes_s) if x < 0.40 else rng.choice(scopes_rg)
        kind = "active" if rng.random() < 0.6 else "eligible"
        w = rng.random()
        if w < 0.4:
            start, end = now - 30 * DAY_MS, None
        elif w < 0.8:
            start, end = now - rng.randrange(DAY_MS), now + rng.randrange(1, 90) * DAY_MS
        elif w < 0.9:
            start, end = now - 60 * DAY_MS, now - rng.randrange(1, 30) * DAY_MS
        else:
            start, end = now + rng.randrange(1, 30) * DAY_MS, None
        assignments.append((aid, pid, pkind, rng.choice(role_pool), scope, kind, start, end, None, request_id, now, None, 0))
    allowing = ids(rng, 1)[0]
    assignments.append((allowing, top[0], "group", BULK_ROLE, "/bulk/t0/s0", "active", now - DAY_MS, None, None, request_id, now, None, 0))
    return {
        "principals": principals,
        "memberships": membership_rows,
        "roles": roles,
        "requests": requests,
        "assignments": assignments,
        "recorded_before": now,
    }, {"probe": probe, "probeName": "bulk-probe", "allowingGroup": top[0], "allowingAssignment": allowing}


COLUMNS = {
    "principals": "id, kind, name, name_key, display_name, email, description, manager_id, enabled, emergency_access, last_sign_in_at, created_at, updated_at",
    "memberships": "group_id, member_id, created_at",
    "roles": "id, name, name_key, description, builtin, permissions, created_at, updated_at",
    "requests": "id, action, status, principal_id, role_id, scope, kind, start_at, end_at, requested_by, justification, ticket_system, ticket_number, target_assignment, eligibility, created_at, updated_at, status_reason, duration_minutes, break_glass, approval",
    "assignments": "id, principal_id, principal_kind, role_id, scope, kind, start_at, end_at, activated_from, created_by_request, created_at, ended_early_at, reminder_stage",
}
ORDER = ["principals", "memberships", "roles", "requests", "assignments"]
# The ends already past are recorded (as their expiry would have been): the triggers of migration
# 0020 queue every inserted end in `unrecorded_ends`; the past ones are taken out again.
RECORD_PAST_ENDS = "DELETE FROM unrecorded_ends WHERE end_at <= {now}"


def seed_sqlite(path, rows):
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    with db:
        for table in ORDER:
            cols = COLUMNS[table]
            marks = ", ".join("?" for _ in cols.split(","))
            db.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                ([int(v) if isinstance(v, bool) else v for v in r] for r in rows[table]),
            )
        db.execute(RECORD_PAST_ENDS.format(now=int(rows["recorded_before"])))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()


def csv_value(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "t" if v else "f"
    s = str(v)
    if any(c in s for c in ',"\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def seed_postgres(url, rows):
    script = io.StringIO()
    script.write("\\set ON_ERROR_STOP on\nBEGIN;\n")
    for table in ORDER:
        script.write(f"COPY {table} ({COLUMNS[table]}) FROM STDIN WITH (FORMAT csv);\n")
        for r in rows[table]:
            script.write(",".join(csv_value(v) for v in r))
            script.write("\n")
        script.write("\\.\n")
    script.write(RECORD_PAST_ENDS.format(now=int(rows["recorded_before"])) + ";\n")
    script.write("COMMIT;\nANALYZE;\n")
    done = subprocess.run(["psql", "-q", "-X", url], input=script.getvalue(), text=True, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"psql failed: {done.stderr.strip()[:2000]}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--sqlite", help="path of the stopped server's pim.db")
    target.add_argument("--postgres", help="URL of the stopped server's PostgreSQL database")
    p.add_argument("--assignments", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--groups", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=16)
    args = p.parse_args()
    if args.groups < 25:
        raise SystemExit("--groups must be at least 25")
    t0 = time.monotonic()
    rows, world = build(args)
    t1 = time.monotonic()
    if args.sqlite:
        seed_sqlite(args.sqlite, rows)
    else:
        seed_postgres(args.postgres, rows)
    t2 = time.monotonic()
    scope = "/bulk/t0/s0/rg0/vms/vm-1"
    world.update({
        "counts": {t: len(rows[t]) for t in ORDER},
        "buildSeconds": round(t1 - t0, 1),
        "writeSeconds": round(t2 - t1, 1),
        "checks": [
            {"body": {"principal": world["probe"], "action": "bulk.vms.start", "scope": scope}, "allowed": True},
            {"body": {"principal": world["probe"], "action": "pim.assignments.write", "scope": scope}, "allowed": False},
        ],
    })
    json.dump(world, sys.stdout)
    print()


if __name__ == "__main__":
    main()
