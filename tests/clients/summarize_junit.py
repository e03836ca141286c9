#!/usr/bin/env python3
"""Summarize one or more JUnit XML files: counts + failing test ids.
usage: summarize_junit.py KIND FILE   (KIND = python|js; only affects id format)"""
import os, sys
import xml.etree.ElementTree as ET

kind, path = sys.argv[1], sys.argv[2]
root_dir = sys.argv[3] if len(sys.argv) > 3 else "."
try:
    root = ET.parse(path).getroot()
except Exception as e:  # noqa
    print(f"SUMMARY: could not parse junit xml {path}: {e}")
    sys.exit(2)

def test_id(tc):
    cls, name = tc.get("classname", ""), tc.get("name", "")
    if kind == "python":
        # classname is dotted module path (maybe + Class); map back to a pytest node id
        parts = cls.split(".")
        for i in range(len(parts), 0, -1):
            f = "/".join(parts[:i]) + ".py"
            if os.path.exists(os.path.join(root_dir, f)):
                return "::".join([f] + parts[i:] + [name])
        return f"{cls}::{name}"
    return f"{cls} > {name}"

passed = failed = errored = skipped = 0
failing, erroring = [], []
for tc in root.iter("testcase"):
    tags = {c.tag for c in tc}
    if "failure" in tags:
        failed += 1; failing.append(test_id(tc))
    elif "error" in tags:
        errored += 1; erroring.append(test_id(tc))
    elif "skipped" in tags:
        skipped += 1
    else:
        passed += 1
total = passed + failed + errored + skipped
print("=" * 70)
print(f"SUMMARY ({kind}): total={total} passed={passed} failed={failed} errored={errored} skipped={skipped}")
if failing:
    print("FAILED tests:")
    for t in failing: print(t)
if erroring:
    print("ERRORED tests:")
    for t in erroring: print(t)
