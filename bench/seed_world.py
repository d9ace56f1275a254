#!/usr/bin/env python3
"""Seeds a running pim server with a realistic world for bench/check_load.sh, through the HTTP API.

Python 3 standard library only. Deterministic (fixed random seed). Prints one JSON object on
stdout: the Access Checker's bearer token, the ids the load script asks about, and the counts.

The world (defaults; see --help):
- a scope tree five levels deep: 4 orgs x 3 divisions x 3 teams x 3 projects x 3 environments
  (/org-1/div-2/team-3/proj-1/env-2; 484 scopes, 324 of them leaves);
- 300 users plus `bench-alice`, the user the checks ask about;
- 40 groups nested three levels (org group > division group > team group); every user is in one
  or two team groups;
- two custom roles: `Blob Reader` (storage.blobs.read, storage.blobs.list) and `App Operator`
  (app.*, without app.secrets.read);
- 8 assignments per user and 15 per group (about 3,000), of Blob Reader, App Operator, Reader and
  Contributor, at scopes of depth 1-5 (mostly deep): 60% active (half permanent, half ending in
  1-90 days), 40% eligible;
- bench-alice is in team group `team-1-1-1`, inside `div-1-1`, inside `org-1`; `org-1` holds an
  active permanent Blob Reader at /org-1/div-1/team-1/proj-1/env-1 (the allowing assignment,
  reached through two levels of nesting). Alice and her three groups otherwise hold only App
  Operator (active) and Blob Reader (eligible), so `storage.blobs.read` there is allowed only
  through org-1 and `storage.blobs.delete` is denied after every entry has been looked at;
- a service principal `bench-checker` holding Access Checker at / with an API token: the caller.
"""

import argparse
import http.client
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

ORGS, DIVS, TEAMS, PROJS, ENVS = 4, 3, 3, 3, 3
CHECK_SCOPE = "/org-1/div-1/team-1/proj-1/env-1"
BUILTIN_READER = "00000000-0000-7000-8000-000000000008"
BUILTIN_CONTRIBUTOR = "00000000-0000-7000-8000-000000000007"
BUILTIN_ACCESS_CHECKER = "00000000-0000-7000-8000-000000000009"


