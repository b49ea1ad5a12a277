#!/usr/bin/env python3
"""Print criterion's results as ratio tables: for each group and size, every candidate's
median time per element and its ratio to netloop's line (the one whose name starts with
"netloop"). Reads target/criterion/*/*/*/new/ (what `cargo bench --bench codec|timer|pool`
wrote last). Usage: python3 benches/ratios.py [GROUP...]"""
import json
import pathlib
import sys

root = pathlib.Path("target/criterion")
rows = {}
for est in sorted(root.glob("*/*/*/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    group = bench["group_id"]
    if len(sys.argv) > 1 and group not in sys.argv[1:]:
        continue
    elements = 1
    tp = bench.get("throughput") or {}
    if "Elements" in tp:
        elements = tp["Elements"]
    ns = json.loads(est.read_text())["median"]["point_estimate"] / elements
    rows.setdefault((group, bench["value_str"]), []).append((bench["function_id"], ns))

def size_key(k):
    g, v = k
    return (g, int(v) if v.isdigit() else v)

for (group, size) in sorted(rows, key=size_key):
    cands = rows[(group, size)]
    base = next((ns for f, ns in cands if f.startswith("netloop")), None)
    print(f"\n{group}/{size}: ns per element, and netloop's time / theirs")
    for f, ns in sorted(cands, key=lambda c: c[1]):
        ratio = f"{base / ns:6.2f}x" if base else ""
        print(f"  {f:<34} {ns:10.1f} ns   netloop/this {ratio}")
