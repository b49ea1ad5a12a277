#!/usr/bin/env python3
"""Build every combination of each workspace crate's features (cargo-hack's powerset, by
hand): `cargo check --all-targets --no-default-features --features A,B,...` for each subset,
so that no feature combination a user can pick is left broken. A crate with no features is
checked once, with none. Exits 1 on the first failure.
"""
import itertools
import json
import subprocess
import sys

meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
    check=True, capture_output=True, text=True).stdout)
for pkg in meta["packages"]:
    features = sorted(f for f in pkg["features"] if f != "default")
    subsets = itertools.chain.from_iterable(
        itertools.combinations(features, n) for n in range(len(features) + 1))
    for subset in subsets:
        cmd = ["cargo", "check", "--quiet", "-p", pkg["name"], "--all-targets",
               "--no-default-features"]
        if subset:
            cmd += ["--features", ",".join(subset)]
        print("ci:", " ".join(cmd[1:]), flush=True)
        if subprocess.run(cmd).returncode != 0:
            sys.exit(1)
