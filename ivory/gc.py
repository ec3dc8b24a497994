"""Garbage collection of unpublished and expired data (D5.2).

``ivory gc`` deletes

* *unpublished* factset, snapshot and errors directories (never named by any committed
  ``repository`` version) whose newest file is older than the grace period, and
* *expired* ones (named only by older versions) whose newest file is older than the retention
  period,

and never anything named by a *retained* ``repository`` version: the head and every version
whose value object is newer than the retention cutoff (a version whose age is unknown is
retained). A retained version protects its ``store`` factsets, its ``snapshots`` and the
factsets of the ``store`` version each of those snapshots was computed from. An errors
directory ``errors/<id>/`` follows the state of factset ``<id>``.

Safety with concurrent writers: an unpublished directory younger than the grace period is
never touched (a job writing it keeps it young), a directory whose age cannot be read (a
backend without modification times, e.g. memory) is kept, and the ``repository`` versions
committed since the listing are re-read immediately before each deletion; a directory they
name is skipped.

A deleted factset or snapshot keeps its ``.allocated`` marker plus a ``.deleted`` tombstone, so
its id is never allocated again (old ``repository`` versions may still name it); its manifest
is deleted after its files.

Metadata values that no ``repository`` version pins -- the leftovers of lost commit races and
of commits that crashed before their ``repository`` write (D5.6) -- are deleted once older than
the grace period (:func:`plan_metadata_gc`), as are temporary files of interrupted metadata
writes. Values pinned by *any* ``repository`` version are kept, retained or not: ``ivory ls``
and gc itself read every version, and values are small. Manifests (``manifest-*`` keys) are
never candidates: they follow their factset's or snapshot's directory (above); the
``manifests`` value that pins a recreated factset's later manifest version (§11.7) is an
ordinary pinned value. Files under a published factset are never deleted one by one, so the
files of a recreated factset stay; its expired originals under ``tmp/expired`` are not gc's.
The upstream commit records ``metadata/commits/<id>`` (§2.3) are not values and are never
deleted. ``repository`` versions themselves are never deleted. A deleted version number may be
created again by a later commit; no reader ever read the deleted value (readers follow pins),
so no cache holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ivory.errors import MetadataError, StorageError, UsageError
from ivory.identifiers import identifier_sort_key, is_identifier
from ivory.metadata import REPOSITORY, RepositoryState, Version
from ivory.repository import (
    SNAPSHOTS_KEY,
    STORE_KEY,
    Repository,
    SnapshotRecord,
    parse_snapshots,
    parse_store,
)
from ivory.storage import Storage
from ivory.storage.base import PrefixedStorage

ALLOCATED = ".allocated"
TOMBSTONE = ".deleted"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds of a duration such as ``24h``, ``30d``, ``90m``, ``0s`` or ``2w``.

    Raises:
        UsageError: Anything else; the message names the text.
    """
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise UsageError(f"invalid duration {text!r}: use a number and a unit s, m, h, d or w "
                         "(e.g. 24h, 30d, 90m, 0s)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def object_mtime(storage: Storage, key: str) -> float | None:
    """The modification time (epoch seconds) of an object, or None when unknown.

    Posix: ``os.stat`` under the root; S3: ``head_object`` ``LastModified``; a prefixed view
    asks its base. Other backends (memory, HDFS) and missing objects give None.
    """
    from ivory.storage.posix import PosixStorage

    while isinstance(storage, PrefixedStorage):
        storage, key = storage.base, storage.prefix + key
    if isinstance(storage, PosixStorage):
        try:
            return os.stat(os.path.join(storage.root, key)).st_mtime
        except OSError:
            return None
    if storage.scheme == "s3":
        try:
            head = storage.client.head_object(Bucket=storage.bucket,  # type: ignore[attr-defined]
                                              Key=storage.prefix + key)  # type: ignore[attr-defined]
        except Exception:  # any failure: age unknown, so the caller keeps the object
            return None
        modified = head.get("LastModified")
        return modified.timestamp() if isinstance(modified, dt.datetime) else None
    return None


def directory_usage(storage: Storage, directory: str) -> tuple[list[str], int, float | None]:
    """``(keys, bytes, newest mtime)`` of every object under ``directory/``; the mtime is None
    when any object's is unknown (or there is no object)."""
    keys, size, newest = [], 0, None
    unknown = False
    for entry in storage.list(directory.rstrip("/") + "/", None):
        if entry.is_prefix:
            continue
        keys.append(entry.key)
        size += entry.size if entry.size is not None else 0
        mtime = object_mtime(storage, entry.key)
        if mtime is None:
            unknown = True
        elif newest is None or mtime > newest:
            newest = mtime
    return keys, size, None if unknown else newest


@dataclass(frozen=True)
class Candidate:
    """A directory gc would delete.

    Attributes:
        kind: ``"factset"``, ``"snapshot"`` or ``"errors"``.
        object_id: 8-hex id (for errors, the factset's).
        state: ``"unpublished"`` or ``"expired"``.
        size: bytes of the files under it.
        age: seconds since its newest file was modified.
    """

    kind: str
    object_id: str
    state: str
    size: int
    age: float

    @property
    def directory(self) -> str:
        return f"{'errors' if self.kind == 'errors' else self.kind + 's'}/{self.object_id}"

    def render(self, verb: str) -> str:
        return (f"{verb} {self.kind} {self.object_id} ({self.state}, {self.size} bytes, "
                f"age {int(self.age // 3600)}h)")


@dataclass(frozen=True)
class MetadataCandidate:
    """An unpinned metadata object gc would delete.

    Attributes:
        key (str): The storage key under the metadata root
            (``metadata/store/00000003/value``, or a temporary file's key).
        size (int): Bytes.
        age (float): Seconds since it was written.
        reason (str): ``"unpinned"`` (a value no ``repository`` version pins) or ``"temporary"``
            (an interrupted write's temporary file).
    """

    key: str
    size: int
    age: float
    reason: str

    def render(self, verb: str) -> str:
        return f"{verb} metadata {self.key} ({self.reason}, {self.size} bytes, " \
               f"age {int(self.age // 3600)}h)"


@dataclass
class GcReport:
    """The outcome of :func:`collect_garbage`: what was (or would be) deleted and skipped."""

    candidates: list[Candidate] = field(default_factory=list)
    deleted: list[Candidate] = field(default_factory=list)
    skipped: list[Candidate] = field(default_factory=list)
    metadata_candidates: list[MetadataCandidate] = field(default_factory=list)
    metadata_deleted: list[MetadataCandidate] = field(default_factory=list)

    def summary(self, dry_run: bool) -> str:
        done = self.candidates if dry_run else self.deleted
        values = self.metadata_candidates if dry_run else self.metadata_deleted
        verb = "would delete" if dry_run else "deleted"
        total = sum(c.size for c in done)
        line = f"gc: {verb} {len(done)} directories, {total} bytes"
        line += (f", and {len(values)} unpinned metadata objects, "
                 f"{sum(v.size for v in values)} bytes")
        if self.skipped:
            line += f"; skipped {len(self.skipped)} that became referenced"
        return line


@dataclass
class _References:
    """Ids named by ``repository`` versions, read once per distinct pinned value."""

    repository: Repository
    store_cache: dict[Version, list[str]] = field(default_factory=dict)
    snapshots_cache: dict[Version, list[SnapshotRecord]] = field(default_factory=dict)

    def store(self, version: Version) -> list[str]:
        if version not in self.store_cache:
            self.store_cache[version] = parse_store(
                self.repository.metadata.read(STORE_KEY, version))
        return self.store_cache[version]

    def snapshots(self, version: Version) -> list[SnapshotRecord]:
        if version not in self.snapshots_cache:
            self.snapshots_cache[version] = parse_snapshots(
                self.repository.metadata.read(SNAPSHOTS_KEY, version))
        return self.snapshots_cache[version]

    def named(self, state: RepositoryState, deep: bool) -> tuple[set[str], set[str]]:
        """``(factsets, snapshots)`` a state names; ``deep`` adds the factsets of the store
        version each of its snapshots was computed from."""
        factsets = set(self.store(state.pins[STORE_KEY])) if STORE_KEY in state.pins else set()
        snapshots: set[str] = set()
        if SNAPSHOTS_KEY in state.pins:
            for record in self.snapshots(state.pins[SNAPSHOTS_KEY]):
                snapshots.add(record.snapshot_id)
                if deep:
                    # a store version that cannot be read protects nothing more
                    with contextlib.suppress(MetadataError):
                        factsets.update(self.store(Version.parse(record.store_version)))
        return factsets, snapshots


def _directories(storage: Storage, folder: str) -> list[str]:
    ids = [e.key[len(folder) + 1:].rstrip("/") for e in storage.list(f"{folder}/", "/")
           if e.is_prefix]
    return sorted((i for i in ids if is_identifier(i)), key=identifier_sort_key)


def newly_referenced(repository: Repository, after: Version, refs: _References
                     ) -> tuple[set[str], set[str], Version]:
    """``(factsets, snapshots, last version)`` named by the ``repository`` versions committed
    after ``after`` (read immediately before deleting; D5.2 safety)."""
    factsets: set[str] = set()
    snapshots: set[str] = set()
    head = repository.metadata.head(REPOSITORY)
    last = after
    if head is None:
        return factsets, snapshots, last
    for number in range(int(after) + 1, int(head) + 1):
        state = repository.metadata.read_repository(Version(number))
        if state is None:
            continue
        f, s = refs.named(state, deep=True)
        factsets |= f
        snapshots |= s
        last = Version(number)
    return factsets, snapshots, last


def plan_gc(repository: Repository, grace: float, retain: float, now: float | None = None
            ) -> tuple[list[Candidate], Version | None, _References]:
    """The directories to delete, the last ``repository`` version read, and the caches."""
    now = time.time() if now is None else now
    refs = _References(repository)
    metadata = repository.metadata
    versions = metadata.versions(REPOSITORY)
    if not versions:
        return [], None, refs
    head = versions[-1]
    ever_f: set[str] = set()
    ever_s: set[str] = set()
    kept_f: set[str] = set()
    kept_s: set[str] = set()
    cutoff = now - retain
    for version in versions:
        state = metadata.read_repository(version)
        if state is None:
            continue
        f, s = refs.named(state, deep=False)
        ever_f |= f
        ever_s |= s
        mtime = object_mtime(repository.metadata_storage,
                             f"metadata/{REPOSITORY}/{version}/value")
        if version == head or mtime is None or mtime > cutoff:
            f, s = refs.named(state, deep=True)
            kept_f |= f
            kept_s |= s
    out = []
    for kind, folder, ever, kept in (("factset", "factsets", ever_f, kept_f),
                                     ("snapshot", "snapshots", ever_s, kept_s),
                                     ("errors", "errors", ever_f, kept_f)):
        for object_id in _directories(repository.data, folder):
            if object_id in kept:
                continue
            state_name = "expired" if object_id in ever else "unpublished"
            keys, size, newest = directory_usage(repository.data, f"{folder}/{object_id}")
            if _only_tombstone(folder, object_id, keys) or newest is None:
                continue
            age = now - newest
            if age > (retain if state_name == "expired" else grace):
                out.append(Candidate(kind, object_id, state_name, size, age))
    return out, head, refs


def _only_tombstone(folder: str, object_id: str, keys: list[str]) -> bool:
    names = {k[len(folder) + len(object_id) + 2:] for k in keys}
    return TOMBSTONE in names and names <= {ALLOCATED, TOMBSTONE}


def _delete(repository: Repository, candidate: Candidate) -> None:
    data = repository.data
    directory = candidate.directory
    if candidate.kind == "errors":
        data.delete_prefix(directory + "/")
        return
    data.write(f"{directory}/{TOMBSTONE}", b"")
    for entry in list(data.list(directory + "/", None)):
        name = entry.key[len(directory) + 1:]
        if not entry.is_prefix and name not in (ALLOCATED, TOMBSTONE):
            data.delete(entry.key)
    repository.metadata_storage.delete_prefix(
        f"metadata/manifest-{candidate.kind}-{candidate.object_id}/")


_VALUE_KEY = re.compile(r"metadata/([A-Za-z0-9-]+)/([0-9a-f]{8})/value")


def plan_metadata_gc(repository: Repository, grace: float, now: float | None = None
                     ) -> tuple[list[MetadataCandidate], set[tuple[str, str]]]:
    """Unpinned metadata values and stale temporary files older than ``grace`` seconds (D5.2).

    A value ``metadata/<key>/<version>/value`` is unpinned when no ``repository`` version pins
    that version of that key; ``repository`` and ``manifest-*`` keys are never candidates, nor
    the ``.head`` hints. Any other object under ``metadata/`` (a temporary file of a write that
    was interrupted, e.g. ``metadata/store/00000003/.value.ivory-tmp-1a2b``) is a candidate
    once older than ``grace``. An object whose age is unknown (memory storage) is kept.

    Returns:
        tuple[list[MetadataCandidate], set[tuple[str, str]]]: The candidates in key order, and
        every pinned ``(key, version)`` seen (to re-check before deleting).

    Raises:
        MetadataError: A ``repository`` value is malformed.
        StorageError: Backend failure.
    """
    now = time.time() if now is None else now
    metadata = repository.metadata
    storage = repository.metadata_storage
    pinned: set[tuple[str, str]] = set()
    for version in metadata.versions(REPOSITORY):
        state = metadata.read_repository(version)
        if state is not None:
            pinned.update((key, str(v)) for key, v in state.pins.items())
    out = []
    for entry in storage.list("metadata/", None):
        if entry.is_prefix:
            continue
        key_name = entry.key.split("/")[1] if entry.key.count("/") >= 2 else ""
        if key_name == REPOSITORY or key_name.startswith("manifest-"):
            continue
        if key_name == "commits" and _is_commit_record(entry.key):
            continue  # the upstream view (§2.3), not a versioned value
        match = _VALUE_KEY.fullmatch(entry.key)
        if match is not None:
            if (match.group(1), match.group(2)) in pinned:
                continue
            reason = "unpinned"
        elif entry.key.endswith("/.head") and entry.key.count("/") == 2:
            continue
        else:
            reason = "temporary"
        mtime = object_mtime(storage, entry.key)
        if mtime is None or now - mtime <= grace:
            continue
        out.append(MetadataCandidate(entry.key, entry.size or 0, now - mtime, reason))
    return out, pinned


def _is_commit_record(key: str) -> bool:
    """``metadata/commits/<id>`` (an upstream commit record, §2.3) or its ``.allocated``."""
    name = key[len("metadata/commits/"):]
    return "/" not in name and (is_identifier(name) or name == ALLOCATED)


def _pinned_since(repository: Repository, pinned: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """``pinned`` plus the pins of ``repository`` versions committed since it was computed."""
    metadata = repository.metadata
    out = set(pinned)
    for version in metadata.versions(REPOSITORY):
        state = metadata.read_repository(version)
        if state is not None:
            out.update((key, str(v)) for key, v in state.pins.items())
    return out


def collect_garbage(repository: Repository, grace: float, retain: float, *,
                    dry_run: bool = False, now: float | None = None,
                    echo: Callable[[str], None] = print) -> GcReport:
    """Delete (or with ``dry_run`` only list) unpublished and expired directories (D5.2).

    Args:
        grace: seconds an unpublished directory's newest file must be older than.
        retain: seconds an expired directory's newest file, and a protecting ``repository``
            version, must be older than.
        echo: called with one line per directory (``would delete ...`` / ``deleted ...``).

    Raises:
        UsageError: a negative duration.
    """
    if grace < 0 or retain < 0:
        raise UsageError("gc durations must not be negative")
    candidates, last, refs = plan_gc(repository, grace, retain, now)
    report = GcReport(candidates)
    since_f: set[str] = set()
    since_s: set[str] = set()
    for candidate in candidates:
        if dry_run:
            echo(candidate.render("would delete"))
            continue
        assert last is not None
        new_f, new_s, last = newly_referenced(repository, last, refs)
        since_f |= new_f
        since_s |= new_s
        named = since_s if candidate.kind == "snapshot" else since_f
        if candidate.object_id in named:
            report.skipped.append(candidate)
            echo(f"kept {candidate.kind} {candidate.object_id}: committed while gc ran")
            continue
        try:
            _delete(repository, candidate)
        except StorageError as e:
            raise StorageError(f"gc could not delete {candidate.directory}: {e}") from e
        report.deleted.append(candidate)
        echo(candidate.render("deleted"))
    values, pinned = plan_metadata_gc(repository, grace, now)
    report.metadata_candidates = values
    if values and not dry_run:
        pinned = _pinned_since(repository, pinned)  # a commit since may have pinned one
    for value in values:
        if dry_run:
            echo(value.render("would delete"))
            continue
        match = _VALUE_KEY.fullmatch(value.key)
        if match is not None and (match.group(1), match.group(2)) in pinned:
            continue
        try:
            repository.metadata_storage.delete(value.key)
        except StorageError as e:
            raise StorageError(f"gc could not delete {value.key}: {e}") from e
        report.metadata_deleted.append(value)
        echo(value.render("deleted"))
    return report
