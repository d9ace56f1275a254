#!/usr/bin/env bash
# HTTP load test of the check API: `POST /api/v1/check` against `GET /healthz` (a static response
# through the same server and middleware stack) and against nginx answering a static `200 ok` (the
# machine's HTTP ceiling: its own minimal config, 2 workers, a free port), side by side over
# loopback with wrk, in the same run.
#
#   bash bench/check_load.sh
#
# Builds `pim` in release mode, bootstraps a fresh SQLite server in a temporary directory, seeds a
# realistic world through the API (bench/seed_world.py), then runs wrk in rounds
# (healthz, check allowed, check denied, a batch of BATCH checks through `POST /api/v1/check/batch`)
# x RUNS and prints the medians (the batch also in checks per second); raw output goes to
# bench/results/<timestamp>/. Results are written down in docs/PERFORMANCE.md ("HTTP check").
#
# Needs: cargo, curl, python3 (standard library only), wrk and nginx (installed with apt-get when
# missing; NGINX=0 leaves nginx out).
# Knobs (environment): DURATION (10s), THREADS (2), CONNS (32), RUNS (3), WARMUP (3s), PORT (a free
# one), PIN (0: no pinning; 1: server on CPU 0, wrk on CPU 1), USERS (300), SKIP_BUILD (0),
# PIM (the binary measured: target/release/pim), BATCH (100 questions per batch, half allowed, half denied), WORLD (small: the API-seeded world of
# about 3,000 assignments; 1m: that world plus about 1,000,000 assignments bulk-seeded into the
# database by bench/seed_bulk.py, 100,000 users and 5,000 nested groups).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-3s}
PIN=${PIN:-0}
USERS=${USERS:-300}
SKIP_BUILD=${SKIP_BUILD:-0}
BATCH=${BATCH:-100}
WORLD=${WORLD:-small}
NGINX=${NGINX:-1}
PASSWORD="bench-password-$$"

log() { printf '[check_load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
secs() { local d=$1; case $d in *m) echo $((${d%m} * 60));; *s) echo "${d%s}";; *) echo "$d";; esac; }

for tool in cargo curl python3; do command -v "$tool" >/dev/null || die "$tool is needed"; done
if ! command -v wrk >/dev/null; then
    log "installing wrk (Debian package)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y wrk >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
    command -v wrk >/dev/null || die "could not install wrk"
fi
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
if [ "$NGINX" = 1 ] && [ ! -x "$NGINX_BIN" ]; then
    log "installing nginx (Debian package)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y nginx >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y nginx >/dev/null; }
    NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$NGINX_BIN" ] || die "could not install nginx"
fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/bench/results/$STAMP"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pim-check-load.XXXXXX")
SERVER_PID=""
NGINX_PID=""
mkdir -p "$OUT"

cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    [ -f "$TMP/server.log" ] && cp "$TMP/server.log" "$OUT/server.log" 2>/dev/null || true
    rm -rf "$TMP"
    [ $rc -eq 0 ] || log "failed (exit $rc); partial results in $OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Build.
cd "$ROOT"
if [ "$SKIP_BUILD" != 1 ]; then
    log "cargo build --release -p pim"
    cargo build --release -p pim >&2
fi
PIM=${PIM:-$ROOT/target/release/pim}
[ -x "$PIM" ] || die "$PIM is missing"

# 2. A fresh server on SQLite, its first administrator, and the world.
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE="http://127.0.0.1:$PORT"
DATA="$TMP/data"
printf '%s\n' "$PASSWORD" | "$PIM" admin bootstrap --data-dir "$DATA" --username admin --password-stdin >&2
start_server() {
    "$PIM" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 1200); do
        curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(tail -5 "$TMP/server.log")"
        sleep 0.1
    done
    curl -fsS "$BASE/healthz" >/dev/null || die "the server did not answer on $BASE"
    log "server pid $SERVER_PID on $BASE (data in $DATA)"
}
stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
start_server

# nginx beside it: the same loopback, the same wrk, a static answer.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [ "$NGINX" = 1 ]; then
    NGINX_PORT=$(free_port)
    mkdir -p "$TMP/nginx"
    cat >"$TMP/nginx/nginx.conf" <<NGINX_CONF
