"""A repository: the metadata store (D2) plus the data layout (D2.5) on storage backends.

Metadata keys used (D2.2), each versioned by :class:`ivory.metadata.MetadataStore`:

* ``config`` -- JSON text of §2.1 (metadata version and repository time zone);
* ``dictionary`` -- compact-protocol Thrift dictionary (§2.4);
* ``store`` -- text, one factset id per line, highest priority first (§2.2);
* ``snapshots`` -- text, one published snapshot per line:
  ``<snapshot id> <yyyy-MM-dd> <store version> <dictionary version>``;
* ``manifest-factset-<id>`` / ``manifest-snapshot-<id>`` -- one key per published object:
  the Thrift manifest of its files (sizes, MD5s) and facts; version ``00000000`` unless the
  ``manifests`` key pins another one;
* ``manifests`` -- (optional) text, one ``<kind> <id> <version>`` line per object whose
  manifest was rewritten after publication (``health-recreate``, §11.7); objects not named
  use manifest version ``00000000``;
* ``data`` -- (optional) the URI of the data when it lives on another backend (D1.3);
* ``repository`` -- the node pinning one version of ``config``, ``dictionary``, ``store``,
  ``snapshots``, ``data`` and ``manifests``; creating its next version is the one write
  that publishes a change.

Data (D2.5): ``factsets/<id>/<namespace>/<yyyy>/<mm>/<dd>/*.parquet``,
``snapshots/<id>/<namespace>/*.parquet``, ``errors/<id>/*.parquet``. A factset or snapshot
directory exists (``.allocated``) before its job runs; it is *published* only once a
committed ``store``/``snapshots`` value names it (D5.1).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ivory.dictionary import Dictionary, dictionary_from_bytes, dictionary_to_bytes
from ivory.errors import (
    IvoryError,
    KeyExistsError,
    MetadataError,
    RepositoryError,
    StorageError,
)
from ivory.identifiers import is_identifier, next_identifier, parse_identifier
from ivory.manifest import Manifest, manifest_from_bytes, manifest_to_bytes
from ivory.metadata import MetadataStore, RepositoryState, Version
from ivory.storage import Storage, open_storage

METADATA_VERSION = "v5"
KNOWN_VERSIONS = ("v0", "v1", "v2", "v3", "v4", "v5")  # §2.6
CONFIG_KEY = "config"
DICTIONARY_KEY = "dictionary"
STORE_KEY = "store"
SNAPSHOTS_KEY = "snapshots"
DATA_KEY = "data"
MANIFESTS_KEY = "manifests"
DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class RepositoryConfig:
    """The repository config of §2.1: metadata version and the repository time zone."""

    timezone: str
    version: str = METADATA_VERSION

    def render(self) -> str:
        """The exact JSON text of §2.1 (2-space pretty print, ``"key" : value``), no newline."""
        return (
            "{\n"
            f'  "version" : {json.dumps(self.version)},\n'
            f'  "timezone" : {json.dumps(self.timezone)}\n'
            "}"
        )

    @classmethod
    def parse(cls, data: bytes) -> RepositoryConfig:
        """Parse the stored JSON; raises RepositoryError when malformed."""
        try:
            value = json.loads(data.decode("utf-8"))
            return cls(timezone=str(value["timezone"]), version=str(value["version"]))
        except (ValueError, KeyError, TypeError) as e:
            raise RepositoryError(f"the repository config is malformed: {e}") from e


@dataclass(frozen=True)
class SnapshotRecord:
    """A published snapshot: its id, date and the metadata it was computed from (§7.1)."""

    snapshot_id: str
    date: dt.date
    store_version: str
    dictionary_version: str

    def render(self) -> str:
        return " ".join([self.snapshot_id, self.date.isoformat(), self.store_version,
                         self.dictionary_version])

    @classmethod
    def parse(cls, line: str) -> SnapshotRecord:
        sid, date, store, dictionary = line.split(" ")
        return cls(sid, dt.date.fromisoformat(date), store, dictionary)


def _value_lines(key: str, data: bytes) -> list[tuple[int, str]]:
    """``(line number, line)`` of the non-empty lines of a text value.

    Raises:
        MetadataError: The value is not UTF-8 text; the message names the key.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MetadataError(f"the {key} value is malformed: not UTF-8 text (byte {e.start})"
                            ) from None
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line]


