"""A local, size-bounded cache of immutable values (D5.5): metadata versions, artefacts.

A committed metadata version never changes, so a value cached under
``(location, key, version)`` stays valid; :class:`ivory.metadata.MetadataStore` reads through
the cache for backends that say who they are (:meth:`ivory.storage.base.Storage.cache_identity`:
S3 with its endpoint, HDFS; not memory, whose names are per process, nor local disk, which
is no slower than the cache). A repository deleted and created again *at the same location*
by hand is the one case a cached value could be stale: ``ivory restore`` forgets its target's
entries; otherwise clear the cache directory.

Layout, under ``$IVORY_CACHE_DIR`` (default ``~/.cache/ivory/values``)::

    <root>/<sha256(namespace)[:32]>/<sha256(name)[:2]>/<sha256(name)>

each file holding ``IVC1``, the SHA-256 of the value (32 bytes) and the value. Safe for any
number of processes at once: a value is written to a temporary file in the same directory and
renamed into place (readers see the old file, the new one or none, never a partial one), and
a read checks the digest (a file damaged on disk is a miss and is removed). The cache is
bounded by ``$IVORY_CACHE_BYTES`` (default 256 MiB; ``0`` disables it): after a write that
takes it over the bound, the least recently used files (by modification time, which a hit
refreshes) are deleted until it is at 90% of it. Every failure of the cache itself (a full or
read-only disk) is a miss, never an error of the command.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass

DIR_ENV = "IVORY_CACHE_DIR"
BYTES_ENV = "IVORY_CACHE_BYTES"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_MAGIC = b"IVC1"
_DIGEST = 32
_TEMP = ".tmp-"
_STALE_TEMP_SECS = 3600.0


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class CacheStats:
    """Hits, misses (``corrupt``: of which files that failed their digest check), writes and
    evictions of one :class:`Cache` object (this process only)."""

    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    writes: int = 0
    evicted: int = 0


class Cache:
    """A directory of immutable values, LRU-bounded by bytes (D5.5).

    Args:
        root (str): The cache directory (created on first write).
        max_bytes (int): The bound on the bytes of all cached files (>= 1).
    """

    def __init__(self, root: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        self.max_bytes = max_bytes
        self.stats = CacheStats()

    def _path(self, namespace: str, name: str) -> str:
        digest = _sha(name)
        return os.path.join(self.root, _sha(namespace)[:32], digest[:2], digest)

    def get(self, namespace: str, name: str) -> bytes | None:
        """The value cached under ``(namespace, name)``, or None (a miss)."""
        path = self._path(namespace, name)
        try:
            with open(path, "rb") as handle:
                blob = handle.read()
        except OSError:
            self.stats.misses += 1
            return None
        value = blob[len(_MAGIC) + _DIGEST:]
        if (not blob.startswith(_MAGIC)
                or hashlib.sha256(value).digest() != blob[len(_MAGIC):len(_MAGIC) + _DIGEST]):
            with contextlib.suppress(OSError):
                os.unlink(path)
            self.stats.misses += 1
            self.stats.corrupt += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used
        self.stats.hits += 1
        return value

    def put(self, namespace: str, name: str, value: bytes) -> None:
        """Cache ``value`` under ``(namespace, name)`` (atomically); then evict if over the
        bound. Failures are ignored (the value is simply not cached)."""
        if len(value) + len(_MAGIC) + _DIGEST > self.max_bytes:
            return
        path = self._path(namespace, name)
        directory = os.path.dirname(path)
        temp = os.path.join(directory, f"{_TEMP}{secrets.token_hex(8)}")
        try:
            os.makedirs(directory, exist_ok=True)
            with open(temp, "xb") as handle:
                handle.write(_MAGIC + hashlib.sha256(value).digest() + value)
            os.replace(temp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            return
        self.stats.writes += 1
        self.evict()

    def forget(self, namespace: str) -> None:
        """Drop every value of ``namespace``."""
        shutil.rmtree(os.path.join(self.root, _sha(namespace)[:32]), ignore_errors=True)

    def _files(self) -> list[tuple[float, int, str]]:
        """``(mtime, bytes, path)`` of every cached file; stale temporary files are removed."""
        out = []
        now = time.time()
        for directory, _, names in os.walk(self.root):
            for name in names:
                path = os.path.join(directory, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if name.startswith(_TEMP):
                    if now - st.st_mtime > _STALE_TEMP_SECS:
                        with contextlib.suppress(OSError):
                            os.unlink(path)
                    continue
                out.append((st.st_mtime, st.st_size, path))
        return out

    def usage(self) -> int:
        """Bytes of all cached files."""
        return sum(size for _, size, _ in self._files())

    def evict(self) -> int:
        """Delete least recently used files until the cache is within 90% of its bound, if it
        is over the bound. Returns the number of files deleted."""
        files = self._files()
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return 0
        deleted = 0
        for _, size, path in sorted(files):
            if total <= self.max_bytes * 0.9:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                deleted += 1
            total -= size
        self.stats.evicted += deleted
        return deleted


_default: tuple[tuple[str, str], Cache | None] | None = None


def default_cache() -> Cache | None:
    """The cache configured by the environment: ``$IVORY_CACHE_DIR`` (default
    ``~/.cache/ivory/values``) and ``$IVORY_CACHE_BYTES`` (unset or ``0``: no cache, None
    is returned; :data:`DEFAULT_MAX_BYTES` is a sensible size to set). One object per
    configuration, shared by the process."""
    global _default
    config = (os.environ.get(DIR_ENV) or "~/.cache/ivory/values",
              os.environ.get(BYTES_ENV, ""))
    if _default is None or _default[0] != config:
        # Opt-in: a repository deleted by hand and created again at the same location would
        # be served the old values, so nothing is cached unless $IVORY_CACHE_BYTES says so.
        try:
            max_bytes = int(config[1]) if config[1] else 0
        except ValueError:
            max_bytes = 0
        _default = (config, Cache(config[0], max_bytes) if max_bytes > 0 else None)
    return _default[1]


def metadata_namespace(identity: str) -> str:
    """The namespace of a metadata store's values at a storage identity."""
    return f"metadata:{identity}"


def forget_location(storage: object) -> None:
    """Drop the cached metadata of the repository rooted at ``storage`` (a
    :class:`~ivory.storage.base.Storage`), e.g. before a restore writes a new one there."""
    cache = default_cache()
    identity = getattr(storage, "cache_identity", lambda: None)()
    if cache is not None and identity is not None:
        cache.forget(metadata_namespace(identity))