worker_processes 2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { default_type text/plain; return 200 "ok"; }
    }
}
NGINX_CONF
    "$NGINX_BIN" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$NGINX_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
    [ "$(curl -fsS "http://127.0.0.1:$NGINX_PORT/")" = ok ] || die "nginx did not answer: $(cat "$TMP/nginx/error.log" 2>/dev/null)"
    log "nginx pid $NGINX_PID on 127.0.0.1:$NGINX_PORT ($("$NGINX_BIN" -v 2>&1))"
fi

json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
ADMIN_TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" | json_get token)

log "seeding the world through the API"
timeout 600 python3 "$ROOT/bench/seed_world.py" --port "$PORT" --token "$ADMIN_TOKEN" --users "$USERS" \
    --time-limit 300 >"$TMP/world.json"
# The world without its secret, for the record.
python3 -c 'import json,sys; w=json.load(open(sys.argv[1])); w.pop("token"); json.dump(w, open(sys.argv[2],"w"), indent=1)' \
    "$TMP/world.json" "$OUT/world.json"
TOKEN=$(json_get token <"$TMP/world.json")
ALICE=$(json_get alice <"$TMP/world.json")
SCOPE=$(json_get checkScope <"$TMP/world.json")
GROUP=$(json_get allowingGroup <"$TMP/world.json")
log "world: $(python3 -c 'import json,sys; w=json.load(open(sys.argv[1])); print(w["counts"], "in", w["seedSeconds"], "s")' "$TMP/world.json")"
if [ "$WORLD" = 1m ]; then
    # The same world plus about 1,000,000 assignments written straight into the stopped server's
    # database (bench/seed_bulk.py): the figures below then hold at scale.
    stop_server
    log "bulk-seeding about 1,000,000 more assignments into $DATA/pim.db"
    python3 "$ROOT/bench/seed_bulk.py" --sqlite "$DATA/pim.db" >"$TMP/bulk.json"
    cp "$TMP/bulk.json" "$OUT/bulk-world.json"
    log "bulk world: $(python3 -c 'import json,sys; w=json.load(open(sys.argv[1])); print(w["counts"], "written in", w["writeSeconds"], "s")' "$TMP/bulk.json")"
    start_server
fi

BODY_ALLOWED="{\"principal\":\"$ALICE\",\"action\":\"storage.blobs.read\",\"scope\":\"$SCOPE\"}"
BODY_DENIED="{\"principal\":\"$ALICE\",\"action\":\"storage.blobs.delete\",\"scope\":\"$SCOPE\"}"
BODY_BATCH=$(python3 -c '
import json, sys
allowed, denied, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
print(json.dumps({"checks": [allowed if i % 2 == 0 else denied for i in range(n)]}, separators=(",", ":")))
' "$BODY_ALLOWED" "$BODY_DENIED" "$BATCH")

# The answers must be what we think we are measuring.
check_once() { curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$1" "$BASE/api/v1/check"; }
check_once "$BODY_ALLOWED" | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert a["allowed"] is True and a.get("viaGroup") == sys.argv[1] and a.get("scope") == sys.argv[2], a
' "$GROUP" "$SCOPE" || die "the allowed check does not answer allowed via the nested group"
check_once "$BODY_DENIED" | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert a["allowed"] is False, a
' || die "the denied check does not answer denied"
curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$BODY_BATCH" \
    "$BASE/api/v1/check/batch" | python3 -c '
import json, sys
r = json.load(sys.stdin)["results"]
assert [a["allowed"] for a in r] == [i % 2 == 0 for i in range(int(sys.argv[1]))], r[:4]
' "$BATCH" || die "the batch check does not answer allowed, denied, ... in order"

# 3. wrk scripts: a done() hook prints one JSON line with the figures.
cat >"$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,"mean_us":%.1f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"p999_us":%.0f,"max_us":%.0f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes, summary.requests / (summary.duration / 1e6),
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
EOF
post_script() {
    cat <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '$1'
EOF
    cat "$TMP/report.lua"
}
cp "$TMP/report.lua" "$TMP/healthz.lua"
cp "$TMP/report.lua" "$TMP/nginx.lua"
post_script "$BODY_ALLOWED" >"$TMP/check_allowed.lua"
post_script "$BODY_DENIED" >"$TMP/check_denied.lua"
post_script "$BODY_BATCH" >"$TMP/check_batch.lua"

WRK_PIN=()
if [ "$PIN" = 1 ]; then
    taskset -acp 0 "$SERVER_PID" >/dev/null
    [ -z "$NGINX_PID" ] || for p in $NGINX_PID $(pgrep -P "$NGINX_PID"); do taskset -acp 0 "$p" >/dev/null; done
    WRK_PIN=(taskset -c 1)
    PINNING="server pinned to CPU 0 (all threads), wrk to CPU 1"
else
    PINNING="not pinned: server and wrk share both CPUs"
fi

url_of() {
    case $1 in
        healthz) echo "$BASE/healthz" ;;
        nginx) echo "http://127.0.0.1:$NGINX_PORT/" ;;
        check_batch) echo "$BASE/api/v1/check/batch" ;;
        *) echo "$BASE/api/v1/check" ;;
    esac
}
# CPU ticks of the process answering `name` (nginx: its master and workers).
proc_ticks() {
    local pids=$SERVER_PID
    [ "$1" != nginx ] || pids="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
    local t=0 p
    for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}
