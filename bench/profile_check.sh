#!/usr/bin/env bash
# A perf profile of the release server under `POST /api/v1/check` load (the allowed check of
# bench/check_load.sh's world), with its CPU per request from /proc/<pid>/stat.
#
#   PIM=target/release/pim bash bench/profile_check.sh
#
# Bootstraps a fresh SQLite server in a temporary directory, seeds the world (bench/seed_world.py),
# runs wrk (-t2 -c$CONNS) for WARMUP, then again for DURATION under
# `perf record -F $FREQ -g -p <server pid>`, and prints `perf report --no-children` (top symbols,
# self time) and the kernel's share of the samples. Output under bench/results/profile-<timestamp>/.
# Knobs: PIM (target/release/pim), DURATION (10), WARMUP (3s), CONNS (64), FREQ (999), USERS (300),
# ENDPOINT (check: the allowed check; healthz).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIM=${PIM:-$ROOT/target/release/pim}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-64}
FREQ=${FREQ:-999}
USERS=${USERS:-300}
ENDPOINT=${ENDPOINT:-check}
PASSWORD="bench-password-$$"
log() { printf '[profile_check] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in perf wrk curl python3; do command -v "$tool" >/dev/null || die "$tool is needed"; done
[ -x "$PIM" ] || die "$PIM is missing"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/bench/results/profile-$STAMP"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pim-profile.XXXXXX")
SERVER_PID=""
mkdir -p "$OUT"
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
printf '%s\n' "$PASSWORD" | "$PIM" admin bootstrap --data-dir "$TMP/data" --username admin --password-stdin >&2
"$PIM" serve --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
ADMIN=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" | json_get token)
python3 "$ROOT/bench/seed_world.py" --port "$PORT" --token "$ADMIN" --users "$USERS" --time-limit 300 >"$TMP/world.json"
TOKEN=$(json_get token <"$TMP/world.json")
ALICE=$(json_get alice <"$TMP/world.json")
SCOPE=$(json_get checkScope <"$TMP/world.json")
if [ "$ENDPOINT" = healthz ]; then
    URL="$BASE/healthz"; : >"$TMP/load.lua"
else
    URL="$BASE/api/v1/check"
    cat >"$TMP/load.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"principal":"$ALICE","action":"storage.blobs.read","scope":"$SCOPE"}'
EOF
fi
wrk -t2 -c"$CONNS" -d"$WARMUP" -s "$TMP/load.lua" "$URL" >/dev/null
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
ticks() { awk '{print $14, $15}' "/proc/$SERVER_PID/stat"; }
read -r u0 s0 < <(ticks)
perf record -F "$FREQ" -g -p "$SERVER_PID" -o "$OUT/perf.data" -- sleep "$DURATION" 2>"$OUT/perf-record.log" &
PERF=$!
wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$TMP/load.lua" "$URL" | tee "$OUT/wrk.txt" >&2
wait "$PERF" || true
read -r u1 s1 < <(ticks)
REQS=$(awk '/requests in/{print $1}' "$OUT/wrk.txt")
TCK=$(getconf CLK_TCK)
python3 -c '
import sys
u0, s0, u1, s1, reqs, tck = map(float, sys.argv[1:])
user, sys_ = (u1 - u0) / tck * 1e6 / reqs, (s1 - s0) / tck * 1e6 / reqs
print(f"server CPU per request: {user + sys_:.1f} us (user {user:.1f}, kernel {sys_:.1f}) over {int(reqs)} requests")
' "$u0" "$s0" "$u1" "$s1" "$REQS" "$TCK" | tee "$OUT/cpu.txt"
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^$' | head -400 >"$OUT/report.txt" || true
perf report -i "$OUT/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep '%' | head -20 | tee "$OUT/dso.txt"
grep -E '^ +[0-9.]+%' "$OUT/report.txt" | head -60
log "profile in ${OUT#"$ROOT"/} (perf report -i $OUT/perf.data)"
