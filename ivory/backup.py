"""Backup and restore of a repository's committed state (D5.4), between any two backends.

A backup is itself a repository layout (``metadata/{key}/{version}/value``, and with ``--data``
``factsets/<id>/...`` and ``snapshots/<id>/...``) holding exactly what one ``repository``
version reaches:

* the ``repository`` version itself and every value it pins (``config``, ``dictionary``,
  ``store``, ``snapshots``, ``data``, ``manifests``), with their version numbers unchanged;
* the manifest of every published factset and snapshot (the version ``manifests`` pins, §11.7);
* the ``store`` and ``dictionary`` versions each published snapshot was computed from (what
  snapshot reuse and incremental planning read, §7.1, §7.4);
* with ``data``: every file those manifests list (errors directories are not copied).

**Consistency.** The source's head is read once and only what that version reaches is copied;
values are immutable and published files are never rewritten, so concurrent commits do not
matter. The ``repository`` value is written last, after everything it reaches is in place and
checked: an interrupted backup or restore leaves no new ``repository`` version (the previous
backup at the destination, if any, stays readable as it was).

**Integrity.** Every data file is streamed with its MD5 computed on the way and compared with
the manifest (a mismatch means the *source* is corrupt: the write is abandoned, nothing
appears); every metadata value is read back from the destination and compared (size and MD5).
S3 destinations also check each upload with ``Content-MD5``.

**Incremental.** An object already at the destination with the same size and MD5 is skipped;
one that differs is an error (the destination holds another repository), never overwritten.

**Restore** copies a backup's head into the repository named by ``-r`` (or
``$IVORY_REPOSITORY``), which must be empty or absent, in the same order. The restored
repository has the same ``repository`` version, pins and values as the backed-up one: the
same committed state (``ivory verify`` checks its data). The ``data`` pin (data kept on
another backend, D1.3) is restored as it was: with ``--data`` the files go to the location
it names (files already there with the right MD5 are skipped), without it the restored
metadata refers to the data where it already is. ``.allocated`` markers are written for every
factset and snapshot the state names, so new ids never collide with restored ones.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from ivory.errors import IvoryError, KeyExistsError, KeyNotFoundError, StorageError
from ivory.manifest import Manifest, manifest_from_bytes
from ivory.metadata import REPOSITORY, MetadataStore, RepositoryState, Version
from ivory.repository import (
    DATA_KEY,
    DICTIONARY_KEY,
    MANIFESTS_KEY,
    SNAPSHOTS_KEY,
    STORE_KEY,
    Repository,
    parse_manifests,
    parse_snapshots,
    parse_store,
)
from ivory.storage import Storage, open_storage

#: Bytes per read when streaming data files.
BLOCK_SIZE = 1 << 20
ALLOCATED = ".allocated"


class BackupError(IvoryError):
    """A backup or restore cannot proceed; the message names the object and the reason.
    Nothing was published at the destination (no new ``repository`` version)."""


@dataclass
class CopyReport:
    """What :func:`backup` or :func:`restore` did.

    Attributes:
        version (Version): The ``repository`` version copied.
        metadata_copied / metadata_skipped (int): Metadata values written / already present.
        files_copied / files_skipped (int): Data files written / already present (0 without
            data).
        bytes_copied (int): Bytes of data files written.
        not_copied (list[str]): Published objects whose data was not copied (no ``data``).
    """

    version: Version
    metadata_copied: int = 0
    metadata_skipped: int = 0
    files_copied: int = 0
    files_skipped: int = 0
    bytes_copied: int = 0
    not_copied: list[str] = field(default_factory=list)

    def summary(self, verb: str) -> str:
        return (f"{verb} repository version {self.version}: metadata {self.metadata_copied} "
                f"copied, {self.metadata_skipped} already there; data files "
                f"{self.files_copied} copied ({self.bytes_copied} bytes), "
                f"{self.files_skipped} already there")


@dataclass(frozen=True)
class Reachable:
    """What one ``repository`` version reaches (pure result of :func:`plan_copy`).

    Attributes:
        state (RepositoryState): The pinned version.
        values (list[tuple[str, Version]]): Metadata ``(key, version)`` to copy, manifests first,
            then the other values; ``repository`` is not in it (it is written last).
        manifests (dict[str, Manifest]): ``"factsets/<id>"`` / ``"snapshots/<id>"`` -> manifest
            of every published object.
    """

    state: RepositoryState
    values: list[tuple[str, Version]]
    manifests: dict[str, Manifest]


def plan_copy(metadata: MetadataStore, state: RepositoryState) -> Reachable:
    """Find everything ``state`` reaches (see the module docstring).

    Raises:
        BackupError: A published factset or snapshot has no manifest.
        MetadataError: A value is malformed or missing.
        StorageError: Backend failure.
    """
    values: list[tuple[str, Version]] = []
    manifests: dict[str, Manifest] = {}
    store = parse_store(state.read(STORE_KEY) or b"")
    records = parse_snapshots(state.read(SNAPSHOTS_KEY) or b"")
    objects = [("factset", i) for i in store] + [("snapshot", r.snapshot_id) for r in records]
    # a recreated factset's manifest is the version the ``manifests`` value pins (§11.7)
    pinned = parse_manifests(state.read(MANIFESTS_KEY) or b"")
    for kind, object_id in objects:
        key = f"manifest-{kind}-{object_id}"
        version = pinned.get((kind, object_id), Version(0))
        try:
            manifests[f"{kind}s/{object_id}"] = manifest_from_bytes(
                metadata.storage.read(f"metadata/{key}/{version}/value"))
        except KeyNotFoundError:
            raise BackupError(f"published {kind} {object_id} has no manifest in "
                              f"{metadata.storage.describe()}: run 'ivory verify'") from None
        values.append((key, version))
    values += sorted(state.pins.items())
    extra = {(STORE_KEY, Version.parse(r.store_version)) for r in records}
    extra |= {(DICTIONARY_KEY, Version.parse(r.dictionary_version)) for r in records}
    values += sorted(extra - set(values))
    return Reachable(state, values, manifests)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _stream_md5(storage: Storage, key: str) -> tuple[str, int]:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with storage.open_read(key) as handle:
        while block := handle.read(BLOCK_SIZE):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _copy_value(source: MetadataStore, target: Storage, key: str, version: Version,
                report: CopyReport) -> None:
    """Copy one metadata value unless already there; read it back and compare."""
    path = f"metadata/{key}/{version}/value"
    data = source.read(key, version)
    try:
        target.create_if_absent(path, data)
    except KeyExistsError:
        if target.read(path) != data:
            raise BackupError(f"{target.describe()} already holds {path} with other content: "
                              "it is a backup of another repository") from None
        report.metadata_skipped += 1
        return
    back = target.read(path)
    if len(back) != len(data) or _md5(back) != _md5(data):
        raise BackupError(f"{path} reads back from {target.describe()} as {len(back)} bytes, "
                          f"MD5 {_md5(back)}; {len(data)} bytes, MD5 {_md5(data)} were written")
    report.metadata_copied += 1


def _copy_file(source: Storage, target: Storage, key: str, size: int, md5: str,
               report: CopyReport) -> None:
    """Copy one data file, checking its MD5 against the manifest on the way."""
    if target.exists(key):
        if target.size(key) == size and _stream_md5(target, key)[0] == md5.lower():
            report.files_skipped += 1
            return
        raise BackupError(f"{target.describe()} already holds {key} with other content "
                          f"(the manifest says {size} bytes, MD5 {md5}); not overwritten")
    digest = hashlib.md5(usedforsecurity=False)
    count = 0
    try:
        with source.open_read(key) as reader, target.open_write(key) as writer:
            while block := reader.read(BLOCK_SIZE):
                digest.update(block)
                count += len(block)
                writer.write(block)
            if count != size or digest.hexdigest() != md5.lower():
                raise BackupError(
                    f"{key} in {source.describe()} is {count} bytes, MD5 {digest.hexdigest()}; "
                    f"its manifest says {size} bytes, MD5 {md5}: the source is corrupt "
                    "(run 'ivory verify'); nothing was copied")
    except KeyNotFoundError:
        raise BackupError(f"{key} is missing from {source.describe()}") from None
    if target.size(key) != size:
        raise BackupError(f"{key} is {target.size(key)} bytes in {target.describe()} after "
                          f"copying {size}")
    report.files_copied += 1
    report.bytes_copied += size


def _check_data_present(source: Storage, reachable: Reachable) -> None:
    """Before writing anything: every data file to copy is in ``source`` (one listing per
    object)."""
    for directory, manifest in sorted(reachable.manifests.items()):
        listed = {e.key: e.size for e in source.list(directory + "/", None) if not e.is_prefix}
        for f in manifest.files:
            key = f"{directory}/{f.path}"
            if key not in listed and not source.exists(key):
                raise BackupError(f"{key} is not in {source.describe()}: the file is missing "
                                  "(or the backup was made without --data)")


def copy_state(source: MetadataStore, source_data: Storage | None, reachable: Reachable,
               target: Storage, target_data: Storage | None,
               echo: Callable[[str], None] = lambda _: None) -> CopyReport:
    """Copy what ``reachable`` names from ``source`` to ``target``, ``repository`` last.

    Args:
        source: The metadata to read (of a repository, or of a backup).
        source_data: Where the data files are, or None to copy metadata only.
        reachable: From :func:`plan_copy`.
        target: The root to write ``metadata/`` into.
        target_data: The root to write data files and ``.allocated`` markers into (None: none).
        echo: Called with one progress line per object.

    Raises:
        BackupError: A file is missing or corrupt at the source, or the target holds other
            content under a key; nothing was published.
        StorageError: Backend failure; nothing was published.
    """
    state = reachable.state
    report = CopyReport(state.version)
    if source_data is not None and target_data is not None:
        _check_data_present(source_data, reachable)
    if target_data is not None:
        for directory in reachable.manifests:
            with contextlib.suppress(KeyExistsError):
                target_data.create_if_absent(f"{directory}/{ALLOCATED}", b"")
    for directory, manifest in sorted(reachable.manifests.items()):
        if source_data is None or target_data is None:
            report.not_copied.append(directory)
            continue
        for f in manifest.files:
            _copy_file(source_data, target_data, f"{directory}/{f.path}", f.size, f.md5, report)
        echo(f"data {directory}: {len(manifest.files)} files, {manifest.total_size} bytes")
    for key, version in reachable.values:
        _copy_value(source, target, key, version, report)
    _copy_value(source, target, REPOSITORY, state.version, report)
    latest: dict[str, Version] = {}
    for key, version in [*reachable.values, (REPOSITORY, state.version)]:
        latest[key] = max(latest.get(key, version), version)
    for key, version in latest.items():  # hints: best-effort, as in the metadata store
        with contextlib.suppress(StorageError):
            target.write(f"metadata/{key}/.head", f"{version}\n".encode())
    return report


def backup(repository: Repository, destination: str, *, data: bool = False,
           echo: Callable[[str], None] = lambda _: None) -> CopyReport:
    """Back up the head state of ``repository`` (and with ``data`` its published files) to
    ``destination`` (a path or URI; D5.4). Incremental: what is already there is skipped.

    Raises:
        BackupError: See :func:`copy_state`; also a destination that holds another
            repository's values.
        RepositoryError: The repository has no committed state.
    """
    state = repository.state()
    reachable = plan_copy(repository.metadata, state)
    target = open_storage(destination)
    return copy_state(repository.metadata, repository.data if data else None, reachable,
                      target, target if data else None, echo)


def restore(source_location: str, target_location: str, *, data: bool = False,
            echo: Callable[[str], None] = lambda _: None) -> CopyReport:
    """Restore the head state of the backup at ``source_location`` into the empty (or absent)
    location ``target_location`` (D5.4).

    Raises:
        BackupError: The target is not empty, the source holds no backup, or (with ``data``)
            a data file is missing or corrupt in the backup; nothing was published.
        StorageError: Backend failure.
    """
    source_storage = open_storage(source_location)
    source = MetadataStore(source_storage)
    state = source.read_repository()
    if state is None:
        raise BackupError(f"{source_location} holds no backup (no metadata/repository "
                          "version)")
    target = open_storage(target_location)
    if next(iter(target.list("", None)), None) is not None:
        raise BackupError(f"cannot restore into {target_location}: it is not empty (restore "
                          "only into an empty or absent location)")
    pinned_data = state.read(DATA_KEY)
    target_data = open_storage(pinned_data.decode("utf-8")) if pinned_data else target
    reachable = plan_copy(source, state)
    report = copy_state(source, source_storage if data else None, reachable, target,
                        target_data, echo)
    from ivory.cache import forget_location

    forget_location(target)
    return report
