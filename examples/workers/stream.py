#!/usr/bin/env python3
"""A stream worker: runctl starts it once per slot and sends items as JSON lines on stdin.

Answer each with one line {"key": ..., "ok": result} or {"key": ..., "error": message}, in any
order, and flush. Load expensive things (a model, a client) once, before the loop. Logs go to
stderr: stdout carries only result lines.

    runctl new --source cases.csv --key incident_id --stream -j 4 -- python3 stream.py
"""
import json
import sys

for line in sys.stdin:
    item = json.loads(line)
    text = item["data"].get("text") or ""
    if text:
        answer = {"key": item["key"], "ok": {"words": len(text.split())}}
    else:
        answer = {"key": item["key"], "error": "no text"}
    print(json.dumps(answer), flush=True)
