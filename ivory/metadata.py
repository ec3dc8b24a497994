"""The versioned metadata store (D2).

Layout (D2.1)::

    <root>/metadata/{key}/{version}/value     one immutable object per version
    <root>/metadata/{key}/.head               hint: the latest version (best-effort, may be stale)

Versions are 32-bit numbers rendered as 8 lower-case hex digits; keys match ``[A-Za-z0-9-]+``.
Each key is versioned on its own; the ``repository`` key pins one version of every other key
and is what readers follow. A commit writes the new values (invisible until pinned), then
creates the next ``repository`` version with create-if-absent: that one write publishes the
change (D2.2). A writer that loses the race re-reads the head and re-applies its change on top
of the winner's, a bounded number of times (D2.3). Finding a head costs O(1) requests (D2.4).
"""

from __future__ import annotations

import contextlib
import random
import re
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ivory.errors import (
    KeyExistsError,
    KeyNotFoundError,
    MetadataConflictError,
    MetadataError,
    StorageError,
    UsageError,
)
from ivory.storage.base import Storage

REPOSITORY = "repository"
"""The key of the reference node that pins one version of every other key (D2.2)."""

_KEY = re.compile(r"[A-Za-z0-9-]+")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_PROBE_LIMIT = 16  # forward exists() probes before head() falls back to a listing
_WRITE_NEXT_LIMIT = 100  # versions write_next() tries past the head before giving up
_BACKOFF_START, _BACKOFF_CAP = 0.02, 2.0  # seconds


class Version(int):
    """A metadata version: an int in ``0..0xffffffff`` rendered as 8 lower-case hex digits
    (D2.1). ``str()`` and ``format(v)`` give the rendered form.

    Raises:
        MetadataError: The value is out of range (from the constructor).
    """

    MAX = 0xFFFFFFFF

    def __new__(cls, value: int) -> Version:
        if not 0 <= int(value) <= cls.MAX:
            raise MetadataError(f"invalid metadata version {value!r}: versions are 0..ffffffff")
        return super().__new__(cls, value)

    def render(self) -> str:
        """Return the 8 lower-case hex digits, e.g. ``'0000001f'``."""
        return f"{int(self):08x}"

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse exactly 8 hex digits (either case).

        Raises:
            MetadataError: ``text`` is anything else.
        """
        if not isinstance(text, str) or not _HEX8.fullmatch(text):
            raise MetadataError(f"invalid metadata version {text!r}: versions are 8 hex digits "
                                "(00000000..ffffffff)")
        return cls(int(text, 16))

    def next(self) -> Version:
        """Return the following version.

        Raises:
            MetadataError: This is ``ffffffff``, the last version.
        """
        return Version(self + 1)

    def __str__(self) -> str:
        return self.render()

    def __format__(self, spec: str) -> str:
        return self.render() if not spec else int.__format__(self, spec)

    def __repr__(self) -> str:
        return f"Version('{self.render()}')"


def check_key(key: str) -> str:
    """Check a metadata key against ``[A-Za-z0-9-]+`` (D2.1).

    Returns:
        str: ``key`` unchanged.

    Raises:
        MetadataError: The key breaks the rule; the message names it.
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise MetadataError(f"invalid metadata key {key!r}: keys match [A-Za-z0-9-]+")
    return key


@dataclass(frozen=True)
class RepositoryState:
    """One ``repository`` version: the committed state of the metadata (D2.2).

    Attributes:
        version (Version): The ``repository`` version.
        pins (Mapping[str, Version]): The pinned version of each other key (read-only, sorted).
        store (MetadataStore | None): The store it was read from, used by :meth:`read`.
    """

    version: Version
    pins: Mapping[str, Version]
    store: MetadataStore | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pins", types.MappingProxyType(dict(sorted(self.pins.items()))))

    def read(self, key: str) -> bytes | None:
        """Read the pinned value of ``key``.

        Returns:
            bytes | None: The value, or None if ``key`` is not pinned in this state.

        Raises:
            MetadataError: Invalid key, no store attached, or the pinned version is missing.
        """
        version = self.pins.get(check_key(key))
        if version is None:
            return None
        if self.store is None:
            raise MetadataError(f"repository version {self.version} is not attached to a store")
        return self.store.read(key, version)

    def render(self) -> bytes:
        """The ``repository`` value: one ``<key> <version>\\n`` line per pin, sorted by key."""
        return "".join(f"{key} {version}\n" for key, version in self.pins.items()).encode()

    @classmethod
    def parse(cls, version: Version, value: bytes, store: MetadataStore | None = None
              ) -> RepositoryState:
        """Parse a ``repository`` value (see :meth:`render`).

        Raises:
            MetadataError: A line is malformed, a key repeats or is ``repository``; the message
                names the repository version and the line.
        """
        pins: dict[str, Version] = {}
        try:
            lines = value.decode("ascii").splitlines()
        except UnicodeDecodeError:
            raise MetadataError(f"repository version {version} is not ASCII text") from None
        for number, line in enumerate(lines, 1):
            key, _, text = line.partition(" ")
            try:
                if check_key(key) == REPOSITORY or key in pins:
                    raise MetadataError(f"key {key!r} is pinned twice or is {REPOSITORY!r}")
                pins[key] = Version.parse(text)
            except MetadataError as e:
                raise MetadataError(f"repository version {version}, line {number} {line!r}: "
                                    f"{e}") from None
        return cls(version, pins, store)


