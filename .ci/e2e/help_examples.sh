#!/usr/bin/env bash
# End to end: every example in every command's --help runs, in a project made by
# `runctl init --example` with a run of each kind in it. Each `runctl ...` invocation of an
# example line (the piece of a pipeline or of a $(...) that calls runctl; shell redirections
# dropped) is run for real: a usage error (exit 2), a panic or a hang fails the check. Other
# exits are allowed and listed: an example may name a run or a bucket this project has not.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
TARGET="$(cargo_target_dir "$REPO")"
(cd "$REPO" && cargo build --quiet --bin runctl)
export PATH="$TARGET/debug:$PATH"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK/home" WORK
mkdir -p "$HOME"
# The project every example line starts from (a fresh copy for each line): a named run, a
# command run, and last (so `latest`) a batch run over cases.csv.
runctl --quiet init --example "$WORK/template"
cd "$WORK/template"
runctl --quiet new --model Qwen2-7B --dataset drg_letters >/dev/null
runctl --quiet new --config train.yaml -- python3 train.py >/dev/null
runctl --quiet new --model m --source cases.csv --key id -- python3 worker.py --allow-empty >/dev/null
cd "$WORK"

python3 - <<'PY'
import re, shlex, subprocess, sys

def help_of(path):
    return subprocess.run(["runctl", *path, "--help"], capture_output=True, text=True,
                          check=True).stdout

def subcommands(text):
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s", line)
            if not line.strip() or not line.startswith("  "):
                break
            if m and m.group(1) != "help":
                names.append(m.group(1))
    return names

def examples(text):
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("Examples:"):
            inside = True
            continue
        if inside:
            if line and not line.startswith(" "):
                break
            code = line.split("  #", 1)[0].strip()
            if code and not code.startswith("#"):
                lines.append(code)
    return lines

def argv_of(piece):
    """The runctl call at the start of `piece` as argv, shell redirections dropped."""
    try:
        words = shlex.split(piece)
    except ValueError:
        words = piece.split()
    argv = []
    for w in words:
        if w.startswith(">") or w.startswith("<") or w == "2>&1":
            break
        argv.append(w)
    return argv

def invocations(line):
    """Each pipeline of runctl calls in a shell line: [(argv, fed_by_previous_stage)], with the
    calls inside $(...) and <(...) as pipelines of their own."""
    pipelines = []
    inner = re.findall(r"[$<]\(([^)]*)\)", line)
    outer = re.sub(r"[$<]\([^)]*\)", "X", line)
    for text in [outer, *inner]:
        for chain in re.split(r"&&|;", text):
            stages = []
            for i, stage in enumerate(chain.split("|")):
                stage = stage.strip()
                if stage.startswith("runctl"):
                    stages.append((argv_of(stage), i > 0))
            if stages:
                pipelines.append(stages)
    return pipelines

def fresh_project():
    """A copy of the template project, for one example line."""
    import os, shutil, tempfile
    where = tempfile.mkdtemp(dir=os.environ["WORK"])
    shutil.copytree(os.path.join(os.environ["WORK"], "template"), os.path.join(where, "proj"),
                    symlinks=True)
    return os.path.join(where, "proj")

def run(argv, stdin, cwd):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, input=stdin, cwd=cwd)

seen, failures, other, total = set(), [], [], 0
stack = [[]]
while stack:
    path = stack.pop()
    text = help_of(path)
    stack.extend(path + [s] for s in subcommands(text))
    for line in examples(text):
        cwd = fresh_project()
        for stages in invocations(line):
            previous = None
            for argv, fed in stages:
                # A stage after a non-runctl one (git log | runctl note latest -) gets a line.
                stdin = (previous if previous is not None else "a line of input\n") if fed else ""
                key = (tuple(argv), stdin)
                if key in seen:
                    continue
                seen.add(key)
                total += 1
                try:
                    out = run(argv, stdin, cwd)
                except subprocess.TimeoutExpired:
                    failures.append(f"{line!r}: {' '.join(argv)} did not end within 60 s")
                    break
                previous = out.stdout
                if out.returncode == 2 or "panicked" in out.stderr:
                    failures.append(f"{line!r} ({' '.join(path) or 'runctl'} --help): exit "
                                    f"{out.returncode}\n{out.stderr.strip()}")
                elif out.returncode != 0:
                    first = out.stderr.strip().splitlines()[0] if out.stderr.strip() else ""
                    other.append(f"exit {out.returncode}: {' '.join(argv)}: {first}")
for line in other:
    print(f"  allowed: {line}")
if failures:
    print("\n\n".join(failures), file=sys.stderr)
    sys.exit(1)
assert total > 60, f"only {total} example invocations found: the help parser lost them"
print(f"help examples: {total} invocations ran, {len(other)} ended non-zero for want of "
      "a resource the example names, none was a usage error")
PY
