#!/usr/bin/env python3
"""Check an amazon-cloudwatch-agent JSON config before it replaces the live one.

Used as the role's `validate:` command: catches what would make the agent drop
logs silently (missing group names, retention values CloudWatch rejects).
"""

import json
import re
import sys

TOP_LEVEL = {"agent", "metrics", "logs", "traces"}
RETENTION_DAYS = {
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
    731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
}  # fmt: skip
LOG_GROUP = re.compile(r"^[\w\-./#]{1,512}$")


def problems(config):
    if not isinstance(config, dict):
        yield "the top level must be a JSON object"
        return
    unknown = set(config) - TOP_LEVEL
    if unknown:
        yield f"unknown top-level sections: {sorted(unknown)}"
    files = config.get("logs", {}).get("logs_collected", {}).get("files", {})
    for index, entry in enumerate(files.get("collect_list", [])):
        where = f"logs.collect_list[{index}]"
        if not str(entry.get("file_path", "")).startswith("/"):
            yield f"{where}.file_path must be an absolute path"
        if not LOG_GROUP.match(str(entry.get("log_group_name", ""))):
            yield f"{where}.log_group_name is missing or has characters CloudWatch rejects"
        if not entry.get("log_stream_name"):
            yield f"{where}.log_stream_name is missing"
        if entry.get("retention_in_days", 30) not in RETENTION_DAYS:
            yield f"{where}.retention_in_days must be one of {sorted(RETENTION_DAYS)}"
    metrics = config.get("metrics")
    if metrics is not None and not metrics.get("metrics_collected"):
        yield "metrics.metrics_collected is empty"


def main(path):
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        print(f"{path}: not valid JSON: {error}", file=sys.stderr)
        return 1
    found = list(problems(config))
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
