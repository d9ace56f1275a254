#!/usr/bin/env bash
# HTTP load test of the check API: `POST /api/v1/check` against `GET /healthz` (a static response
# through the same server and middleware stack), side by side over loopback with wrk.
#
#   bash bench/check_load.sh
#
# Builds `pim` in release mode, bootstraps a fresh SQLite server in a temporary directory, seeds a
# realistic world through the API (bench/seed_world.py), then runs wrk in rounds
# (healthz, check allowed, check denied) x RUNS and prints the medians; raw output goes to
# bench/results/<timestamp>/. Results are written down in docs/PERFORMANCE.md ("HTTP check").
#
# Needs: cargo, curl, python3 (standard library only), wrk (installed with apt-get when missing).
# Knobs (environment): DURATION (10s), THREADS (2), CONNS (32), RUNS (3), WARMUP (3s), PORT (a free
# one), PIN (0: no pinning; 1: server on CPU 0, wrk on CPU 1), USERS (300), SKIP_BUILD (0).
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

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/bench/results/$STAMP"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pim-check-load.XXXXXX")
SERVER_PID=""
mkdir -p "$OUT"

cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
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
PIM="$ROOT/target/release/pim"
[ -x "$PIM" ] || die "$PIM is missing"

# 2. A fresh server on SQLite, its first administrator, and the world.
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE="http://127.0.0.1:$PORT"
DATA="$TMP/data"
printf '%s\n' "$PASSWORD" | "$PIM" admin bootstrap --data-dir "$DATA" --username admin --password-stdin >&2
"$PIM" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(tail -5 "$TMP/server.log")"
    sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null || die "the server did not answer on $BASE"
log "server pid $SERVER_PID on $BASE (data in $DATA)"

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

BODY_ALLOWED="{\"principal\":\"$ALICE\",\"action\":\"storage.blobs.read\",\"scope\":\"$SCOPE\"}"
BODY_DENIED="{\"principal\":\"$ALICE\",\"action\":\"storage.blobs.delete\",\"scope\":\"$SCOPE\"}"

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
post_script "$BODY_ALLOWED" >"$TMP/check_allowed.lua"
post_script "$BODY_DENIED" >"$TMP/check_denied.lua"

WRK_PIN=()
if [ "$PIN" = 1 ]; then
    taskset -acp 0 "$SERVER_PID" >/dev/null
    WRK_PIN=(taskset -c 1)
    PINNING="server pinned to CPU 0 (all threads), wrk to CPU 1"
else
    PINNING="not pinned: server and wrk share both CPUs"
fi

url_of() { case $1 in healthz) echo "$BASE/healthz";; *) echo "$BASE/api/v1/check";; esac; }
proc_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
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
    echo "wrk parameters: -t$THREADS -c$CONNS -d$DURATION --latency, $RUNS rounds (healthz, check_allowed, check_denied), warm-up $WARMUP each"
    echo "pinning: $PINNING"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "allowed body: $BODY_ALLOWED"
    echo "denied body: $BODY_DENIED"
} >"$OUT/meta.txt"

log "warm-up ($WARMUP each)"
for name in healthz check_allowed check_denied; do run_wrk "$name" "$WARMUP" "$OUT/warmup-$name.txt"; done

NAMES=(healthz check_allowed check_denied)
: >"$OUT/runs.jsonl"
for round in $(seq 1 "$RUNS"); do
    for name in "${NAMES[@]}"; do
        log "round $round/$RUNS: $name ($DURATION)"
        raw="$OUT/run$round-$name.txt"
        t0=$(proc_ticks); read -r c0 i0 < <(cpu_line); load=$(cut -d' ' -f1 /proc/loadavg)
        run_wrk "$name" "$DURATION" "$raw"
        t1=$(proc_ticks); read -r c1 i1 < <(cpu_line)
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
