"""Make a repository look as an old upstream binary left it, for the conformance cases
whose upstream scripts build their repository with old ivory releases (see the cases'
NOTES.md). This project has no old releases; the state they leave is re-created instead:

* the config's metadata version is set back (``VERSION``: ``v0``…``v4``; upstream's v0
  repositories have no config at all, which ``update`` treats like a ``v0`` config, §2.1);
* ``v0``: the factsets' ``.manifest.json`` files are removed (v0 had none, §2.6);
  ``v1``: their partition entries lose ``size`` (added in v2);
* ``--snapmeta ID DATE STORE``: snapshot ``ID`` has the ``.snapmeta`` of the releases before
  JSON snapshot metadata (lines: date, store id) and no ``.manifest.json``;
* ``--metadata-json ID DATE COMMIT``: snapshot ``ID`` has a ``.metadata.json``
  (``{"id", "date", "commit_id"}``) and no ``.manifest.json``.

Usage: ``legacy.py REPO VERSION [--snapmeta ID DATE STORE]… [--metadata-json ID DATE COMMIT]…``
for a repository on local disk. Uses ivory's Python API (run it with ivory's Python).
"""

from __future__ import annotations

import argparse
import glob
import json
import os

from ivory.repository import CONFIG_KEY, Repository, RepositoryConfig


def set_version(location: str, version: str) -> None:
    """Commit a config with ``version`` and the repository's time zone."""
    repository = Repository.open(location, check_version=False)
    timezone = repository.config(repository.state()).timezone
    config = RepositoryConfig(timezone=timezone, version=version)
    repository.commit(lambda state: {CONFIG_KEY: config.render().encode("utf-8")})


def age_factset_manifests(location: str, version: str) -> None:
    """Remove (v0) or strip partition sizes from (v1) the factset manifests."""
    for path in glob.glob(os.path.join(location, "factsets", "*", ".manifest.json")):
        if version == "v0":
            os.remove(path)
        elif version == "v1":
            with open(path) as handle:
                manifest = json.load(handle)
            for partition in manifest.get("metadata", {}).get("partitions", []):
                partition.pop("size", None)
            with open(path, "w") as handle:
                json.dump(manifest, handle, indent=2)


def old_snapshot(location: str, snapshot: str, name: str, text: str) -> None:
    """Replace snapshot ``snapshot``'s manifest by the old metadata file ``name``."""
    folder = os.path.join(location, "snapshots", snapshot)
    if not os.path.isdir(folder):
        raise SystemExit(f"legacy.py: no snapshot folder {folder}")
    manifest = os.path.join(folder, ".manifest.json")
    if os.path.exists(manifest):
        os.remove(manifest)
    with open(os.path.join(folder, name), "w") as handle:
        handle.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository")
    parser.add_argument("version", choices=["v0", "v1", "v2", "v3", "v4"])
    parser.add_argument("--snapmeta", nargs=3, action="append", default=[],
                        metavar=("ID", "DATE", "STORE"))
    parser.add_argument("--metadata-json", nargs=3, action="append", default=[],
                        metavar=("ID", "DATE", "COMMIT"))
    args = parser.parse_args()
    set_version(args.repository, args.version)
    age_factset_manifests(args.repository, args.version)
    for snapshot, date, store in args.snapmeta:
        old_snapshot(args.repository, snapshot, ".snapmeta", f"{date}\n{store}\n")
    for snapshot, date, commit in args.metadata_json:
        text = json.dumps({"id": snapshot, "date": date, "commit_id": commit})
        old_snapshot(args.repository, snapshot, ".metadata.json", text)


if __name__ == "__main__":
    main()
