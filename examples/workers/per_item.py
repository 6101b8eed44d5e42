#!/usr/bin/env python3
"""A per-item worker: runctl starts it once per item, the item as JSON on stdin.

Print the result on stdout (JSON, or any text) and exit 0; exit non-zero to fail the item
(the end of stderr becomes its error message).

    runctl new --source cases.csv --key incident_id -j 8 -- python3 per_item.py
"""
import json
import os
import sys

item = json.load(sys.stdin)  # {"key": ..., "data": {column: value}, "location": ..., "attempt": N}
text = item["data"].get("text") or ""
if not text:
    sys.exit(f"item {os.environ['RUNCTL_ITEM_KEY']} has no text")
print(json.dumps({"words": len(text.split()), "worker": os.environ["RUNCTL_WORKER_ID"]}))
