"""``ivory rename`` (§11.8): copy facts of some features under new names into a new factset.

Reads every factset of the current store with pyarrow (one file at a time), keeps the facts
of the mapped features, renames them, keeps per (entity, new feature, date, seconds) the fact
of the highest-priority factset (the first in the store; within one factset the last read),
writes them as a new factset partitioned ``<namespace>/<yyyy>/<mm>/<dd>/`` with a manifest, and
commits it at the front of the store. The dictionary is not changed. Memory holds the kept
facts, so this suits renames of modest feature sets; a Spark job would be the next step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from ivory.debug import object_files, read_rows
from ivory.dictionary import FeatureId
from ivory.errors import IngestError, IvoryError
from ivory.manifest import Manifest, ManifestFile
from ivory.repository import STORE_KEY, Repository, parse_store, render_store
from ivory.schema import FACT_COLUMNS, arrow_fact_schema
from ivory.upstream import write_factset_view


def parse_mappings(mappings: Sequence[str], batch_text: str | None = None
                   ) -> list[tuple[FeatureId, FeatureId]]:
    """``-b`` batch lines ``from_ns:from|to_ns:to`` first, then ``-m FROM=TO`` (§11.8).

    Raises:
        IvoryError: a malformed mapping (names it).
    """
    pairs = []
    lines = [line for line in (batch_text or "").splitlines() if line.strip()]
    for text, sep in [(line, "|") for line in lines] + [(m, "=") for m in mappings]:
        source, found, target = text.partition(sep)
        if not found:
            raise IvoryError(f"invalid rename mapping '{text}': expected FROM{sep}TO")
        pairs.append((FeatureId.parse(source.strip()), FeatureId.parse(target.strip())))
    return pairs


def rename(repository: Repository, mappings: Sequence[tuple[FeatureId, FeatureId]]
           ) -> tuple[str, int]:
    """Write the renamed facts as a new factset and commit it; returns ``(factset id,
    facts)`` for ``Successfully renamed <n> facts to new factset <id>``.

    Raises:
        IvoryError: ``The following features do not exist: ...`` (§11.8), or no mapping.
    """
    if not mappings:
        raise IvoryError("rename needs at least one mapping (-m or -b)")
    state = repository.state()
    dictionary = repository.dictionary(state)
    known = set(dictionary.sorted_features())
    missing = [str(s) for s, _ in mappings if s not in known]
    if missing:
        raise IvoryError(f"The following features do not exist: {', '.join(missing)}")
    names = {(s.namespace, s.name): t for s, t in mappings}
    store = repository.store(state)
    kept: dict[tuple, dict[str, object]] = {}
    for factset in reversed(store):  # lowest priority first: later writes win
        for row in read_rows(repository.data, [k for k in object_files(
                repository, "factset", factset) if k.endswith(".parquet")]):
            target = names.get((row["namespace"], row["name"]))
            if target is None:
                continue
            row = {**row, "namespace": target.namespace, "name": target.name}
            kept[(row["entity"], target.namespace, target.name, row["date"],
                  row["seconds"])] = row
    factset_id = repository.allocate("factsets")
    partitions: dict[tuple, list[dict[str, object]]] = {}
    for key in sorted(kept, key=lambda k: (k[1], str(k[3]), k[0], k[2], k[4])):
        row = kept[key]
        partitions.setdefault((row["namespace"], row["date"]), []).append(row)
    schema = arrow_fact_schema()
    files = []
    for (namespace, date), rows in sorted(partitions.items(), key=lambda p: (p[0][0],
                                                                             str(p[0][1]))):
        path = f"{namespace}/{date.year:04d}/{date.month:02d}/{date.day:02d}/part-0.parquet"
        table = pa.Table.from_pylist([{c: r.get(c) for c in FACT_COLUMNS} for r in rows],
                                     schema=schema)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        data = sink.getvalue().to_pybytes()
        repository.data.write(f"factsets/{factset_id}/{path}", data)
        files.append(ManifestFile(path, len(data),
                                  hashlib.md5(data, usedforsecurity=False).hexdigest()))
    if not kept:
        return factset_id, 0
    manifest = Manifest("factset", factset_id, tuple(files), len(kept))
    write_factset_view(repository.data, manifest)  # upstream .manifest.json (§2.5)
    repository.write_manifest(manifest)

    def prepend(current: object) -> dict[str, bytes]:
        now = parse_store(current.read(STORE_KEY) or b"")  # type: ignore[attr-defined]
        if factset_id in now:
            raise IngestError(f"factset {factset_id} is already in the store")
        return {STORE_KEY: render_store([factset_id, *now])}

    repository.commit(prepend)
    return factset_id, len(kept)