class Api:
    """A keep-alive JSON client, one connection per thread."""

    def __init__(self, host, port, token, deadline):
        self.host, self.port, self.token, self.deadline = host, port, token, deadline
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.local.conn = c
        return c

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        if time.monotonic() > self.deadline:
            raise SystemExit("seeding took longer than its time limit")
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                c.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        if r.status not in expect:
            raise SystemExit(f"{method} {path} -> {r.status}: {raw[:500]!r}")
        return json.loads(raw) if raw else None


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True, help="an administrator's bearer token")
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--per-user", type=int, default=8, help="assignments per user")
    ap.add_argument("--per-group", type=int, default=15, help="assignments per group")
    ap.add_argument("--workers", type=int, default=4, help="parallel connections")
    ap.add_argument("--time-limit", type=float, default=300, help="seconds")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    started = time.monotonic()
    api = Api(a.host, a.port, a.token, started + a.time_limit)
    rng = random.Random(a.seed)
    pool = ThreadPoolExecutor(max_workers=a.workers)

    def pmap(fn, items):
        return list(pool.map(fn, items))

    # Scopes, by depth (1..5).
    levels = [[]]
    for o in range(1, ORGS + 1):
        levels[0].append(f"/org-{o}")
    for prefix, count in (("div", DIVS), ("team", TEAMS), ("proj", PROJS), ("env", ENVS)):
        levels.append([f"{p}/{prefix}-{i}" for p in levels[-1] for i in range(1, count + 1)])
    depth_weights = [5, 10, 20, 30, 35]
    forbidden = {"/" + "/".join(CHECK_SCOPE.strip("/").split("/")[:k]) for k in range(1, 6)}

    def random_scope(avoid_check_branch=False):
        while True:
            d = rng.choices(range(5), weights=depth_weights)[0]
            s = rng.choice(levels[d])
            if not (avoid_check_branch and s in forbidden):
                return s

    # Roles.
    roles = {r["name"]: r["id"] for r in api.call("GET", "/api/v1/roles")["items"]}

    def ensure_role(name, actions, not_actions):
        if name not in roles:
            body = {"name": name, "description": "bench", "permissions": {"actions": actions, "notActions": not_actions}}
            roles[name] = api.call("POST", "/api/v1/roles", body)["id"]
        return roles[name]

    blob_reader = ensure_role("Blob Reader", ["storage.blobs.read", "storage.blobs.list"], [])
    app_operator = ensure_role("App Operator", ["app.*"], ["app.secrets.read"])

    # Principals.
    users = pmap(lambda i: api.call("POST", "/api/v1/users", {"name": f"user-{i:04d}"})["id"], range(1, a.users + 1))
    alice = api.call("POST", "/api/v1/users", {"name": "bench-alice", "displayName": "Alice (bench)"})["id"]
    org_names = [f"org-{o}" for o in range(1, ORGS + 1)]
    div_names = [f"div-{o}-{d}" for o in range(1, ORGS + 1) for d in range(1, DIVS + 1)]
    team_names = [f"team-{o}-{d}-{t}" for o in range(1, ORGS + 1) for d in range(1, DIVS + 1) for t in (1, 2)]
    group_names = org_names + div_names + team_names
    gids = dict(zip(group_names, pmap(lambda n: api.call("POST", "/api/v1/groups", {"name": n})["id"], group_names)))

    # Memberships: team in division in org; users in one or two teams; alice in team-1-1-1.
    edges = [(gids[f"div-{o}-{d}"], gids[f"org-{o}"]) for o in range(1, ORGS + 1) for d in range(1, DIVS + 1)]
    edges += [(gids[t], gids["div-" + t[len("team-"):].rsplit("-", 1)[0]]) for t in team_names]
    for u in users:
        for t in rng.sample(team_names, rng.choice((1, 2))):
            edges.append((u, gids[t]))
    edges.append((alice, gids["team-1-1-1"]))
    pmap(lambda e: api.call("PUT", f"/api/v1/groups/{e[1]}/members/{e[0]}"), edges)

    # Assignments.
    now = datetime.now(timezone.utc)
    alice_chain = {alice, gids["team-1-1-1"], gids["div-1-1"], gids["org-1"]}
    general_roles = [blob_reader, app_operator, BUILTIN_READER, BUILTIN_CONTRIBUTOR]
    wanted = []

    taken = set()  # (principal, role, scope): pim refuses a second current one (already_exists)

    def random_assignment(pid):
        while True:
            body = draw_assignment(pid)
            key = (pid, body["roleId"], body["scope"])
            if key not in taken:
                taken.add(key)
                return body

    def draw_assignment(pid):
        limited = pid in alice_chain
        if rng.random() < 0.6:
            kind = "active"
            role = app_operator if limited else rng.choice(general_roles)
        else:
            kind = "eligible"
            role = blob_reader if limited else rng.choice(general_roles)
        body = {
            "action": "adminAssign",
            "principalId": pid,
            "roleId": role,
            "scope": random_scope(avoid_check_branch=limited and role != app_operator),
            "kind": kind,
            "justification": "bench seed",
        }
        if kind == "eligible" or rng.random() < 0.5:
            body["end"] = iso(now + timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 1439)))
        return body

    for u in users + [alice]:
        wanted += [random_assignment(u) for _ in range(a.per_user)]
    for g in gids.values():
        wanted += [random_assignment(g) for _ in range(a.per_group)]
    allowing = {
        "action": "adminAssign",
        "principalId": gids["org-1"],
        "roleId": blob_reader,
        "scope": CHECK_SCOPE,
        "kind": "active",
        "justification": "bench: the allowing assignment",
    }
    wanted.append(allowing)

    def assign(body):
        r = api.call("POST", "/api/v1/requests", body, expect=(201,))
        return r["assignment"]["id"] if r.get("assignment") else None

    ids = pmap(assign, wanted)
    allowing_id = ids[-1]

    # The caller: a service principal with Access Checker at / (time-bound: service principals may
    # not hold permanent assignments) and an API token.
    checker = api.call("POST", "/api/v1/service-principals", {"name": "bench-checker"})["id"]
    assign({"action": "adminAssign", "principalId": checker, "roleId": BUILTIN_ACCESS_CHECKER, "scope": "/",
            "kind": "active", "end": iso(now + timedelta(days=1)), "justification": "bench caller"})
    token = api.call("POST", "/api/v1/tokens", {"name": "bench", "expiresInDays": 1, "principalId": checker})["token"]
    pool.shutdown()

    out = {
        "token": token,
        "checker": checker,
        "alice": alice,
        "allowingGroup": gids["org-1"],
        "allowingAssignment": allowing_id,
        "checkScope": CHECK_SCOPE,
        "counts": {
            "users": len(users) + 1,
            "servicePrincipals": 1,
            "groups": len(gids),
            "memberships": len(edges),
            "customRoles": 2,
            "assignments": len(ids) + 2,  # + the admin's Global Administrator and the checker's
            "activeAssignments": sum(1 for w in wanted if w["kind"] == "active") + 2,
            "scopes": sum(len(l) for l in levels),
        },
        "seedSeconds": round(time.monotonic() - started, 1),
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
