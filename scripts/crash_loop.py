#!/usr/bin/env python3
"""Crash loop: proves that `kill -9` at any moment loses no acknowledged change and no audit event.

Python 3 standard library only. For one backend (the embedded SQLite, or PostgreSQL in a fresh
database created with the `psql` CLI and dropped at the end) it:

1. starts `pim serve` on a fresh data directory, creates the first administrator with
   `POST /api/v1/setup` and signs in (`POST /api/v1/auth/login`) for a bearer token;
2. runs N cycles on that data; in each one W writer threads create
   users (`POST /api/v1/users`, names `c<cycle>-w<writer>-<n>`) as fast as they can, and after a
   random 0.3-2.0 s sends SIGKILL to the server while requests are in flight;
3. restarts the server and checks that every acknowledged user (2xx received) exists with the
   returned id, that each has its `user.create` success audit event, that a write cut off without
   answer is either wholly present (user and event) or wholly absent, and that
   `POST /api/v1/audit/verify` reports an intact chain;
4. at the end checks every acknowledged user and event of every cycle once more, prints a summary
   table and exits 1 if anything was lost, 2 if it could not run, 0 otherwise.

Usage:
  python3 scripts/crash_loop.py --pim target/release/pim --backend sqlite --cycles 50 --writers 8
  python3 scripts/crash_loop.py --pim target/release/pim --backend postgres \
      --postgres-url postgres://postgres@127.0.0.1:5432/test --cycles 50 --writers 8
"""

import argparse
import http.client
import json
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

CREATE_ACTION = "user.create"
ADMIN_NAME = "crash-admin"
START_TIMEOUT_S = 60.0
PAGE_LIMIT = 1000
LISTENING = re.compile(r"pim: listening on http://(\S+)")
SETUP_SECRET = re.compile(r"--secret ([0-9a-fA-F]+)")


class Server:
    """One `pim serve` process: started, waited for until ready, and killed with SIGKILL."""

    def __init__(self, pim, data_dir, database, log_path):
        self.pim, self.data_dir, self.database, self.log_path = pim, data_dir, database, log_path
        self.proc = None
        self.host = self.port = None
        self.setup_secret = None
        self.ready_s = None

    def start(self):
        """Starts the server and waits for /readyz; records the time to ready."""
        cmd = [self.pim, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir]
        if self.database:
            cmd += ["--database", self.database]
        began = time.monotonic()
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            self._read_banner()
            self._wait_ready(began)
        except RuntimeError as e:
            self.kill()
            raise RuntimeError(f"{e}; the end of its log:\n{self.log_tail()}") from None
        self.ready_s = time.monotonic() - began
        threading.Thread(target=self._drain, daemon=True).start()

    def _read_banner(self):
        """Reads stdout up to the `listening` line, keeping the setup secret if one is printed."""
        for line in self.proc.stdout:
            m = SETUP_SECRET.search(line)
            if m:
                self.setup_secret = m.group(1)
            m = LISTENING.search(line)
            if m:
                host, port = m.group(1).rsplit(":", 1)
                self.host, self.port = host, int(port)
                return
        raise RuntimeError(f"pim serve exited (code {self.proc.wait()}) before listening")

    def _wait_ready(self, began):
        """Polls `GET /readyz` until it answers 200 (the database is open and readable)."""
        while time.monotonic() - began < START_TIMEOUT_S:
            c = http.client.HTTPConnection(self.host, self.port, timeout=5)
            try:
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                c.close()
            time.sleep(0.01)
        raise RuntimeError("pim serve did not become ready in time")

    def log_tail(self, lines=20):
        """The last lines the server wrote on stderr."""
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def _drain(self):
        """Reads the rest of stdout so the server never blocks on a full pipe."""
        proc = self.proc
        for _ in proc.stdout:
            pass

    def kill(self):
        """SIGKILL, then reap the process."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()


class Api:
    """Blocking JSON calls to one server, with a keep-alive connection per instance."""

    def __init__(self, server, token=None):
        self.server, self.token = server, token
        self.conn = None

    def call(self, method, path, body=None):
        """Returns (status, parsed JSON or None); raises OSError/HTTPException when cut off."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except Exception:
            self.close()
            raise
        return r.status, (json.loads(raw) if raw and raw[:1] in (b"{", b"[") else None)

    def must(self, method, path, body=None):
        """A call that must succeed."""
        status, doc = self.call(method, path, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}: {doc}")
        return doc

    def pages(self, path, params):
        """Every item of a paged list, following `nextCursor`."""
        params = dict(params, limit=PAGE_LIMIT)
        while True:
            doc = self.must("GET", f"{path}?{urllib.parse.urlencode(params)}")
            yield from doc["items"]
            if not doc.get("nextCursor"):
                return
            params["cursor"] = doc["nextCursor"]

    def close(self):
        """Drops the connection; the next call opens a new one."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Ledger:
    """What the writers were told: acknowledged writes (name -> id), cut-off and refused writes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}
        self.cut_off = set()
        self.refused = []
        self.seconds = 0.0

    def ack(self, name, user_id):
        with self.lock:
            self.acked[name] = user_id

    def cut(self, name):
        with self.lock:
            self.cut_off.add(name)

    def refuse(self, name, status, doc):
        with self.lock:
            self.refused.append((name, status, doc))


