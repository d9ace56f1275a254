#!/usr/bin/env python3
"""Splits a perf profile of the server (bench/profile_check.sh) into where its CPU goes, by each
sample's own symbol (self time): kernel, allocator, hyper/tokio, middleware, auth, JSON, handler.

    python3 bench/perf_split.py bench/results/profile-<timestamp>/perf.data [cpu_us_per_request]

With the server's CPU per request it also prints each share in microseconds per request.
Symbols are attributed by name (release builds inline, so a share is "code of that crate or
inlined into it", a lower bound for the callers that inline most)."""

import re
import subprocess
import sys

CATEGORIES = [
    ("kernel (TCP loopback, syscalls, wake-ups)", lambda dso, sym: dso.startswith("[kernel") or sym.startswith("[k]")),
    ("allocator (malloc/free)", lambda dso, sym: re.search(r"malloc|free|_int_|realloc|mi_|tcache|sysmalloc|consolidate", sym)),
    ("memcpy/memmove/memset", lambda dso, sym: re.search(r"__mem(move|cpy|set|cmp)|memcpy|memmove|memset|bcmp|strlen", sym)),
    ("JSON (serde_json, serde)", lambda dso, sym: re.search(r"serde_json|serde::|serde_path_to_error|_serde::|Deserialize|Serialize", sym)),
    ("auth (bearer, token cache, SHA-256)", lambda dso, sym: re.search(r"bearer|authenticate|token|sha2|Sha256|sha256|hex::", sym)),
    ("check handler and engine (index, scopes)", lambda dso, sym: re.search(r"pim_engine|pim_domain|handlers::check|pim_api", sym)),
    ("middleware (pim's layers, tower-http, request ids, tracing)", lambda dso, sym: re.search(r"pim_server|tower_http|tower::|tracing|sharded_slab|uuid|getrandom|rand::|rand_chacha|governor|from_fn", sym)),
    ("axum (routing, extractors)", lambda dso, sym: re.search(r"axum|matchit", sym)),
    ("hyper and http (parse, encode, headers)", lambda dso, sym: re.search(r"hyper|http::|httparse|http_body|bytes::", sym)),
    ("tokio (runtime, I/O driver, timers)", lambda dso, sym: re.search(r"tokio|mio|parking_lot|futex|pthread|__lll_|epoll|syscall", sym)),
    ("libc other (writev, read, ...)", lambda dso, sym: dso.startswith("libc")),
]


def main():
    data = sys.argv[1]
    per_req = float(sys.argv[2]) if len(sys.argv) > 2 else None
    out = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio", "-g", "none"],
        capture_output=True, text=True, check=True).stdout
    shares = {name: 0.0 for name, _ in CATEGORIES}
    shares["other"] = 0.0
    others = []
    for line in out.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+(\S+)\s+(\[.\]\s+.*?)\s*$", line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        for name, test in CATEGORIES:
            if test(dso, sym):
                shares[name] += pct
                break
        else:
            shares["other"] += pct
            others.append((pct, sym))
    total = sum(shares.values())
    print(f"{'where':62} {'share':>7}" + ("  us/request" if per_req else ""))
    for name, pct in shares.items():
        line = f"{name:62} {pct:6.1f}%"
        if per_req:
            line += f"  {pct / max(total, 1e-9) * per_req:8.1f}"
        print(line)
    print(f"{'total':62} {total:6.1f}%" + (f"  {per_req:8.1f}" if per_req else ""))
    others.sort(reverse=True)
    if others:
        print("largest 'other':", "; ".join(f"{s[4:80]} {p:.2f}%" for p, s in others[:8]))


if __name__ == "__main__":
    main()
