#!/usr/bin/env python3
"""The code's shape, as STYLE.md asks it: no function under src/ over about 60 lines (65), and no file
over 350 lines unless its //! doc says why (a line of it containing "long:"). Prints what
breaks a rule and exits 1 if anything does. Counts lines of a function from its `fn` line to
its closing brace; tests (`#[cfg(test)] mod`) count toward the file but are not checked as
functions, and a unit-test file of its own (`tests.rs`, a list of cases) is not checked."""
import pathlib
import re
import sys

FN_MAX = 65  # "about 60"
FILE_MAX = 350
root = pathlib.Path(__file__).resolve().parent.parent
bad = []
for path in sorted((root / "src").rglob("*.rs")):
    if path.name == "tests.rs":
        continue
    lines = path.read_text().splitlines()
    rel = path.relative_to(root)
    doc = [l for l in lines if l.startswith("//!")]
    if len(lines) > FILE_MAX and not any("long:" in l for l in doc):
        bad.append(f"{rel}: {len(lines)} lines and no 'long:' reason in its //! doc")
    in_tests = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"\s*#\[cfg\(test\)\]", line):
            in_tests = True
        m = re.match(r"\s*(pub(\([a-z]+\))? )?(const )?(unsafe )?(async )?fn (\w+)", line)
        if m and not in_tests:
            depth, start, j, opened = 0, i, i, False
            while j < len(lines):
                code = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j])
                code = re.sub(r"'(\\.|[^'\\])'", "''", code).split("//")[0]
                depth += code.count("{") - code.count("}")
                opened = opened or "{" in code
                if opened and depth <= 0:
                    break
                if not opened and code.rstrip().endswith(";"):
                    break
                j += 1
            n = j - start + 1
            if n > FN_MAX:
                bad.append(f"{rel}:{start + 1}: fn {m.group(6)} is {n} lines")
            i = j
        i += 1
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
