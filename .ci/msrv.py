#!/usr/bin/env python3
"""Check each workspace crate's declared minimum Rust version (`rust-version`).

A crate cannot build on a Rust older than any crate it depends on, so its `rust-version` must
be at least the highest `rust-version` among its locked dependencies: normal and build ones,
followed transitively (dev-dependencies build only the crate's own tests and benches, and are
left out). Reads `cargo metadata --locked`; prints, per crate, what it declares, what its
dependencies need and which one needs the most; exits 1 if a crate declares less than that.
The declaration also drives clippy's `incompatible_msrv` lint for the crate's own code.
"""
import json
import subprocess
import sys


def version(v):
    return tuple(int(p) for p in v.split(".")) if v else (0,)


def main():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    failed = False
    for member in meta["workspace_members"]:
        seen, todo, need, needed_by = set(), [member], (0,), None
        while todo:
            node = nodes[todo.pop()]
            for dep in node["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if node["id"] == member:
                    kinds.discard("dev")
                else:
                    kinds = {k for k in kinds if k != "dev"}
                if not kinds or dep["pkg"] in seen:
                    continue
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
                p = packages[dep["pkg"]]
                if version(p.get("rust_version")) > need:
                    need, needed_by = version(p["rust_version"]), f'{p["name"]} {p["version"]}'
        pkg = packages[member]
        declared = version(pkg.get("rust_version"))
        need_s = ".".join(map(str, need))
        ok = declared >= need
        failed |= not ok
        print(f'{pkg["name"]}: declares {pkg.get("rust_version")}, its dependencies need {need_s}'
              f' ({needed_by}){"" if ok else "  <- too low"}')
    if failed:
        print("msrv: raise rust-version in the Cargo.toml of the crates marked above")
        sys.exit(1)


if __name__ == "__main__":
    main()
