#!/usr/bin/env python3
"""Summarizes a bench/check_load.sh results directory: medians over the rounds of each endpoint,
the check/healthz ratios, and whether the goal (check at least half of healthz) is met.

    python3 bench/summarize.py bench/results/<timestamp>

Reads runs.jsonl; prints a table and writes summary.json beside it.
"""

import json
import os
import statistics
import sys

GOAL = 0.5
NAMES = ["healthz", "check_allowed", "check_denied"]


def ms(us):
    return f"{us / 1000:.2f}"


def main():
    out = sys.argv[1]
    runs = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
    by = {n: [r for r in runs if r["name"] == n] for n in NAMES}
    med = {}
    for n, rs in by.items():
        if not rs:
            continue
        m = lambda k: statistics.median(r[k] for r in rs)
        med[n] = {
            "runs": len(rs),
            "rps": m("rps"),
            "rps_each": [round(r["rps"]) for r in rs],
            "p50_us": m("p50_us"),
            "p90_us": m("p90_us"),
            "p99_us": m("p99_us"),
            "p999_us": m("p999_us"),
            "server_cpu_us_per_req": m("server_cpu_us_per_req"),
            "machine_busy_pct": m("machine_busy_pct"),
            "errors": sum(sum(r["errors"].values()) for r in rs),
        }
    # Per-round ratios: each check run against the healthz run of the same round.
    per_round = {}
    for n in NAMES[1:]:
        pairs = [(c["rps"], h["rps"]) for c in by.get(n, []) for h in by["healthz"] if h["round"] == c["round"]]
        per_round[n] = [round(c / h, 3) for c, h in pairs]
    ratio = {n: round(med[n]["rps"] / med["healthz"]["rps"], 3) for n in NAMES[1:] if n in med}
    met = all(r >= GOAL for r in ratio.values())

    print()
    print(f"{'endpoint':<15}{'req/s (median)':>15}{'runs':>24}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
          f"{'p99.9 ms':>10}{'srv CPU us/req':>16}{'errors':>8}")
    for n in NAMES:
        if n not in med:
            continue
        s = med[n]
        print(f"{n:<15}{s['rps']:>15.0f}{str(s['rps_each']):>24}{ms(s['p50_us']):>9}{ms(s['p90_us']):>9}"
              f"{ms(s['p99_us']):>9}{ms(s['p999_us']):>10}{s['server_cpu_us_per_req']:>16.1f}{s['errors']:>8}")
    print()
    for n, r in ratio.items():
        print(f"ratio {n}/healthz: {r:.2f} (medians); per round: {', '.join(f'{x:.2f}' for x in per_round[n])}")
    print(f"goal (check >= {GOAL:.0%} of healthz): {'met' if met else 'NOT met'}")
    json.dump({"medians": med, "ratios": ratio, "perRoundRatios": per_round, "goalMet": met},
              open(os.path.join(out, "summary.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
