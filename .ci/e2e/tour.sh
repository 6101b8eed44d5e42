#!/usr/bin/env bash
# End to end: the README's tour, line by line, as a new user would paste it, from an empty
# folder (HOME too). Every line must exit 0, or the code its comment names ("exits 1: ...").
# Needs python3 (the example workers), which this script installs when it is missing.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
TARGET="$(cargo_target_dir "$REPO")"
(cd "$REPO" && cargo build --quiet --bin runctl)
if ! command -v python3 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3 >/dev/null
fi

WORK="$(mktemp -d)"
trap '[ -n "${KEEP_TOUR:-}" ] && echo "kept $WORK" || rm -rf "$WORK"' EXIT
mkdir "$WORK/home" "$WORK/here"

# The tour: the first ```sh block after the "A 60-second tour" heading.
python3 - "$REPO/README.md" "$WORK/tour.sh" <<'PY'
import re, shlex, sys
text = open(sys.argv[1], encoding="utf-8").read()
block = text.split("## A 60-second tour", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
out = ["set +e"]
lines = [l for l in block.splitlines() if l.strip()]
assert len(lines) > 20, "the tour is shorter than expected"
for n, line in enumerate(lines, 1):
    # A comment starts at "   # " (two or more spaces): the command is what comes before it.
    command, _, comment = line.partition("  #")
    command = command.rstrip()
    m = re.search(r"\bexits (\d+)", comment)
    want = int(m.group(1)) if m else 0
    out.append(f"echo {shlex.quote('$ ' + command)}")
    out.append(command)
    out.append(f"code=$?; if [ \"$code\" != {want} ]; then echo \"tour line {n} exited $code, expected {want}: \"{shlex.quote(command)} >&2; exit 1; fi")
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out) + "\n")
PY

cd "$WORK/here"
env -i PATH="$TARGET/debug:/usr/local/bin:/usr/bin:/bin" HOME="$WORK/home" TERM=dumb \
  bash "$WORK/tour.sh" > "$WORK/transcript.txt" 2>&1 || { cat "$WORK/transcript.txt"; exit 1; }

# What the tour left behind is what it says it made.
cd "$WORK/here/demo"
export PATH="$TARGET/debug:$PATH"
python3 - <<'PY'
import csv, json, subprocess
runs = json.loads(subprocess.run(["runctl", "list", "--all", "--json"], check=True,
                                 capture_output=True, text=True).stdout)
names = {r["name"] for r in runs}
assert "qwen2-7b-drg_letters-full-run1" in names, names
trained = [r for r in runs if r["command"] and r["command"][-1] == "train.py"]
assert len(trained) == 1 and trained[0]["exit_code"] == 0, trained
assert trained[0]["tags"] == {"lr": "3e-4"} and trained[0]["notes"][0]["text"].startswith("baseline"), trained
assert any(r["archived_at"] for r in runs), "the archived run"
rows = list(csv.DictReader(open("results.csv", encoding="utf-8")))
assert len(rows) == 8 and all(r["result_status"] == "ok" for r in rows), rows
print(f"tour: {len(runs)} runs, results.csv with {len(rows)} ok rows")
PY
test -s "$WORK/home/.local/share/man/man1/runctl-new.1"
test -s "$WORK/home/.local/share/bash-completion/completions/runctl"
grep -q "hello, world" "$WORK/transcript.txt"
echo "tour: every line of the README's tour ran as written"
