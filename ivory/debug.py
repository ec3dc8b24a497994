"""Debug and inspection commands that need no Spark (§11.1, §11.3, §11.5).

They read Parquet with pyarrow straight from storage, batch by batch, so they start in well
under a second and never launch a JVM.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import glob
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from ivory.dictionary import FeatureId
from ivory.errors import IvoryError
from ivory.planning import is_hidden
from ivory.repository import Repository
from ivory.storage import Storage, open_storage
from ivory.values import escape_text, render_stored

BATCH_ROWS = 65536


def data_files(storage: Storage, prefix: str) -> list[str]:
    """Keys of the visible data files under ``prefix`` (hidden segments skipped), sorted."""
    prefix = prefix.rstrip("/")
    prefix = prefix + "/" if prefix else ""
    return sorted(
        e.key for e in storage.list(prefix, None)
        if not is_hidden(e.key[len(prefix):])
    )


def object_files(repository: Repository, kind: str, object_id: str) -> list[str]:
    """The data files of a factset or snapshot: from its manifest when published, else by
    listing (so unpublished output can be inspected too)."""
    manifest = repository.read_manifest(kind, object_id)
    if manifest is not None:
        return [f"{kind}s/{object_id}/{f.path}" for f in manifest.files]
    return data_files(repository.data, f"{kind}s/{object_id}")


def read_rows(storage: Storage, keys: Iterable[str], columns: Sequence[str] | None = None
              ) -> Iterator[dict[str, object]]:
    """Rows of Parquet files as dicts, streamed in batches of :data:`BATCH_ROWS`."""
    for key in keys:
        with storage.open_read(key) as handle:
            # Parquet needs random access; object-store streams are read into memory.
            source = handle if handle.seekable() else pa.BufferReader(handle.read())
            parquet = pq.ParquetFile(source)
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                try:
                    rows = batch.to_pylist()
                except UnicodeDecodeError:  # bytes of a non-UTF-8 input line: show them
                    rows = _lenient_rows(batch)
                yield from rows


def _lenient_rows(batch: pa.RecordBatch) -> list[dict[str, object]]:
    """Rows of a batch whose string columns hold invalid UTF-8 (Spark stores an input line's
    bytes as they are): those bytes are shown as ``\\xNN`` escapes instead of failing."""
    columns = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            columns[name] = [None if v is None else v.decode("utf-8", "backslashreplace")
                             for v in column.cast(pa.binary()).to_pylist()]
        else:
            columns[name] = column.to_pylist()
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(),
                                                                      strict=True)]


def render_fact_value(row: dict[str, object], missing: str = "NA") -> str:
    """The text of a stored fact's value (§4.3; structs and lists as JSON, §4.4 with the
    §4.5 key order of stored values); tombstones print ``missing``."""
    return render_stored(row, missing)


def render_dump_line(row: dict[str, object], source: str) -> str:
    """One ``debug-dump-facts`` line (§11.1):
    ``entity|namespace|name|value|yyyy-MM-ddTHH:mm:ss|Factset[id]``."""
    seconds = int(row["seconds"])  # type: ignore[arg-type]
    date = row["date"]
    assert isinstance(date, dt.date)
    when = f"{date.isoformat()}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    value = escape_text(render_fact_value(row), "|")
    return f"{row['entity']}|{row['namespace']}|{row['name']}|{value}|{when}|{source}"


def dump_facts(repository: Repository, factsets: Sequence[str], snapshots: Sequence[str],
               entities: Sequence[str], features: Sequence[str]) -> Iterator[str]:
    """Lines of ``debug-dump-facts`` (§11.1) for the given factsets and snapshots, filtered
    by entity and by ``namespace:name`` (empty filters keep everything).

    Raises:
        IvoryError: a feature filter is not ``namespace:name``.
    """
    wanted_entities = set(entities)
    wanted_features = {(f.namespace, f.name) for f in (FeatureId.parse(a) for a in features)}
    sources = [("factset", i, f"Factset[{i}]") for i in factsets]
    sources += [("snapshot", i, f"Snapshot[{i}]") for i in snapshots]
    for kind, object_id, label in sources:
        keys = object_files(repository, kind, object_id)
        if not keys and not repository.data.exists(f"{kind}s/{object_id}/.allocated"):
            raise IvoryError(f"there is no {kind} {object_id} in {repository.location}")
        for row in read_rows(repository.data, keys):
            if wanted_entities and row["entity"] not in wanted_entities:
                continue
            if wanted_features and (row["namespace"], row["name"]) not in wanted_features:
                continue
            yield render_dump_line(row, label)


def match_files(pattern: str) -> list[tuple[Storage, str]]:
    """The visible files a path or glob names, on any backend (§11.3).

    ``pattern`` is a local path or a URI (``s3://bucket/repo/errors/*/*``) whose segments
    may hold ``*``, ``?`` and ``[...]`` wildcards; a segment-wise match of a directory takes
    every file below it. Hidden names (``.``/``_``) are skipped.

    Returns:
        ``(storage, key)`` pairs in key order.
    """
    parts = pattern.rstrip("/").split("/")
    fixed = next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))
    root = "/".join(parts[:fixed]) or "/"
    wanted = parts[fixed:]
    if not wanted:  # no wildcard: a file, or a directory read whole
        parent, _, name = root.rpartition("/")
        storage = open_storage(parent or "/")
        if name and storage.exists(name):
            return [(storage, name)]
        root_storage = open_storage(root)
        return [(root_storage, key) for key in data_files(root_storage, "")]
    storage = open_storage(root)
    out = []
    for key in data_files(storage, ""):
        segments = key.split("/")
        if len(segments) >= len(wanted) and all(
                fnmatch.fnmatchcase(s, w) for s, w in zip(segments, wanted, strict=False)):
            out.append((storage, key))
    return out


def cat_errors(patterns: Sequence[str], delimiter: str, out: TextIO) -> int:
    """Print error records (§11.3) as ``<line><delimiter><message>``; returns the count.

    Args:
        patterns: files, directories or globs, local or URIs (e.g. ``repo/errors/*/*``).

    Raises:
        IvoryError: a path matches nothing, or a file is not an error file.
    """
    count = 0
    for pattern in patterns:
        matches = match_files(pattern)
        if not matches and not glob.has_magic(pattern):
            raise IvoryError(f"{pattern} does not exist")
        for storage, key in matches:
            try:
                for row in read_rows(storage, [key], ["line", "message"]):
                    # Thrift input has no text line: only the message (§5.4)
                    line = "" if row["line"] is None else f"{row['line']}{delimiter}"
                    out.write(f"{line}{row['message']}\n")
                    count += 1
            except (OSError, ValueError) as e:
                raise IvoryError(f"cannot read error records from {storage.uri(key)}: {e}"
                                 ) from e
    return count


def count_facts(path: str) -> int:
    """Facts in a snapshot or factset directory (§11.5): the row counts of the Parquet
    footers of every visible file below ``path`` (no data is read)."""
    storage = open_storage(path)
    total = 0
    for key in data_files(storage, ""):
        with storage.open_read(key) as handle:
            source = handle if handle.seekable() else pa.BufferReader(handle.read())
            try:
                total += pq.ParquetFile(source).metadata.num_rows
            except (OSError, ValueError) as e:
                raise IvoryError(f"{path}/{key} is not a Parquet data file: {e}") from e
    return total


def thrift_lines(input_path: str, form: str, entities: Sequence[str] = ()) -> Iterator[str]:
    """Lines of ``cat-thrift`` (§11.4) for the SequenceFiles at ``input_path`` (a file, a
    directory or a glob; hidden files skipped): ``dense`` ``entity|v1|v2|...``, ``sparse``
    one ``entity|ns:name|value`` per map entry, ``fact`` ``entity|attribute|value|datetime``.
    Values render as JSON with the §4.5 rule 4 key order; tombstones as ``NA``. Pure Python:
    uncompressed, record- or block-compressed SequenceFiles (Default/Deflate, Gzip, BZip2,
    Snappy, Lz4 codecs; :mod:`ivory.sequencefile`).

    Raises:
        IvoryError: an unknown ``form``, no input file, or a file that is not such a
            SequenceFile / value that is not the form's Thrift struct (names the file).
    """
    from ivory.sequencefile import read_values
    from ivory.thrift.facts import (
        ThriftFact,
        ThriftFactDense,
        ThriftFactSparse,
        decode,
        render_thrift,
    )

    kinds = {"dense": ThriftFactDense, "sparse": ThriftFactSparse, "fact": ThriftFact}
    if form not in kinds:
        raise IvoryError(f"unknown thrift format '{form}': expected dense, sparse or fact")
    matches = match_files(input_path)
    if not matches:
        raise IvoryError(f"{input_path} does not exist or holds no file")
    wanted = set(entities)
    for storage, key in matches:
        name = storage.uri(key)
        with storage.open_read(key) as handle:
            for data in read_values(handle, name):
                try:
                    row = decode(kinds[form], data)
                except Exception as e:
                    raise IvoryError(f"{name}: a value is not a {kinds[form].__name__}: {e}"
                                     ) from e
                if wanted and row.entity not in wanted:
                    continue
                if form == "dense":
                    yield "|".join([row.entity, *(render_thrift(v) for v in row.value or [])])
                elif form == "sparse":
                    for feature, value in (row.value or {}).items():
                        yield f"{row.entity}|{feature}|{render_thrift(value)}"
                else:
                    value = render_thrift(row.value) if row.value is not None else ""
                    yield f"{row.entity}|{row.attribute}|{value}|{row.datetime}"
