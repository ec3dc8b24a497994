"""Integrity checks of published data (D5.3) and the lifecycle state of every object (D5.1).

:func:`verify_repository` checks every *published* factset and snapshot (named by the head
``store`` / ``snapshots``) against its manifest: each listed file must exist with the listed
size and MD5, and no visible file may sit under the object's directory unlisted. Hidden
files (any path segment starting with ``.`` or ``_``, e.g. ``.allocated``) are ignored.

:func:`object_states` lists every factset and snapshot directory with its state derived from
committed metadata only: *published* (named by the head), *expired* (named by an older
``repository`` version only) or *unpublished* (never named). Finding expired objects reads
every ``repository`` version, so it is O(history); the ``store``/``snapshots`` values are read
once per distinct pinned version.

Neither function needs Spark or pyarrow; both read data through :class:`ivory.storage.Storage`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from ivory.errors import KeyNotFoundError
from ivory.identifiers import identifier_sort_key, is_identifier
from ivory.manifest import Manifest
from ivory.metadata import Version
from ivory.planning import is_hidden
from ivory.repository import (
    SNAPSHOTS_KEY,
    STORE_KEY,
    Repository,
    SnapshotRecord,
    parse_snapshots,
    parse_store,
)
from ivory.storage import Storage

#: Bytes read per step when computing MD5s.
BLOCK_SIZE = 1 << 20

#: Problem kinds reported by :func:`verify_repository`.
PROBLEM_KINDS = ("missing", "corrupt", "size", "extra", "no-manifest")


@dataclass(frozen=True)
class Problem:
    """One integrity problem.

    Attributes:
        kind: one of :data:`PROBLEM_KINDS`.
        path: the key relative to the data root (``factsets/00000000/ns/2014/06/02/a.parquet``,
            or the object's directory for ``no-manifest``).
        detail: a human-readable explanation.
    """

    kind: str
    path: str
    detail: str

    def render(self) -> str:
        return f"{self.kind} {self.path}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_repository`.

    Attributes:
        problems: every problem found, in object then path order.
        objects: published factsets and snapshots checked.
        files: manifest files checked.
        bytes: bytes read to compute MD5s.
    """

    problems: list[Problem] = field(default_factory=list)
    objects: int = 0
    files: int = 0
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        status = "OK" if self.ok else f"{len(self.problems)} problems"
        return f"verified {self.objects} objects, {self.files} files, {self.bytes} bytes: {status}"


def file_md5(storage: Storage, key: str) -> tuple[str, int]:
    """``(md5 hex, bytes read)`` of an object, streamed in :data:`BLOCK_SIZE` blocks.

    Raises:
        KeyNotFoundError: No object under ``key``.
    """
    digest = hashlib.md5(usedforsecurity=False)
    count = 0
    with storage.open_read(key) as handle:
        while block := handle.read(BLOCK_SIZE):
            digest.update(block)
            count += len(block)
    return digest.hexdigest(), count


def _listed_files(storage: Storage, directory: str) -> dict[str, int]:
    """Visible files under ``directory`` (``factsets/<id>``): relative path -> size."""
    prefix = directory.rstrip("/") + "/"
    out = {}
    for entry in storage.list(prefix, None):
        relative = entry.key[len(prefix):]
        if entry.is_prefix or is_hidden(relative):
            continue
        out[relative] = entry.size if entry.size is not None else storage.size(entry.key)
    return out


def _verify_object(storage: Storage, directory: str, manifest: Manifest | None,
                   problems: list[Problem]) -> tuple[int, int]:
    """Check one published object; append problems; return ``(files, bytes)`` checked."""
    if manifest is None:
        problems.append(Problem("no-manifest", directory,
                                "published but has no manifest in the metadata"))
        return 0, 0
    listed = _listed_files(storage, directory)
    files = read = 0
    for f in sorted(manifest.files, key=lambda m: m.path):
        files += 1
        key = f"{directory}/{f.path}"
        size = listed.pop(f.path, None)
        if size is None and is_hidden(f.path) and storage.exists(key):
            size = storage.size(key)
        if size is None:
            problems.append(Problem("missing", key, f"listed in the manifest ({f.size} bytes) "
                                    "but not in storage"))
            continue
        if size != f.size:
            problems.append(Problem("size", key, f"{size} bytes, the manifest says {f.size}"))
            continue
        try:
            md5, count = file_md5(storage, key)
        except KeyNotFoundError:
            problems.append(Problem("missing", key, "disappeared while being verified"))
            continue
        read += count
        if md5 != f.md5.lower():
            problems.append(Problem("corrupt", key, f"MD5 {md5}, the manifest says {f.md5}"))
    for relative, size in sorted(listed.items()):
        problems.append(Problem("extra", f"{directory}/{relative}",
                                f"{size} bytes not listed in the manifest"))
    return files, read


def verify_repository(repository: Repository) -> VerifyReport:
    """Check every published factset and snapshot against its manifest (D5.3).

    Every manifest file is checked for presence, size and MD5 (read in full, in 1 MiB
    blocks); visible files under the object's directory that the manifest does not list are
    reported as ``extra``; a published object without a manifest as ``no-manifest``.
    """
    state = repository.state()
    objects = [("factset", i) for i in repository.store(state)]
    objects += [("snapshot", r.snapshot_id) for r in repository.snapshots(state)]
    problems: list[Problem] = []
    files = read = 0
    versions = repository.manifest_versions(state)  # recreated factsets' pins (§11.7)
    for kind, object_id in objects:
        manifest = repository.read_manifest(kind, object_id,
                                            version=versions.get((kind, object_id), Version(0)))
        f, b = _verify_object(repository.data, f"{kind}s/{object_id}", manifest, problems)
        files += f
        read += b
    return VerifyReport(problems, len(objects), files, read)


@dataclass(frozen=True)
class ObjectState:
    """One factset or snapshot directory and its lifecycle state (D5.1).

    Attributes:
        kind: ``"factset"`` or ``"snapshot"``.
        object_id: 8-hex id.
        state: ``"published"``, ``"expired"`` or ``"unpublished"``.
        size: bytes (manifest sizes, or the listed visible files without a manifest).
        facts: fact count from the manifest, None without one.
        first_date / last_date: a snapshot's date (both), or a factset's earliest and latest
            partition dates; None when unknown.
        has_manifest: whether a manifest exists.
    """

    kind: str
    object_id: str
    state: str
    size: int
    facts: int | None
    first_date: dt.date | None
    last_date: dt.date | None
    has_manifest: bool

    def render_dates(self) -> str:
        if self.first_date is None or self.last_date is None:
            return "-"
        if self.first_date == self.last_date:
            return self.first_date.isoformat()
        return f"{self.first_date.isoformat()}..{self.last_date.isoformat()}"


def _referenced(repository: Repository
                ) -> tuple[set[str], set[str], set[str], set[str], dict[str, dt.date]]:
    """Factset and snapshot ids named by the head, and by any ``repository`` version.

    Returns ``(head factsets, head snapshots, all factsets, all snapshots, snapshot dates)``.
    Reads every ``repository`` version (O(history)), each distinct ``store``/``snapshots``
    value once.
    """
    metadata = repository.metadata
    head = repository.state()
    store_cache: dict[Version, list[str]] = {}
    snapshots_cache: dict[Version, list[SnapshotRecord]] = {}

    def store_of(version: Version) -> list[str]:
        if version not in store_cache:
            store_cache[version] = parse_store(metadata.read(STORE_KEY, version))
        return store_cache[version]

    def snapshots_of(version: Version) -> list[SnapshotRecord]:
        if version not in snapshots_cache:
            snapshots_cache[version] = parse_snapshots(metadata.read(SNAPSHOTS_KEY, version))
        return snapshots_cache[version]

    all_factsets: set[str] = set()
    all_snapshots: set[str] = set()
    dates: dict[str, dt.date] = {}
    for version in metadata.versions("repository"):
        state = metadata.read_repository(version)
        if state is None:
            continue
        if STORE_KEY in state.pins:
            all_factsets.update(store_of(state.pins[STORE_KEY]))
        if SNAPSHOTS_KEY in state.pins:
            for record in snapshots_of(state.pins[SNAPSHOTS_KEY]):
                all_snapshots.add(record.snapshot_id)
                dates[record.snapshot_id] = record.date
    head_factsets = set(store_of(head.pins[STORE_KEY])) if STORE_KEY in head.pins else set()
    head_snapshots = ({r.snapshot_id for r in snapshots_of(head.pins[SNAPSHOTS_KEY])}
                      if SNAPSHOTS_KEY in head.pins else set())
    return head_factsets, head_snapshots, all_factsets, all_snapshots, dates


def _directories(storage: Storage, kind: str) -> list[str]:
    """Ids of the ``<kind>s/<id>/`` directories, in id order."""
    prefix = f"{kind}s/"
    ids = [e.key[len(prefix):].rstrip("/") for e in storage.list(prefix, "/") if e.is_prefix]
    return sorted((i for i in ids if is_identifier(i)), key=identifier_sort_key)


def _factset_dates(manifest: Manifest) -> tuple[dt.date | None, dt.date | None]:
    try:
        dates = [date for _, date in manifest.partitions()]
    except ValueError:  # a path that is not <namespace>/<yyyy>/<mm>/<dd>/<file>
        return None, None
    return (min(dates), max(dates)) if dates else (None, None)


def object_states(repository: Repository) -> list[ObjectState]:
    """Every factset and snapshot directory with its state, size, fact count and dates.

    The state comes from committed metadata only (D5.1), never from files such as
    ``.allocated``: ``published`` when the head ``store``/``snapshots`` names it, ``expired``
    when only an older ``repository`` version does, else ``unpublished``. Factsets first, then
    snapshots, each in id order.
    """
    head_f, head_s, all_f, all_s, snapshot_dates = _referenced(repository)
    versions = repository.manifest_versions()  # recreated factsets' pins (§11.7)
    out = []
    for kind, head, ever in (("factset", head_f, all_f), ("snapshot", head_s, all_s)):
        for object_id in _directories(repository.data, kind):
            state = ("published" if object_id in head else
                     "expired" if object_id in ever else "unpublished")
            # Checked against storage first: gc deletes the manifests of the directories it
            # deletes, and a local cache (D5.5) may still hold them.
            manifest = (repository.read_manifest(
                            kind, object_id,
                            version=versions.get((kind, object_id), Version(0)))
                        if repository.metadata.head(f"manifest-{kind}-{object_id}") is not None
                        else None)
            first = last = None
            if manifest is not None:
                size, facts = manifest.total_size, manifest.fact_count
                if kind == "factset":
                    first, last = _factset_dates(manifest)
                else:
                    first = last = manifest.date
            else:
                size = sum(_listed_files(repository.data, f"{kind}s/{object_id}").values())
                facts = None
            if kind == "snapshot" and first is None and object_id in snapshot_dates:
                first = last = snapshot_dates[object_id]
            out.append(ObjectState(kind, object_id, state, size, facts, first, last,
                                   manifest is not None))
    return out


def render_object_states(states: list[ObjectState]) -> list[str]:
    """Lines of an aligned plain-text table: kind, id, state, size, facts, dates."""
    rows = [("KIND", "ID", "STATE", "SIZE", "FACTS", "DATES")]
    rows += [(s.kind, s.object_id, s.state, str(s.size),
              "-" if s.facts is None else str(s.facts), s.render_dates()) for s in states]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {3, 4}
    return [
        "  ".join(c.rjust(w) if i in right else c.ljust(w)
                  for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]
