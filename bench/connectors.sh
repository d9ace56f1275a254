#!/usr/bin/env bash
# Connector benchmark against the machine's PostgreSQL as the target: activation -> GRANT latency
# and an expiry storm of 10,000 users (crates/pim-engine/benches/connectors.rs), with pim's own
# database on SQLite, then (BACKENDS="sqlite postgres") on PostgreSQL too.
#
#   bash bench/connectors.sh
#
# Output goes to the terminal and to bench/results/connectors-<timestamp>/<backend>.txt (ignored by
# git). Results are written down in docs/PERFORMANCE.md ("Connectors").
# Knobs (environment): PIM_TEST_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/test), BACKENDS
# (sqlite), PIM_BENCH_SAMPLES (60), PIM_BENCH_STORM (10000), PIM_BENCH_STORM_LEAD_S (adaptive).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PIM_TEST_POSTGRES_URL=${PIM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
BACKENDS=${BACKENDS:-sqlite}
OUT="$ROOT/bench/results/connectors-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
cd "$ROOT"
cargo build -p pim-engine --bench connectors --profile bench
for b in $BACKENDS; do
    echo "[connectors] pim database: $b; load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/$b.txt"
    PIM_BENCH_BACKEND=$b cargo bench -p pim-engine --bench connectors 2>&1 | tee -a "$OUT/$b.txt"
    echo "[connectors] load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/$b.txt"
done
echo "[connectors] results in $OUT"