def _malformed(key: str, number: int, line: str, reason: object) -> MetadataError:
    shown = line if len(line) <= 80 else line[:77] + "..."
    return MetadataError(f"the {key} value is malformed: line {number} {shown!r}: {reason}")


def parse_store(data: bytes) -> list[str]:
    """Factset ids of a ``store`` value, highest priority first (§2.2).

    Raises:
        MetadataError: Not UTF-8, or a line that is not an identifier (named with its number).
    """
    out = []
    for number, line in _value_lines(STORE_KEY, data):
        try:
            out.append(parse_identifier(line))
        except IvoryError as e:
            raise _malformed(STORE_KEY, number, line, e) from None
    return out


def render_store(factsets: Sequence[str]) -> bytes:
    """The ``store`` value: one id per line, each ending in ``\\n`` (§2.2)."""
    return "".join(f"{f}\n" for f in factsets).encode("utf-8")


def parse_snapshots(data: bytes) -> list[SnapshotRecord]:
    """The records of a ``snapshots`` value.

    Raises:
        MetadataError: Not UTF-8, or a line that is not ``<id> <yyyy-MM-dd> <store version>
            <dictionary version>`` (named with its number).
    """
    out = []
    for number, line in _value_lines(SNAPSHOTS_KEY, data):
        try:
            out.append(SnapshotRecord.parse(line))
        except ValueError:
            raise _malformed(SNAPSHOTS_KEY, number, line, "expected '<snapshot id> <yyyy-MM-dd> "
                             "<store version> <dictionary version>'") from None
    return out


def render_snapshots(records: Sequence[SnapshotRecord]) -> bytes:
    return "".join(r.render() + "\n" for r in records).encode("utf-8")


def parse_manifests(data: bytes) -> dict[tuple[str, str], Version]:
    """The ``manifests`` value: ``(kind, object id) -> manifest version`` (§11.7).

    Raises:
        MetadataError: Not UTF-8, or a line that is not ``<factset|snapshot> <id> <8 hex>``
            or names an object twice (named with its number).
    """
    out: dict[tuple[str, str], Version] = {}
    for number, line in _value_lines(MANIFESTS_KEY, data):
        parts = line.split(" ")
        try:
            if len(parts) != 3 or parts[0] not in ("factset", "snapshot"):
                raise MetadataError("expected '<factset|snapshot> <id> <version>'")
            key = (parts[0], parse_identifier(parts[1]))
            if key in out:
                raise MetadataError(f"{parts[0]} {parts[1]} is named twice")
            out[key] = Version.parse(parts[2])
        except IvoryError as e:
            raise _malformed(MANIFESTS_KEY, number, line, e) from None
    return out


def render_manifests(versions: dict[tuple[str, str], Version]) -> bytes:
    """The ``manifests`` value: ``<kind> <id> <version>\\n`` lines sorted by kind and id."""
    return "".join(f"{kind} {object_id} {Version(v)}\n"
                   for (kind, object_id), v in sorted(versions.items())).encode("utf-8")


