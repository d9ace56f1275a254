#!/usr/bin/env python3
"""Summarizes a bench/check_load.sh results directory: medians over the rounds of each endpoint,
the check/healthz ratios, the check/nginx ratios and whether the goal (a check at least 0.6x nginx
in the same run, stretch 0.8x, with p99 under 2 ms) is met, and the batch
check's questions per second (its requests per second times the batch size from meta.txt).

    python3 bench/summarize.py bench/results/<timestamp>

Reads runs.jsonl; prints a table and writes summary.json beside it.
"""

import json
import os
import statistics
import sys

GOAL = 0.6
STRETCH = 0.8
P99_GOAL_US = 2000
NAMES = ["nginx", "healthz", "check_allowed", "check_denied", "check_batch"]
SINGLE = ["check_allowed", "check_denied"]


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
    def rounds(base):
        out = {}
        for n in SINGLE:
            pairs = [(c["rps"], h["rps"]) for c in by.get(n, []) for h in by.get(base, []) if h["round"] == c["round"]]
            out[n] = [round(c / h, 3) for c, h in pairs]
        return out

    per_round = rounds("healthz")
    per_round_nginx = rounds("nginx")
    ratio = {n: round(med[n]["rps"] / med["healthz"]["rps"], 3) for n in SINGLE if n in med}
    ratio_nginx = {n: round(med[n]["rps"] / med["nginx"]["rps"], 3) for n in SINGLE if n in med and "nginx" in med}
    batch = 0
    meta = os.path.join(out, "meta.txt")
    if os.path.exists(meta):
        for line in open(meta):
            if line.startswith("batch size:"):
                batch = int(line.split(":", 1)[1])
    if "check_batch" in med and batch:
        med["check_batch"]["batch"] = batch
        med["check_batch"]["checks_per_s"] = med["check_batch"]["rps"] * batch
    met = bool(ratio_nginx) and all(r >= GOAL for r in ratio_nginx.values()) and all(
        med[n]["p99_us"] < P99_GOAL_US for n in SINGLE if n in med)

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
    for n, r in ratio_nginx.items():
        print(f"ratio {n}/nginx: {r:.2f} (medians); per round: {', '.join(f'{x:.2f}' for x in per_round_nginx[n])}")
    if ratio_nginx:
        stretch = all(r >= STRETCH for r in ratio_nginx.values())
        print(f"goal (check >= {GOAL}x nginx in the same run, p99 < {P99_GOAL_US / 1000:.0f} ms): "
              f"{'met' if met else 'NOT met'}; stretch ({STRETCH}x): {'met' if stretch else 'not met'}")
    else:
        print("goal: no nginx figures in this run (NGINX=0), so the goal cannot be judged")
    if "checks_per_s" in med.get("check_batch", {}):
        b = med["check_batch"]
        single = med.get("check_allowed", {}).get("rps", 0)
        print(f"batch check: {b['checks_per_s']:.0f} checks/s ({b['batch']} per request, {b['rps']:.0f} requests/s)"
              + (f", {b['checks_per_s'] / single:.1f}x the single check's rate" if single else ""))
    json.dump({"medians": med, "ratios": ratio, "perRoundRatios": per_round, "nginxRatios": ratio_nginx,
               "perRoundNginxRatios": per_round_nginx, "goalMet": met},
              open(os.path.join(out, "summary.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