cpu_line() { awk '/^cpu /{idle=$5+$6; t=0; for(i=2;i<=NF;i++) t+=$i; print t, idle}' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)
LIMIT=$(( $(secs "$DURATION") + 30 ))

run_wrk() { # name duration outfile
    local name=$1 dur=$2 out=$3
    timeout "$LIMIT" "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$dur" --latency \
        -s "$TMP/$name.lua" "$(url_of "$name")" >"$out"
}

{
    echo "date: $STAMP"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) (working tree as built)"
    echo "nproc: $(nproc)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "kernel: $(uname -r)"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "wrk parameters: -t$THREADS -c$CONNS -d$DURATION --latency, $RUNS rounds (nginx when NGINX=1, healthz, check_allowed, check_denied, check_batch of $BATCH), warm-up $WARMUP each"
    [ "$NGINX" != 1 ] || echo "nginx: $("$NGINX_BIN" -v 2>&1), 2 workers, static 200 ok"
    echo "pinning: $PINNING"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "allowed body: $BODY_ALLOWED"
    echo "denied body: $BODY_DENIED"
    echo "batch size: $BATCH"
    echo "world: $WORLD"
} >"$OUT/meta.txt"

log "warm-up ($WARMUP each)"
NAMES=(healthz check_allowed check_denied check_batch)
[ "$NGINX" != 1 ] || NAMES=(nginx "${NAMES[@]}")
for name in "${NAMES[@]}"; do run_wrk "$name" "$WARMUP" "$OUT/warmup-$name.txt"; done

: >"$OUT/runs.jsonl"
for round in $(seq 1 "$RUNS"); do
    for name in "${NAMES[@]}"; do
        log "round $round/$RUNS: $name ($DURATION)"
        raw="$OUT/run$round-$name.txt"
        t0=$(proc_ticks "$name"); read -r c0 i0 < <(cpu_line); load=$(cut -d' ' -f1 /proc/loadavg)
        run_wrk "$name" "$DURATION" "$raw"
        t1=$(proc_ticks "$name"); read -r c1 i1 < <(cpu_line)
        line=$(sed -n 's/^WRKJSON //p' "$raw")
        [ -n "$line" ] || die "no figures from wrk in $raw"
        python3 -c '
import json, sys
r = json.loads(sys.argv[1])
round_, name, t0, t1, c0, i0, c1, i1, tck, load = sys.argv[2:]
server_s = (int(t1) - int(t0)) / int(tck)
total, idle = int(c1) - int(c0), int(i1) - int(i0)
r.update(round=int(round_), name=name, load1=float(load),
         server_cpu_s=round(server_s, 2),
         server_cpu_us_per_req=round(server_s * 1e6 / max(r["requests"], 1), 1),
         machine_busy_pct=round(100 * (total - idle) / max(total, 1), 1))
print(json.dumps(r))
' "$line" "$round" "$name" "$t0" "$t1" "$c0" "$i0" "$c1" "$i1" "$CLK_TCK" "$load" >>"$OUT/runs.jsonl"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"

# 4. Summary (the server is stopped by the trap).
python3 "$ROOT/bench/summarize.py" "$OUT" | tee "$OUT/summary.txt"
log "raw results in ${OUT#"$ROOT"/}"
