"""The upstream-format view of a repository: commit records and ``.manifest.json`` files.

Our own metadata is the versioned store of :mod:`ivory.metadata` (D2); upstream Ivory's
tools and regression cases read other files, which this module writes beside it:

* ``metadata/commits/<id>`` (§2.3): the dictionary, store and config ids of a commit, one per
  line, each ending in ``\\n``. A record is written after every commit that changes one of
  those three pins (our per-key versions are the upstream ids); commits that change nothing
  of them (a snapshot) write none.
* ``factsets/<id>/.manifest.json`` and ``snapshots/<id>/.manifest.json`` (§2.5), in the
  2-space pretty JSON of upstream (Argonaut ``spaces2``: ``"key" : value``).

The view is best-effort: it is written after (commit records) or before (manifests) the commit
that publishes, never read to decide anything but the ``commit`` field of a snapshot manifest,
and a failure to write it never fails the command. Concurrent committers may write their
records out of order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping, Sequence

from ivory import __version__
from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError
from ivory.identifiers import identifier_sort_key, is_identifier, next_identifier
from ivory.manifest import Manifest
from ivory.storage import Storage

COMMITS = "metadata/commits"
"""Where the upstream commit records live, under the metadata root (§2.3)."""
MANIFEST_NAME = ".manifest.json"
MANIFEST_METADATA_VERSION = "v5"
_RECORD_ATTEMPTS = 20


def render_json(value: object, indent: str = "") -> str:
    """Argonaut ``spaces2`` pretty print (§2.5): 2-space indent, ``"key" : value``, key order
    as given, ``[]``/``{}`` when empty, no trailing newline.

    Args:
        value: dicts, lists, str, int, bool and None.
    """
    inner = indent + "  "
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))} : {render_json(v, inner)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return ("[\n" + ",\n".join(inner + render_json(v, inner) for v in value)
                + "\n" + indent + "]")
    return json.dumps(value, ensure_ascii=False)


def _envelope(tag: str, fields: Mapping[str, object]) -> str:
    return render_json({
        "version": {"metadata": MANIFEST_METADATA_VERSION, "ivory": __version__},
        "metadata": {"type": tag, **fields},
    })


def factset_manifest_json(factset_id: str, partitions: Sequence[tuple[str, dt.date, int]],
                          file_format: str = "v2") -> str:
    """The upstream factset manifest (§2.5).

    Args:
        factset_id: e.g. ``"00000000"``.
        partitions: ``(namespace, date, bytes)`` per partition, any order (sorted here by
            namespace then date).
        file_format: ``"v2"`` (``"v1"`` for old data).
    """
    return _envelope("factset", {
        "id": factset_id,
        "format": file_format,
        "partitions": [{"value": {"name": ns, "date": date.isoformat()}, "size": size}
                       for ns, date, size in sorted(partitions)],
    })


def factset_partitions(manifest: Manifest) -> list[tuple[str, dt.date, int]]:
    """``(namespace, date, bytes)`` of each partition of one of our factset manifests."""
    return [(ns, date, sum(f.size for f in files))
            for (ns, date), files in sorted(manifest.partitions().items())]


def snapshot_manifest_json(snapshot_id: str, date: dt.date, commit: str | None,
                           store: str | None = None, file_format: str = "v2") -> str:
    """The upstream snapshot manifest (§2.5): ``commit`` or (converted pre-commit snapshots)
    ``store`` is set, the other is ``null``; ``format`` ``"v2"`` (per-namespace layout) or
    ``"v1"`` (old flat layout)."""
    return _envelope("snapshot", {
        "commit": commit,
        "store": store if commit is None else None,
        "snapshot": snapshot_id,
        "format": file_format,
        "date": date.isoformat(),
    })


def render_commit(dictionary: str, store: str, config: str | None) -> bytes:
    """A commit record (§2.3): dictionary id, store id and (optional) config id, one a line."""
    return "".join(f"{i}\n" for i in (dictionary, store, config) if i is not None).encode()


def commit_ids(storage: Storage) -> list[str]:
    """The ids of the commit records under ``metadata/commits/``, ascending (§2.3)."""
    ids = [e.key[len(COMMITS) + 1:] for e in storage.list(f"{COMMITS}/", "/")
           if not e.is_prefix]
    return sorted((i for i in ids if is_identifier(i)), key=identifier_sort_key)


def latest_commit(storage: Storage) -> tuple[str, bytes] | None:
    """``(id, content)`` of the latest commit record, or None when there is none."""
    ids = commit_ids(storage)
    while ids:
        try:
            return ids[-1], storage.read(f"{COMMITS}/{ids[-1]}")
        except KeyNotFoundError:
            ids.pop()
    return None


def record_commit(storage: Storage, pins: Mapping[str, object]) -> str | None:
    """Write the commit record of ``pins`` (``dictionary``, ``store``, ``config`` versions)
    unless the latest record already says the same (§2.3).

    Returns:
        The id of the record written or already matching; None when a pin is missing.

    Raises:
        StorageError: backend failure (callers treat the view as best-effort).
    """
    if "dictionary" not in pins or "store" not in pins:
        return None
    content = render_commit(str(pins["dictionary"]), str(pins["store"]),
                            str(pins["config"]) if "config" in pins else None)
    for _ in range(_RECORD_ATTEMPTS):
        latest = latest_commit(storage)
        if latest is not None and latest[1] == content:
            return latest[0]
        candidate = next_identifier([latest[0]] if latest else [])
        try:
            storage.create_if_absent(f"{COMMITS}/{candidate}", content)
            return candidate
        except KeyExistsError:
            continue
    return None


def latest_commit_id(storage: Storage, pins: Mapping[str, object]) -> str | None:
    """The id of the latest commit record if it matches ``pins`` (what a snapshot manifest
    names as its ``commit``, §2.5), else None."""
    latest = latest_commit(storage)
    if latest is None or "dictionary" not in pins or "store" not in pins:
        return None
    expected = render_commit(str(pins["dictionary"]), str(pins["store"]),
                             str(pins["config"]) if "config" in pins else None)
    return latest[0] if latest[1] == expected else None


def write_manifest_json(data: Storage, kind: str, object_id: str, text: str) -> None:
    """Write ``<kind>s/<id>/.manifest.json`` (overwriting; it is a view, §2.5)."""
    data.write(f"{kind}s/{object_id}/{MANIFEST_NAME}", text.encode("utf-8"))


def write_factset_view(data: Storage, manifest: Manifest) -> None:
    """Best-effort ``factsets/<id>/.manifest.json`` of one of our factset manifests (§2.5),
    written before the commit that publishes the factset."""
    with contextlib.suppress(StorageError):
        write_manifest_json(data, "factset", manifest.object_id, factset_manifest_json(
            manifest.object_id, factset_partitions(manifest)))


def write_snapshot_view(data: Storage, metadata: Storage, snapshot_id: str, date: dt.date,
                        pins: Mapping[str, object]) -> None:
    """Best-effort ``snapshots/<id>/.manifest.json`` (§2.5): ``commit`` is the upstream commit
    record of ``pins`` when the latest record matches them, else ``store`` is the store id."""
    with contextlib.suppress(StorageError):
        commit = latest_commit_id(metadata, pins)
        store = None if commit is not None else str(pins.get("store", "")) or None
        write_manifest_json(data, "snapshot", snapshot_id,
                            snapshot_manifest_json(snapshot_id, date, commit, store))


def snapshot_stats_json(fact_count: int, written: dt.datetime) -> str:
    """``snapshots/<id>/.stats`` (§2 layout): JSON ``version``, ``datetime`` (when the
    snapshot was written, ``yyyy-MM-ddTHH:mm:ss``) and ``fact_count`` (facts stored)."""
    return render_json({"version": "v1",
                        "datetime": written.strftime("%Y-%m-%dT%H:%M:%S"),
                        "fact_count": fact_count}) + "\n"


def write_snapshot_stats(data: Storage, snapshot_id: str, fact_count: int,
                         written: dt.datetime) -> None:
    """Best-effort ``snapshots/<id>/.stats`` (§2 layout; T: window ``cat``s it), written
    before the commit that publishes the snapshot."""
    with contextlib.suppress(StorageError):
        data.write(f"snapshots/{snapshot_id}/.stats",
                   snapshot_stats_json(fact_count, written).encode("utf-8"))
