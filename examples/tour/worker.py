"""A per-item worker: runctl starts it once per item, the item as one JSON line on stdin; what it
prints is the item's result, and a non-zero exit records an error (docs/resume.md). Items with no
text fail, unless --allow-empty is given."""
import json
import os
import sys

item = json.load(sys.stdin)
text = item["data"].get("text") or ""
if not text and "--allow-empty" not in sys.argv:
    sys.exit(f"item {os.environ['RUNCTL_ITEM_KEY']} has no text")
print(json.dumps({"words": len(text.split())}))
