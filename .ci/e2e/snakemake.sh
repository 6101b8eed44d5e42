#!/usr/bin/env bash
# End to end: the Snakemake example pipeline, for real, with identifiers over 255 bytes.
# Installs Snakemake from PyPI into a virtualenv in cargo's target folder (reused when present).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
TARGET="$(cargo_target_dir "$REPO")"
VENV="$TARGET/e2e-venv"
if [ ! -x "$VENV/bin/snakemake" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'snakemake>=9,<10'
fi
(cd "$REPO" && cargo build --quiet --bin runctl)
export PATH="$TARGET/debug:$VENV/bin:$PATH"
export RUNCTL="$TARGET/debug/runctl"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$REPO/examples/snakemake/." "$WORK/"
cd "$WORK"
runctl --quiet init

snakemake --cores 2 --quiet all >snakemake.log 2>&1 || { cat snakemake.log; exit 1; }

python3 - <<'PY'
import json, os, pathlib
rows = json.load(open("results/summary.json"))
assert len(rows) == 3, rows
for row in rows:
    ident = row["identifier"]
    model = "DyRCNNx8"
    full_dir = f"{model}:{ident}"
    assert len(full_dir.encode()) < 255, "the model folder itself must be creatable"
    full_report = f"{model}:{ident}_trained_StimulusNoise:dsteps=20+noisetype=uniform+ssnr=0.6+tempmode=dynamic+idle=20+group=all"
    assert len(full_report.encode()) > 255, f"the report folder would fit without runctl ({len(full_report.encode())} bytes)"
    alias = pathlib.Path("models") / f"{model}{row['hash']}"
    assert alias.is_symlink(), alias
    assert os.readlink(alias) == full_dir, os.readlink(alias)
    assert (alias / "trained.pt").read_text() == (pathlib.Path("models") / full_dir / "trained.pt").read_text()
    hex_ = row["hash"].removeprefix(":hash=")
    assert (pathlib.Path("models") / full_dir / f"{hex_}.hash").read_text().strip() == ident
    assert row["folder"].endswith(full_dir), row["folder"]
    assert row["test_outputs"].startswith(hex_ + ","), row
print(f"snakemake e2e: {len(rows)} models, report folders of {len(full_report.encode())} bytes reached through {len(row['hash'])}-byte hashes")
PY

# A second run has nothing to do.
snakemake --cores 2 --dry-run all 2>&1 | grep -q "Nothing to be done" || { echo "second run is not a no-op"; exit 1; }
echo "snakemake e2e: ok"