class Repository:
    """An opened repository. Metadata and data may live on different backends (D1.3).

    Args:
        metadata_storage: storage rooted at the repository root, for ``metadata/``.
        data_storage: storage rooted at the repository root, for ``factsets/`` etc.
        location: how the user named the repository (for messages).
    """

    def __init__(self, metadata_storage: Storage, data_storage: Storage, location: str) -> None:
        self.metadata = MetadataStore(metadata_storage)
        self.metadata_storage = metadata_storage
        self.data = data_storage
        self.location = location

    # -- creation and opening ------------------------------------------------------------

    @classmethod
    def create(cls, location: str, timezone: str = DEFAULT_TIMEZONE,
               data_location: str | None = None) -> tuple[Repository, bool]:
        """Create the repository at ``location`` unless one is there (§12.2).

        Args:
            location: where the metadata lives (path or URI).
            timezone: the repository time zone (§2.1).
            data_location: where factsets, snapshots and errors live when not beside the
                metadata (D1.3); recorded in the ``data`` key so every later open finds it.

        Returns:
            ``(repository, created)``; ``created`` is False when it already existed (then
            it is opened as it is).

        Raises:
            RepositoryError: ``timezone`` is not a known IANA zone.
        """
        check_timezone(timezone)
        if cls._at(location, None).metadata.head("repository") is not None:
            return cls.open(location), False
        repository = cls._at(location, data_location)
        repository.data.write(".allocated", b"")
        config = RepositoryConfig(timezone=timezone)

        def initial(state: RepositoryState | None) -> dict[str, bytes]:
            if state is not None:
                return {}
            return {
                CONFIG_KEY: config.render().encode("utf-8"),
                DICTIONARY_KEY: dictionary_to_bytes(Dictionary(())),
                STORE_KEY: render_store([]),
                SNAPSHOTS_KEY: render_snapshots([]),
                **({DATA_KEY: data_location.encode("utf-8")} if data_location else {}),
            }

        repository.commit(initial)  # the normal path: it records upstream commit 0 (§2.3)
        return repository, True

    @classmethod
    def open(cls, location: str, check_version: bool = True) -> Repository:
        """Open an existing repository; its data is where its ``data`` key says (D1.3), else
        beside the metadata.

        Raises:
            RepositoryError: there is no repository at ``location``, or (``check_version``) its
                metadata version is an older one (run ``ivory update``) or one this ivory does
                not know about (§2.6).
        """
        repository = cls._at(location, None)
        state = repository.metadata.read_repository()
        if state is None:
            raise RepositoryError(
                f"'{location}' is not an ivory repository: create one with "
                f"'ivory create-repository {location}'"
            )
        data_location = state.read(DATA_KEY)
        if data_location:
            repository = cls._at(location, data_location.decode("utf-8"))
        if check_version:
            version = repository.config().version
            check_known_version(version, location)
            if version != METADATA_VERSION:
                raise RepositoryError(
                    f"the metadata of '{location}' is at version {version}, this ivory needs "
                    f"{METADATA_VERSION}: run 'ivory update'"
                )
        return repository

    @classmethod
    def _at(cls, location: str, data_location: str | None) -> Repository:
        metadata_storage = open_storage(location)
        data_storage = open_storage(data_location) if data_location else metadata_storage
        return cls(metadata_storage, data_storage, location)

    # -- reading committed metadata ------------------------------------------------------

    def state(self) -> RepositoryState:
        """The head ``repository`` node (what readers see)."""
        state = self.metadata.read_repository()
        if state is None:
            raise RepositoryError(f"'{self.location}' has no committed metadata")
        return state

    def _read_pinned(self, key: str, state: RepositoryState | None) -> bytes:
        state = state or self.state()
        return self.metadata.read(key, state.pins[key])

    def config(self, state: RepositoryState | None = None) -> RepositoryConfig:
        return RepositoryConfig.parse(self._read_pinned(CONFIG_KEY, state))

    def dictionary(self, state: RepositoryState | None = None,
                   version: Version | None = None) -> Dictionary:
        """The dictionary pinned by ``state`` (default head), or a given dictionary version."""
        if version is not None:
            return dictionary_from_bytes(self.metadata.read(DICTIONARY_KEY, version))
        return dictionary_from_bytes(self._read_pinned(DICTIONARY_KEY, state))

    def store(self, state: RepositoryState | None = None) -> list[str]:
        """Factset ids of the store, highest priority first (§2.2)."""
        return parse_store(self._read_pinned(STORE_KEY, state))

    def store_at(self, version: str) -> list[str]:
        """The factset ids of ``store`` version ``version`` (8 hex digits), e.g. the store an
        earlier snapshot was computed from."""
        return parse_store(self.metadata.read(STORE_KEY, Version.parse(version)))

    def store_manifests(self, store: list[str], state: RepositoryState | None = None
                        ) -> dict[str, Manifest]:
        """The manifest of every factset of ``store`` (what planning reads instead of listing
        the data, D3.1), at the manifest versions ``state`` (default head) pins.

        Raises:
            RepositoryError: a factset of the store has no manifest.
        """
        versions = self.manifest_versions(state)
        manifests = {}
        for factset in store:
            manifest = self.read_manifest("factset", factset,
                                          version=versions.get(("factset", factset), Version(0)))
            if manifest is None:
                raise RepositoryError(f"factset {factset} of the store has no manifest")
            manifests[factset] = manifest
        return manifests

    def snapshots(self, state: RepositoryState | None = None) -> list[SnapshotRecord]:
        return parse_snapshots(self._read_pinned(SNAPSHOTS_KEY, state))

    # -- ids, manifests and commits ------------------------------------------------------

    def allocate(self, kind: str) -> str:
        """Allocate the next factset or snapshot id by creating ``<kind>/<id>/.allocated``.

        Args:
            kind: ``"factsets"`` or ``"snapshots"``.

        Returns:
            The new id; concurrent allocators never get the same one (create-if-absent), and
            an id that still has a manifest (its directory removed by hand, as T: planning
            does, or metadata restored without its data) is never handed out again (§7.4).
        """
        taken: list[str] = []
        for _ in range(1000):
            existing = [
                e.key[len(kind) + 1 : -1]
                for e in self.data.list(f"{kind}/", "/")
                if e.is_prefix and is_identifier(e.key[len(kind) + 1 : -1])
            ]
            candidate = next_identifier(existing + taken)
            # every published object has a version 0 manifest: no head lookup needed
            if self.read_manifest(kind.removesuffix("s"), candidate,
                                  version=Version(0)) is not None:
                taken.append(candidate)
                continue
            try:
                self.data.create_if_absent(f"{kind}/{candidate}/.allocated", b"")
                return candidate
            except KeyExistsError:
                continue
        raise RepositoryError(f"could not allocate a new id under {kind}/")

    def write_manifest(self, manifest: Manifest) -> None:
        """Store a factset's or snapshot's manifest (immutable, written before its commit)."""
        key = f"manifest-{manifest.kind}-{manifest.object_id}"
        self.metadata.create(key, Version(0), manifest_to_bytes(manifest))

    def manifest_versions(self, state: RepositoryState | None = None
                          ) -> dict[tuple[str, str], Version]:
        """``(kind, id) -> manifest version`` pinned by ``state``'s ``manifests`` value (default
        head); objects not named use version 0. Empty (no read) when the key is not pinned."""
        state = state or self.state()
        if MANIFESTS_KEY not in state.pins:
            return {}
        return parse_manifests(self.metadata.read(MANIFESTS_KEY, state.pins[MANIFESTS_KEY]))

    def read_manifest(self, kind: str, object_id: str, state: RepositoryState | None = None,
                      version: Version | None = None) -> Manifest | None:
        """The manifest of a factset or snapshot, or None.

        Args:
            state: read the version its ``manifests`` value pins (default: the head state).
            version: read this version (``state`` is then not consulted).

        Values are immutable, so the read itself goes through the local cache (D5.5).
        """
        if version is None:
            version = self.manifest_versions(state).get((kind, object_id), Version(0))
        value = self.metadata.read_if_present(f"manifest-{kind}-{object_id}", version)
        return None if value is None else manifest_from_bytes(value)

    def write_manifest_next(self, manifest: Manifest) -> Version:
        """Write a new version of an object's manifest (invisible until a commit pins it in
        ``manifests``, §11.7); returns the version written."""
        return self.metadata.write_next(f"manifest-{manifest.kind}-{manifest.object_id}",
                                        manifest_to_bytes(manifest))

    def commit(self, change: Callable[[RepositoryState | None], dict[str, bytes]]
               ) -> RepositoryState:
        """Commit a change (see :meth:`MetadataStore.commit`); re-applied if another writer
        committed first (D2.3). A change of the dictionary, store or config pins also writes
        the upstream commit record ``metadata/commits/<id>`` (§2.3, best-effort)."""
        state = self.metadata.commit(change)
        if state is not None:
            self._record_commit(state)
        return state

    def _record_commit(self, state: RepositoryState) -> str | None:
        """Write the upstream commit record of ``state`` unless the latest one matches (§2.3);
        best-effort: a storage failure is swallowed (the commit itself is done)."""
        from ivory.upstream import record_commit

        try:
            return record_commit(self.metadata_storage, state.pins)
        except (StorageError, MetadataError):
            return None


def check_known_version(version: str, location: str) -> None:
    """Raise RepositoryError when ``version`` is not one of ``v0``..``v5`` (§2.6)."""
    if version not in KNOWN_VERSIONS:
        raise RepositoryError(
            f"this ivory ({METADATA_VERSION}) does not know about metadata version "
            f"'{version}' of '{location}': it may have been updated by a newer ivory"
        )


def check_timezone(name: str) -> None:
    """Raise RepositoryError unless ``name`` is an IANA time zone id (e.g. Australia/Sydney)."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise RepositoryError(f"unknown time zone '{name}': use an IANA id such as "
                              "Australia/Sydney or UTC") from e
