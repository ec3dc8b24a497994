"""``ivory update``: bring a repository's metadata to the current version (§2.6).

Versions: ``v0`` (no config), ``v1`` (first JSON manifests), ``v2`` (partition sizes in
factset manifests), ``v3`` (missing snapshot manifests fixed), ``v4`` (``keyed_set``), ``v5``
(``union``, current). Per version the steps are upstream's:

* v0: write a ``.manifest.json`` (format v2, with partition sizes) for every factset of the
  store, then convert every snapshot directory's ``.metadata.json`` (``{id, date,
  commit_id}``) or ``.snapmeta`` (lines: date, store id, optional commit id) into a snapshot
  ``.manifest.json`` (format v1);
* v1: rewrite factset manifests with partition sizes, then as v2;
* v2: the snapshot conversion again, and manifests for store factsets that still have none;
* v3, v4: only the version bump;

then a new config with version ``v5`` (same time zone) is committed, which also writes the
upstream commit record pointing at it (§2.3).

Our own factsets always carry a manifest in the metadata store, so the factset step rewrites
the upstream view from it; a factset with no manifest of ours is described from a listing of
its partition directories.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from ivory.errors import IvoryError, KeyNotFoundError, RepositoryError
from ivory.identifiers import is_identifier, parse_identifier
from ivory.repository import (
    CONFIG_KEY,
    KNOWN_VERSIONS,
    METADATA_VERSION,
    Repository,
    RepositoryConfig,
)
from ivory.upstream import (
    MANIFEST_NAME,
    factset_manifest_json,
    factset_partitions,
    snapshot_manifest_json,
    write_manifest_json,
)

_PARTITION = re.compile(r"([^/]+)/([0-9]{4})/([0-9]{2})/([0-9]{2})/[^/]+")


@dataclass(frozen=True)
class UpdateResult:
    """What :func:`update` did: the version before and after, and warnings printed."""

    before: str
    after: str
    warnings: tuple[str, ...] = ()

    @property
    def updated(self) -> bool:
        return self.before != self.after

    def message(self) -> str:
        """The line ``ivory update`` prints (§2.6)."""
        if not self.updated:
            return f"Repository is already at latest version [{self.after}]"
        return f"Repository updated from [{self.before}] to [{self.after}]"


def update(repository: Repository, echo: Callable[[str], None] = print) -> UpdateResult:
    """Upgrade ``repository`` (opened with ``check_version=False``) to :data:`METADATA_VERSION`.

    Args:
        echo: receives ``WARNING: ...`` lines about unusable snapshot directories.

    Returns:
        The versions before and after.

    Raises:
        RepositoryError: the config names a version this ivory does not know about
            (``does not know about metadata version``).
    """
    state = repository.state()
    config = (repository.config(state) if CONFIG_KEY in state.pins
              else RepositoryConfig(timezone="Australia/Sydney", version="v0"))  # §2.1
    version = config.version
    if version not in KNOWN_VERSIONS:
        raise RepositoryError(
            f"Unknown version: this ivory ({METADATA_VERSION}) does not know about metadata "
            f"version '{version}' of '{repository.location}'"
        )
    if version == METADATA_VERSION:
        return UpdateResult(version, version)
    warnings: list[str] = []

    def warn(line: str) -> None:
        warnings.append(line)
        echo(line)

    if version in ("v0", "v1"):
        write_factset_manifests(repository, only_missing=False)
        convert_snapshots(repository, warn)
    elif version == "v2":
        convert_snapshots(repository, warn)
        write_factset_manifests(repository, only_missing=True)
    new = RepositoryConfig(timezone=config.timezone, version=METADATA_VERSION)

    def bump(state: object) -> dict[str, bytes]:
        return {CONFIG_KEY: new.render().encode("utf-8")}

    repository.commit(bump)
    return UpdateResult(version, METADATA_VERSION, tuple(warnings))


def write_factset_manifests(repository: Repository, only_missing: bool) -> list[str]:
    """Write ``factsets/<id>/.manifest.json`` (format v2, sizes) for every store factset
    (§2.6); with ``only_missing`` only where none exists. Returns the ids written."""
    written = []
    data = repository.data
    for factset in repository.store():
        if only_missing and data.exists(f"factsets/{factset}/{MANIFEST_NAME}"):
            continue
        manifest = repository.read_manifest("factset", factset)
        partitions = (factset_partitions(manifest) if manifest is not None
                      else _listed_partitions(repository, factset))
        write_manifest_json(data, "factset", factset,
                            factset_manifest_json(factset, partitions))
        written.append(factset)
    return written


def _listed_partitions(repository: Repository, factset: str) -> list[tuple[str, dt.date, int]]:
    sizes: dict[tuple[str, dt.date], int] = {}
    prefix = f"factsets/{factset}/"
    for entry in repository.data.list(prefix, None):
        match = _PARTITION.fullmatch(entry.key[len(prefix):])
        if entry.is_prefix or match is None or match.group(0).rsplit("/", 1)[1][0] in "._":
            continue
        ns, y, m, d = match.groups()
        key = (ns, dt.date(int(y), int(m), int(d)))
        sizes[key] = sizes.get(key, 0) + (entry.size or 0)
    return [(ns, date, size) for (ns, date), size in sorted(sizes.items())]


def parse_snapshot_metadata(snapshot_id: str, metadata_json: bytes | None,
                            snapmeta: bytes | None) -> tuple[dt.date, str | None, str | None]:
    """``(date, commit id, store id)`` of an old snapshot directory (§2.6).

    Args:
        metadata_json: ``.metadata.json`` (``{"id", "date", "commit_id"}``), preferred.
        snapmeta: ``.snapmeta`` lines: ``yyyy-MM-dd``, store id, optional commit id.

    Raises:
        IvoryError: neither is present, or the one read is malformed (message names it).
    """
    if metadata_json is not None:
        try:
            value = json.loads(metadata_json.decode("utf-8"))
            return (dt.date.fromisoformat(value["date"]), parse_identifier(value["commit_id"]),
                    None)
        except (ValueError, KeyError, TypeError, IvoryError) as e:
            raise IvoryError(f"snapshot {snapshot_id}: malformed .metadata.json: {e}") from None
    if snapmeta is not None:
        lines = snapmeta.decode("utf-8", "replace").splitlines()
        try:
            date = dt.date.fromisoformat(lines[0].strip())
            store = parse_identifier(lines[1].strip())
            commit = lines[2].strip() if len(lines) > 2 and lines[2].strip() else None
            return date, parse_identifier(commit) if commit else None, store
        except (ValueError, IndexError, IvoryError) as e:
            raise IvoryError(f"snapshot {snapshot_id}: malformed .snapmeta: {e}") from None
    raise IvoryError(f"snapshot {snapshot_id}: no .metadata.json or .snapmeta")


def convert_snapshots(repository: Repository, warn: Callable[[str], None]) -> list[str]:
    """Write a snapshot ``.manifest.json`` (format v1) for every snapshot directory holding an
    old ``.metadata.json`` or ``.snapmeta`` (§2.6); warn ``WARNING: Invalid snapshot path
    <name>`` for a directory whose name is not an id and ``WARNING: Snapshot skipped <name>``
    for one whose old metadata is malformed. Directories with neither are left alone (our
    snapshots keep their manifests in the metadata store). Returns the ids converted."""
    data = repository.data
    converted = []
    for entry in data.list("snapshots/", "/"):
        if not entry.is_prefix:
            continue
        name = entry.key[len("snapshots/"):].rstrip("/")
        if not is_identifier(name):
            warn(f"WARNING: Invalid snapshot path {name}")
            continue
        metadata_json = _read_optional(repository, f"snapshots/{name}/.metadata.json")
        snapmeta = (None if metadata_json is not None
                    else _read_optional(repository, f"snapshots/{name}/.snapmeta"))
        if metadata_json is None and snapmeta is None:
            continue
        try:
            date, commit, store = parse_snapshot_metadata(name, metadata_json, snapmeta)
        except IvoryError:
            warn(f"WARNING: Snapshot skipped {name}")
            continue
        write_manifest_json(data, "snapshot", name,
                            snapshot_manifest_json(name, date, commit, store, file_format="v1"))
        converted.append(name)
    return converted


def _read_optional(repository: Repository, key: str) -> bytes | None:
    try:
        return repository.data.read(key)
    except KeyNotFoundError:
        return None
