"""A stream worker: runctl starts it once per slot and keeps it running, sending items as JSON
lines on stdin; it answers one result line per item on stdout (docs/resume.md). Set up what is
expensive (a model, a client) once, before the loop."""
import json
import sys

for line in sys.stdin:
    item = json.loads(line)
    text = item["data"].get("text") or ""
    print(json.dumps({"key": item["key"], "ok": {"words": len(text.split())}}), flush=True)