def writer(server, token, cycle, index, ledger, stop):
    """Creates users as fast as it can until `stop`, recording each outcome in `ledger`."""
    api = Api(server, token)
    n = 0
    while not stop.is_set():
        name = f"c{cycle}-w{index}-{n}"
        n += 1
        try:
            status, doc = api.call("POST", "/api/v1/users", {"name": name})
        except ConnectionRefusedError:
            continue  # the server is gone: nothing was sent
        except (OSError, http.client.HTTPException):
            ledger.cut(name)
            continue
        if 200 <= status < 300 and doc and doc.get("id"):
            ledger.ack(name, doc["id"])
        else:
            ledger.refuse(name, status, doc)
    api.close()


def run_writers(server, token, cycle, writers, rng):
    """Runs the writers for a random 0.3-2.0 s, then SIGKILLs the server under their load."""
    ledger, stop = Ledger(), threading.Event()
    threads = [
        threading.Thread(target=writer, args=(server, token, cycle, i, ledger, stop), daemon=True)
        for i in range(writers)
    ]
    for t in threads:
        t.start()
    delay = rng.uniform(0.3, 2.0)
    time.sleep(delay)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    ledger.seconds = delay
    return ledger


def stored_users(api, prefix):
    """name -> id of the users whose name starts with `prefix`."""
    return {u["name"]: u["id"] for u in api.pages("/api/v1/users", {"q": prefix})}


def created_events(api, since):
    """principal id -> number of successful `user.create` events at or after `since`."""
    params = {"action": CREATE_ACTION, "outcome": "success"}
    if since is not None:
        params["from"] = since.strftime("%Y-%m-%dT%H:%M:%S.") + f"{since.microsecond // 1000:03d}Z"
    counts = {}
    for e in api.pages("/api/v1/audit", params):
        pid = e.get("principalId")
        counts[pid] = counts.get(pid, 0) + 1
    return counts


def check(api, acked, cut_off, prefix, since):
    """Counts lost acknowledged writes, missing events and cut-off writes found half-done."""
    users = stored_users(api, prefix)
    events = created_events(api, since)
    lost = [n for n, i in acked.items() if users.get(n) != i]
    missing = [n for n, i in acked.items() if events.get(i, 0) != 1]
    present = [n for n in cut_off if n in users]
    torn = [n for n in present if events.get(users[n], 0) != 1]
    report = api.must("POST", "/api/v1/audit/verify")
    return {
        "lost": lost,
        "missing": missing,
        "cut_present": len(present),
        "torn": torn,
        "chain_ok": bool(report.get("ok")),
        "checked": report.get("checked", 0),
        "problems": report.get("problems", []),
    }


def first_admin(server):
    """Creates the first administrator and returns a bearer token for it."""
    if not server.setup_secret:
        raise RuntimeError("the first start printed no setup secret")
    password = secrets.token_urlsafe(24)
    api = Api(server)
    api.must(
        "POST",
        "/api/v1/setup",
        {"setupSecret": server.setup_secret, "username": ADMIN_NAME, "password": password},
    )
    token = api.must("POST", "/api/v1/auth/login", {"username": ADMIN_NAME, "password": password})["token"]
    api.close()
    return token


def psql(admin_url, sql):
    """Runs one statement with the psql CLI against `admin_url`."""
    subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True)


def database_url(admin_url, name):
    """`admin_url` pointing at database `name` instead."""
    u = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def run_cycles(args, server, token, rng, totals):
    """The crash cycles on a running server; fills `totals`, returns every acknowledged and cut-off write.

    The server that checks a cycle is the one the next cycle's writers write to and kill.
    """
    all_acked, all_cut = {}, set()
    for cycle in range(1, args.cycles + 1):
        since = datetime.now(timezone.utc) - timedelta(seconds=1)
        ledger = run_writers(server, token, cycle, args.writers, rng)
        server.start()
        totals["ready"].append(server.ready_s)
        api = Api(server, token)
        r = check(api, ledger.acked, ledger.cut_off, f"c{cycle}-", since)
        api.close()
        record_cycle(totals, ledger, r)
        all_acked.update(ledger.acked)
        all_cut |= ledger.cut_off
        print(
            f"cycle {cycle:3d}: acked {len(ledger.acked):5d}  cut off {len(ledger.cut_off):2d} "
            f"(present {r['cut_present']:2d})  lost {len(r['lost'])}  missing events {len(r['missing'])}  "
            f"torn {len(r['torn'])}  chain {'ok' if r['chain_ok'] else 'BROKEN'} ({r['checked']} events)  "
            f"ready {server.ready_s * 1000:.0f} ms",
            flush=True,
        )
        if args.stop_on_loss and lost_anything(totals):
            break
    return all_acked, all_cut


