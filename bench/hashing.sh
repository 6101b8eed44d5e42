#!/usr/bin/env bash
# Identifier hashing. Targets (issue: hashing): `runctl hash` whole process median < 2 ms;
# `runctl hash --batch` on 1,000,000 identifiers at least 5x faster than a Python loop with
# hashlib doing the same, measured in the same run.
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release

INPUT="$OUT/identifiers-1m.tsv"
if [ ! -f "$INPUT" ]; then
  python3 - "$INPUT" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for i in range(1_000_000):
        args = "+".join(f"p{j}={random.randint(0, 999)}" for j in range(random.randint(4, 16)))
        f.write(f":{args}\t{i % 100}\timagenette\n")
PY
fi
cat > "$OUT/hash_loop.py" <<'PY'
import hashlib, sys
def compute_hash(*args, length=8):
    for arg in args:
        if 'hash=' in str(arg):
            return str(arg)
    combined = '_'.join(str(arg).lstrip(':') for arg in args)
    return ':hash=' + hashlib.md5(combined.encode()).hexdigest()[:length]
out = sys.stdout
for line in sys.stdin:
    out.write(compute_hash(*line.rstrip('\n').split('\t')) + '\n')
PY

# The two must agree before they are timed.
cmp <("$RUNCTL" hash --batch < "$INPUT") <(python3 "$OUT/hash_loop.py" < "$INPUT")

hyperfine -N --warmup 20 --runs 500 \
  "$RUNCTL hash :tsteps=20+dt=2+tau=5 42 imagenette" \
  "$PYTHON -c \"import hashlib; print(':hash=' + hashlib.md5(b'tsteps=20+dt=2+tau=5_42_imagenette').hexdigest()[:8])\"" \
  --export-json "$OUT/hash-single.json" >&2
hyperfine --warmup 1 --runs 5 \
  "$RUNCTL hash --batch < $INPUT > /dev/null" \
  "$PYTHON $OUT/hash_loop.py < $INPUT > /dev/null" \
  --export-json "$OUT/hash-batch.json" >&2

single=$(median_ms "$OUT/hash-single.json" 0)
py_single=$(median_ms "$OUT/hash-single.json" 1)
batch=$(median_ms "$OUT/hash-batch.json" 0)
py_batch=$(median_ms "$OUT/hash-batch.json" 1)
ratio=$(python3 -c "print('%.1f' % ($py_batch / $batch))")
rate=$(python3 -c "print('%.2f' % (1000.0 / $batch))")
cat > "$OUT/hashing.md" <<MD
### Identifier hashing

\`bench/hashing.sh\`: one identifier per process (\`hyperfine -N\`, 500 runs), and 1,000,000
identifiers of 4 to 16 parameters through \`--batch\` against a Python loop with hashlib doing the
same recipe (5 runs; outputs compared byte for byte first).

| command | median | target |
|---|---|---|
| \`runctl hash ... \` (one identifier, whole process) | ${single} ms | < 2 ms |
| \`python3 -c\` hashlib, one identifier | ${py_single} ms | |
| \`runctl hash --batch\`, 1M identifiers | ${batch} ms (${rate} M/s) | |
| Python loop with hashlib, 1M identifiers | ${py_batch} ms | |
| batch speed-up over Python | ${ratio}x | >= 5x |
MD
cat "$OUT/hashing.md"
