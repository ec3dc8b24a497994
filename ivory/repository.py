"""A repository: the metadata store (D2) plus the data layout (D2.5) on storage backends.

Metadata keys used (D2.2), each versioned by :class:`ivory.metadata.MetadataStore`:

* ``config`` -- JSON text of §2.1 (metadata version and repository time zone);
* ``dictionary`` -- compact-protocol Thrift dictionary (§2.4);
* ``store`` -- text, one factset id per line, highest priority first (§2.2);
* ``snapshots`` -- text, one published snapshot per line:
  ``<snapshot id> <yyyy-MM-dd> <store version> <dictionary version>``;
* ``manifest-factset-<id>`` / ``manifest-snapshot-<id>`` -- one key per published object,
  version ``00000000`` only: the Thrift manifest of its files (sizes, MD5s) and facts;
* ``data`` -- (optional) the URI of the data when it lives on another backend (D1.3);
* ``repository`` -- the node pinning one version of ``config``, ``dictionary``, ``store``,
  ``snapshots`` and ``data``; creating its next version is the one write that publishes a change.

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
from ivory.errors import IvoryError, KeyExistsError, MetadataError, RepositoryError
from ivory.identifiers import is_identifier, next_identifier, parse_identifier
from ivory.manifest import Manifest, manifest_from_bytes, manifest_to_bytes
from ivory.metadata import MetadataStore, RepositoryState, Version
from ivory.storage import Storage, open_storage

METADATA_VERSION = "v5"
CONFIG_KEY = "config"
DICTIONARY_KEY = "dictionary"
STORE_KEY = "store"
SNAPSHOTS_KEY = "snapshots"
DATA_KEY = "data"
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

        repository.metadata.commit(initial)
        return repository, True

    @classmethod
    def open(cls, location: str, check_version: bool = True) -> Repository:
        """Open an existing repository; its data is where its ``data`` key says (D1.3), else
        beside the metadata.

        Raises:
            RepositoryError: there is no repository at ``location`` or its metadata version is
                not ``v5`` (§2.6).
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

    def store_manifests(self, store: list[str]) -> dict[str, Manifest]:
        """The manifest of every factset of ``store`` (what planning reads instead of listing
        the data, D3.1).

        Raises:
            RepositoryError: a factset of the store has no manifest.
        """
        manifests = {}
        for factset in store:
            manifest = self.read_manifest("factset", factset)
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
            The new id; concurrent allocators never get the same one (create-if-absent).
            Ids the metadata still names (published snapshots, factsets of the store) are
            never handed out again, even when their directory was deleted (T: planning
            removes ``snapshots/``): their manifests are immutable.
        """
        published = ([r.snapshot_id for r in self.snapshots()] if kind == "snapshots"
                     else list(self.store()) if kind == "factsets" else [])
        for _ in range(1000):
            existing = published + [
                e.key[len(kind) + 1 : -1]
                for e in self.data.list(f"{kind}/", "/")
                if e.is_prefix and is_identifier(e.key[len(kind) + 1 : -1])
            ]
            candidate = next_identifier(existing)
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

    def read_manifest(self, kind: str, object_id: str) -> Manifest | None:
        """The manifest of a factset or snapshot, or None. Manifests only have version 0, so
        this is one read (none when the local cache holds it, D5.5), not a head lookup."""
        value = self.metadata.read_if_present(f"manifest-{kind}-{object_id}", Version(0))
        return None if value is None else manifest_from_bytes(value)

    def commit(self, change: Callable[[RepositoryState | None], dict[str, bytes]]
               ) -> RepositoryState:
        """Commit a change (see :meth:`MetadataStore.commit`); re-applied if another writer
        committed first (D2.3)."""
        return self.metadata.commit(change)


def check_timezone(name: str) -> None:
    """Raise RepositoryError unless ``name`` is an IANA time zone id (e.g. Australia/Sydney)."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise RepositoryError(f"unknown time zone '{name}': use an IANA id such as "
                              "Australia/Sydney or UTC") from e