def record_cycle(totals, ledger, r):
    """Adds one cycle's counts to the totals, printing the details of any loss."""
    totals["cycles"] += 1
    totals["acked"] += len(ledger.acked)
    totals["write_s"] += ledger.seconds
    totals["cut_off"] += len(ledger.cut_off)
    totals["cut_present"] += r["cut_present"]
    totals["refused"] += len(ledger.refused)
    totals["lost"] += len(r["lost"])
    totals["missing"] += len(r["missing"])
    totals["torn"] += len(r["torn"])
    totals["chain_failures"] += 0 if r["chain_ok"] else 1
    for name in r["lost"]:
        print(f"  LOST acknowledged user {name} (id {ledger.acked[name]})")
    for name in r["missing"]:
        print(f"  MISSING user.create event of {name} (id {ledger.acked[name]})")
    for name in r["torn"]:
        print(f"  TORN cut-off write {name}: user present without exactly one event")
    for name, status, doc in ledger.refused[:5]:
        print(f"  refused write {name}: {status} {doc}")
    for p in r["problems"][:5]:
        print(f"  CHAIN problem: {p}")


def final_check(server, token, all_acked, all_cut, totals):
    """Checks every cycle's acknowledged writes and every event once more, on the last restart."""
    api = Api(server, token)
    r = check(api, all_acked, all_cut, "c", None)
    api.close()
    totals["final_lost"] = len(r["lost"])
    totals["final_missing"] = len(r["missing"])
    totals["final_torn"] = len(r["torn"])
    totals["final_chain_ok"] = r["chain_ok"]
    totals["final_events"] = r["checked"]


def lost_anything(t):
    """Whether any cycle or the final check found a loss, a torn write, a refusal or a broken chain."""
    bad = t["lost"] + t["missing"] + t["torn"] + t["chain_failures"] + t["refused"]
    bad += t.get("final_lost", 0) + t.get("final_missing", 0) + t.get("final_torn", 0)
    return bad > 0 or not t.get("final_chain_ok", True)


def summary(args, t, elapsed):
    """The summary table."""
    ready = sorted(t["ready"])
    rows = [
        ("backend", args.backend),
        ("writers", args.writers),
        ("cycles (kill -9)", t["cycles"]),
        ("acknowledged writes", t["acked"]),
        ("  rate under load", f"{t['acked'] / max(t['write_s'], 1e-9):.0f} per second"),
        ("cut off without answer", t["cut_off"]),
        ("  of which present after restart", t["cut_present"]),
        ("refused writes (4xx/5xx)", t["refused"]),
        ("lost acknowledged writes", t["lost"]),
        ("missing audit events", t["missing"]),
        ("torn cut-off writes", t["torn"]),
        ("chain verification failures", t["chain_failures"]),
        ("final check: lost / missing / torn", f"{t['final_lost']} / {t['final_missing']} / {t['final_torn']}"),
        ("final check: chain", f"{'ok' if t['final_chain_ok'] else 'BROKEN'} ({t['final_events']} events)"),
        ("restarts after kill -9", len(ready)),
        ("time to ready, median", f"{statistics.median(ready) * 1000:.0f} ms"),
        ("time to ready, max", f"{ready[-1] * 1000:.0f} ms"),
        ("wall time", f"{elapsed:.0f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pim", required=True, help="path to the pim binary (target/release/pim)")
    p.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    p.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/test",
                   help="a database to connect to for CREATE/DROP DATABASE (postgres backend)")
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--seed", type=int, default=None, help="random seed of the kill delays")
    p.add_argument("--stop-on-loss", action="store_true", help="stop at the first cycle that lost anything")
    return p.parse_args()


def main():
    args = parse_args()
    # A SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C: the server, the data and the database go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    rng = random.Random(seed)
    print(f"crash loop: {args.backend}, {args.cycles} cycles, {args.writers} writers, seed {seed}", flush=True)
    data_dir = tempfile.mkdtemp(prefix="pim-crash-")
    log_dir = tempfile.mkdtemp(prefix="pim-crash-log-")
    db_name = f"crash_{secrets.token_hex(6)}" if args.backend == "postgres" else None
    database = None
    if db_name:
        psql(args.postgres_url, f"CREATE DATABASE {db_name}")
        database = database_url(args.postgres_url, db_name)
    server = Server(args.pim, data_dir, database, f"{log_dir}/server.log")
    totals = {k: 0 for k in ("cycles", "acked", "cut_off", "cut_present", "refused",
                             "lost", "missing", "torn", "chain_failures", "write_s")}
    totals["ready"] = []
    began = time.monotonic()
    try:
        server.start()
        token = first_admin(server)
        all_acked, all_cut = run_cycles(args, server, token, rng, totals)
        final_check(server, token, all_acked, all_cut, totals)
    except RuntimeError as e:
        print(f"crash loop: could not run: {e}", file=sys.stderr)
        return 2
    finally:
        server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(log_dir, ignore_errors=True)
        if db_name:
            psql(args.postgres_url, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    summary(args, totals, time.monotonic() - began)
    return 1 if lost_anything(totals) else 0


if __name__ == "__main__":
    sys.exit(main())