_DEFAULT_CACHE = object()


class MetadataStore:
    """Versioned keys and values in a storage (D2).

    Values are immutable once created, so :meth:`read` goes through a local cache (D5.5,
    :mod:`ivory.cache`) when the storage has a
    :meth:`~ivory.storage.base.Storage.cache_identity` (S3, HDFS): a value read once is never
    downloaded again. Finding heads (:meth:`head`) always asks the storage.

    Args:
        storage (Storage): Rooted at the repository root; the store uses ``metadata/`` in it.
        cache (Cache | None): The cache to use; default: :func:`ivory.cache.default_cache`
            (configured by ``$IVORY_CACHE_DIR`` and ``$IVORY_CACHE_BYTES``); None: no cache.
    """

    def __init__(self, storage: Storage, cache: object = _DEFAULT_CACHE) -> None:
        self.storage = storage
        if cache is _DEFAULT_CACHE:
            from ivory.cache import default_cache

            cache = default_cache()
        self.cache = cache
        self._namespace: str | None = None
        self._namespace_known = False

    def _cache_namespace(self) -> str | None:
        if not self._namespace_known:
            from ivory.cache import metadata_namespace

            identity = self.storage.cache_identity() if self.cache is not None else None
            self._namespace = None if identity is None else metadata_namespace(identity)
            self._namespace_known = True
        return self._namespace

    @staticmethod
    def _path(key: str, version: Version) -> str:
        return f"metadata/{key}/{version.render()}/value"

    @staticmethod
    def _hint(key: str) -> str:
        return f"metadata/{key}/.head"

    def _scan(self, key: str, after: Version | None = None) -> list[Version]:
        """List the versions of ``key`` (after ``after``), ascending, from a recursive listing;
        anything but ``{8 lower-case hex}/value`` (temporary files, the hint) is ignored."""
        prefix = f"metadata/{key}/"
        start = None if after is None else self._path(key, after)
        found = []
        for entry in self.storage.list(prefix, None, start_after=start):
            name, _, rest = entry.key[len(prefix):].partition("/")
            if rest == "value" and _HEX8.fullmatch(name) and name == name.lower():
                found.append(Version.parse(name))
        return found

    def versions(self, key: str) -> list[Version]:
        """Every version of ``key``, ascending (one listing; D2.1).

        Raises:
            MetadataError: Invalid key.
            StorageError: Backend failure.
        """
        return self._scan(check_key(key))

    def head(self, key: str) -> Version | None:
        """The latest version of ``key``, or None if it has none (D2.4).

        Reads the hint ``metadata/{key}/.head``, checks that version exists and probes forward
        with ``exists()`` until a version is absent: 3 requests with a fresh hint, one more per
        version the hint is behind (at most 16, then a listing of the newer versions). Without a
        usable hint, one listing of every version.

        Raises:
            MetadataError: Invalid key.
            StorageError: Backend failure.
        """
        check_key(key)
        try:
            version: Version | None = Version.parse(self.storage.read(self._hint(key)).decode(
                "ascii", "replace").strip())
        except (KeyNotFoundError, MetadataError):
            version = None
        if version is None or not self.storage.exists(self._path(key, version)):
            found = self._scan(key)
            return found[-1] if found else None
        for _ in range(_PROBE_LIMIT):
            if version == Version.MAX or not self.storage.exists(self._path(key, version.next())):
                return version
            version = version.next()
        return (self._scan(key, version) or [version])[-1]

    def read(self, key: str, version: Version) -> bytes:
        """Read one version of ``key`` (through the local cache, see the class docstring).

        Raises:
            MetadataError: Invalid key, or ``key`` has no such version (the message names both).
            StorageError: Backend failure.
        """
        value = self.read_if_present(key, version)
        if value is None:
            raise MetadataError(f"metadata key {key!r} has no version {Version(version)} "
                                f"in {self.storage.describe()}")
        return value

    def read_if_present(self, key: str, version: Version) -> bytes | None:
        """Read one version of ``key``, or None if it does not exist (one request at most;
        none when cached).

        Raises:
            MetadataError: Invalid key or version.
            StorageError: Backend failure.
        """
        path = self._path(check_key(key), Version(version))
        namespace = self._cache_namespace()
        if namespace is not None:
            cached = self.cache.get(namespace, path)  # type: ignore[attr-defined]
            if cached is not None:
                return cached
        try:
            value = self.storage.read(path)
        except KeyNotFoundError:
            return None
        if namespace is not None:
            self.cache.put(namespace, path, value)  # type: ignore[attr-defined]
        return value

    def create(self, key: str, version: Version, value: bytes) -> None:
        """Create one version of ``key`` if absent (never overwrites), then update the hint.

        Raises:
            KeyExistsError: That version already exists.
            MetadataError: Invalid key or version.
            StorageError: Backend failure.
        """
        version = Version(version)
        self.storage.create_if_absent(self._path(check_key(key), version), value)
        self._write_hint(key, version)

    def _write_hint(self, key: str, version: Version) -> None:
        # Best-effort (D2.4): a stale or missing hint only costs head() a few more requests.
        with contextlib.suppress(StorageError):
            self.storage.write(self._hint(key), f"{version}\n".encode())

    def write_next(self, key: str, value: bytes) -> Version:
        """Create the version after the head of ``key``. If a concurrent writer took it, probe
        forward and try the next one (at most 100 times).

        Returns:
            Version: The version created.

        Raises:
            MetadataError: Invalid key, or the version space is exhausted.
            MetadataConflictError: 100 versions in a row were taken by other writers.
            StorageError: Backend failure.
        """
        head = self.head(key)
        version = Version(0) if head is None else head.next()
        for _ in range(_WRITE_NEXT_LIMIT):
            try:
                self.create(key, version, value)
                return version
            except KeyExistsError:
                version = version.next()
        raise MetadataConflictError(f"could not write the next version of metadata key {key!r} "
                                    f"after {_WRITE_NEXT_LIMIT} attempts: too many writers")

    def read_repository(self, version: Version | None = None) -> RepositoryState | None:
        """Read a ``repository`` version (default: the head).

        Returns:
            RepositoryState | None: The state, or None when no repository version exists.

        Raises:
            MetadataError: ``version`` does not exist or its value is malformed.
            StorageError: Backend failure.
        """
        if version is None:
            version = self.head(REPOSITORY)
            if version is None:
                return None
        return RepositoryState.parse(Version(version), self.read(REPOSITORY, version), self)

    def commit(self, change: Callable[[RepositoryState | None], Mapping[str, bytes]], *,
               max_attempts: int = 50) -> RepositoryState | None:
        """Apply ``change`` to the head state and publish the result as the next ``repository``
        version (D2.2, D2.3).

        ``change(state)`` returns ``{key: new value}`` (it may raise to abort). The values are
        written with :meth:`write_next` (invisible until pinned), then the next ``repository``
        version is created, pinning them plus the unchanged pins of ``state``. If another writer
        created that version first, the head is re-read and ``change`` called again on the
        winner's state, after a jittered exponential backoff (20 ms doubling, capped at 2 s). The
        default of 50 attempts lets 16 writers committing flat out on S3 all finish (measured:
        at most 51 attempts at a 1 s cap, 21 at a 2 s cap).

        Args:
            change: Computes the new values from the current state (None: no repository yet).
            max_attempts (int): How many times to try before giving up (>= 1).

        Returns:
            RepositoryState | None: The new state; if ``change`` returns an empty mapping,
            the current state unchanged (None if there is no repository yet), with no write.

        Raises:
            MetadataConflictError: Lost the race ``max_attempts`` times.
            MetadataError: ``change`` returned an invalid key (or ``repository``), or the
                metadata is malformed.
            UsageError: ``max_attempts`` is below 1.
            StorageError: Backend failure.
            Exception: Whatever ``change`` raises, unchanged.
        """
        if max_attempts < 1:
            raise UsageError(f"invalid max_attempts {max_attempts!r}: use an integer >= 1")
        for attempt in range(1, max_attempts + 1):
            current = self.read_repository()
            changes = dict(change(current))
            if not changes:
                return current
            pins = dict(current.pins) if current is not None else {}
            for key in sorted(changes):
                if check_key(key) == REPOSITORY:
                    raise MetadataError(f"a commit cannot change {REPOSITORY!r} directly")
                pins[key] = self.write_next(key, changes[key])
            state = RepositoryState(Version(0) if current is None else current.version.next(),
                                    pins, self)
            try:
                self.create(REPOSITORY, state.version, state.render())
                return state
            except KeyExistsError:
                if attempt < max_attempts:
                    delay = min(_BACKOFF_CAP, _BACKOFF_START * 2 ** (attempt - 1))
                    time.sleep(random.uniform(delay / 2, delay))
        raise MetadataConflictError(
            f"could not commit to {REPOSITORY!r} in {self.storage.describe()}: lost the race "
            f"for the next version {max_attempts} times; retry later")
