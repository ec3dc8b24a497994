"""Manifests: the files, sizes and MD5s of a published factset or snapshot (D2.2, D5.3).

A manifest is written (compact-protocol Thrift, ``ThriftManifest`` in
``ivory/thrift/dictionary.thrift``) after its job's output verified and before the commit
that publishes it, so planning needs no listing of the data (D3.1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport

from ivory.errors import MetadataError
from ivory.thrift.gen.dictionary import ttypes

KINDS = {"factset": ttypes.ThriftManifestKind.FACTSET,
         "snapshot": ttypes.ThriftManifestKind.SNAPSHOT}


@dataclass(frozen=True)
class ManifestFile:
    """One data file of a factset or snapshot.

    ``path`` is relative to the object's directory (``HALIBUT/2014/06/02/part-0.parquet``),
    ``size`` in bytes, ``md5`` 32 lower-case hex digits.
    """

    path: str
    size: int
    md5: str


@dataclass(frozen=True)
class Manifest:
    """The manifest of factset or snapshot ``object_id``.

    Attributes:
        kind: ``"factset"`` or ``"snapshot"``.
        object_id: 8-hex id (§1.1).
        files: data files, sorted by path.
        fact_count: number of facts in the files.
        date: snapshot date (snapshots only).
        store_version / dictionary_version / repository_version: metadata versions the
            snapshot was computed from (snapshots only).
    """

    kind: str
    object_id: str
    files: tuple[ManifestFile, ...]
    fact_count: int
    date: dt.date | None = None
    store_version: str | None = None
    dictionary_version: str | None = None
    repository_version: str | None = None

    @property
    def total_size(self) -> int:
        """Bytes in all files."""
        return sum(f.size for f in self.files)

    def partitions(self) -> dict[tuple[str, dt.date], list[ManifestFile]]:
        """Files of a factset grouped by partition ``(namespace, date)`` (§2)."""
        out: dict[tuple[str, dt.date], list[ManifestFile]] = {}
        for f in self.files:
            namespace, year, month, day, _ = f.path.split("/", 4)
            key = (namespace, dt.date(int(year), int(month), int(day)))
            out.setdefault(key, []).append(f)
        return out


def manifest_to_bytes(manifest: Manifest) -> bytes:
    """Serialise with the Thrift compact protocol."""
    value = ttypes.ThriftManifest(
        kind=KINDS[manifest.kind],
        id=manifest.object_id,
        files=[ttypes.ThriftManifestFile(path=f.path, size=f.size, md5=f.md5)
               for f in manifest.files],
        factCount=manifest.fact_count,
        date=manifest.date.isoformat() if manifest.date else None,
        storeVersion=manifest.store_version,
        dictionaryVersion=manifest.dictionary_version,
        repositoryVersion=manifest.repository_version,
    )
    buffer = TTransport.TMemoryBuffer()
    value.write(TCompactProtocol.TCompactProtocol(buffer))
    return buffer.getvalue()


def manifest_from_bytes(data: bytes) -> Manifest:
    """Parse a stored manifest.

    Raises:
        MetadataError: the bytes are not a manifest.
    """
    value = ttypes.ThriftManifest()
    try:
        value.read(TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(data)))
        kind = {v: k for k, v in KINDS.items()}[value.kind]
        return Manifest(
            kind=kind,
            object_id=value.id,
            files=tuple(ManifestFile(f.path, f.size, f.md5) for f in value.files),
            fact_count=value.factCount,
            date=dt.date.fromisoformat(value.date) if value.date else None,
            store_version=value.storeVersion,
            dictionary_version=value.dictionaryVersion,
            repository_version=value.repositoryVersion,
        )
    except Exception as e:  # thrift raises several unrelated types on bad input
        raise MetadataError(f"malformed manifest: {e}") from e
