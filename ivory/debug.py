"""Debug and inspection commands that need no Spark (§11.1, §11.3, §11.5).

They read Parquet with pyarrow straight from storage, batch by batch, so they start in well
under a second and never launch a JVM.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

import pyarrow.parquet as pq

from ivory.dictionary import FeatureId
from ivory.errors import IvoryError
from ivory.planning import is_hidden
from ivory.repository import Repository
from ivory.schema import VALUE_COLUMNS
from ivory.storage import Storage, open_storage
from ivory.values import escape_text, render_primitive

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
            parquet = pq.ParquetFile(handle)
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                yield from batch.to_pylist()


def render_fact_value(row: dict[str, object], missing: str = "NA") -> str:
    """The text of a stored fact's value (§4.3); tombstones print ``missing``."""
    if row["tombstone"]:
        return missing
    for column in VALUE_COLUMNS.values():
        value = row.get(column)
        if value is not None:
            return render_primitive(value)
    return missing


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


def expand_paths(patterns: Sequence[str]) -> list[str]:
    """Local glob patterns expanded (sorted, hidden files skipped); URIs are kept as given."""
    out: list[str] = []
    for pattern in patterns:
        if "://" in pattern:
            out.append(pattern)
            continue
        matches = sorted(glob.glob(pattern))
        if not matches and not glob.has_magic(pattern):
            matches = [pattern]
        out.extend(m for m in matches if not os.path.basename(m).startswith((".", "_")))
    return out


def _open_file(path: str) -> tuple[Storage, str]:
    directory, name = path.rstrip("/").rsplit("/", 1) if "/" in path else (".", path)
    return open_storage(directory or "/"), name


def cat_errors(patterns: Sequence[str], delimiter: str, out: TextIO) -> int:
    """Print error records (§11.3) as ``<line><delimiter><message>``; returns the count.

    Args:
        patterns: files or globs (e.g. ``repo/errors/*/*``); directories are read whole.

    Raises:
        IvoryError: a path does not exist or is not an error file.
    """
    count = 0
    for path in expand_paths(patterns):
        if os.path.isdir(path):
            storage, keys = open_storage(path), data_files(open_storage(path), "")
        else:
            storage, name = _open_file(path)
            keys = [name]
        for key in keys:
            try:
                for row in read_rows(storage, [key], ["line", "message"]):
                    out.write(f"{row['line']}{delimiter}{row['message']}\n")
                    count += 1
            except (OSError, ValueError) as e:
                raise IvoryError(f"cannot read error records from {path}: {e}") from e
    return count


def count_facts(path: str) -> int:
    """Facts in a snapshot or factset directory (§11.5): the row counts of the Parquet
    footers of every visible file below ``path`` (no data is read)."""
    storage = open_storage(path)
    total = 0
    for key in data_files(storage, ""):
        with storage.open_read(key) as handle:
            try:
                total += pq.ParquetFile(handle).metadata.num_rows
            except (OSError, ValueError) as e:
                raise IvoryError(f"{path}/{key} is not a Parquet data file: {e}") from e
    return total
