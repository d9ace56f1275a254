"""Summarizes a schemathesis NDJSON report: requests sent, and failures (unique per operation, check and code)."""

import collections
import json
import sys


def main(path: str) -> None:
    requests = 0
    failures = set()
    by_code = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            done = event.get("ScenarioFinished")
            if not done:
                continue
            recorder = done.get("recorder", {})
            requests += len(recorder.get("interactions", {}))
            for checks in recorder.get("checks", {}).values():
                for check in checks:
                    info = (check.get("failure_info") or {}).get("failure") or {}
                    if check.get("status") == "failure":
                        key = (recorder.get("label", "?"), check.get("name"), info.get("code", ""))
                        if key not in failures:
                            failures.add(key)
                            by_code[f"{info.get('code', '')} {check.get('name')}"] += 1
    detail = ", ".join(f"{n} {code}" for code, n in by_code.most_common())
    print(f"{requests} requests, {len(failures)} failures" + (f" ({detail})" if detail else ""))


if __name__ == "__main__":
    main(sys.argv[1])
