"""Thrift extract outputs (§9.4): ``dense:thrift`` and ``sparse:thrift`` for snapshots.

SequenceFiles (``NullWritable`` keys, ``BytesWritable`` values) of compact-protocol
``ThriftFactDense`` / ``ThriftFactSparse`` rows (``ivory/thrift/ingest.thrift``), one per
entity with an emitted value (§8.2: concrete ``state`` features and virtual features),
written with Hadoop's ``SequenceFileOutputFormat`` (part files ``part-r-NNNNN``). Dense rows
hold one value per dictionary feature in feature-index order, a tombstone where the entity
has none; sparse rows map ``namespace:name`` to the present, non-tombstone values (a virtual
feature whose result is a tombstone, e.g. ``latest`` of a deleted value, is left out).
Concrete values keep their types (``i32``/``i64``/``double``/...), built from the stored
value columns on the executors (Thrift encoding has no DataFrame expression); virtual
features arrive as the ``ThriftFactValue`` bytes of their result from
:mod:`ivory.jobs.squash` (``thrift_value``, :func:`ivory.reductions.thrift_result`).
"""
from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ivory.schema import VALUE_COLUMNS

_OUTPUT_FORMAT = "org.apache.hadoop.mapreduce.lib.output.SequenceFileOutputFormat"
_NULL_WRITABLE = "org.apache.hadoop.io.NullWritable"
_BYTES_WRITABLE = "org.apache.hadoop.io.BytesWritable"


def emitted_rows(snapshot: DataFrame, features: DataFrame) -> DataFrame:
    """The emitted values (§8.2: concrete ``state`` features, no tombstones) with their
    typed value columns: ``entity``, ``feature`` (``ns:name``), ``index``, ``encoding`` and
    the value columns of the fact schema."""
    state = F.broadcast(
        features.filter(~F.col("virtual") & (F.col("mode") == "state"))
        .select("namespace", "name", "index", "encoding"))
    return (snapshot.filter(~F.col("tombstone")).join(state, ["namespace", "name"])
            .select("entity", F.concat_ws(":", "namespace", "name").alias("feature"),
                    "index", "encoding", "tombstone", *VALUE_COLUMNS.values()))


def _rows_to_bytes(form: str, feature_count: int):  # -> Callable
    def convert(item: tuple[str, Any]) -> tuple[None, bytearray]:
        from ivory.dictionary import parse_encoding
        from ivory.thrift.facts import (
            ThriftFactDense,
            ThriftFactSparse,
            ThriftFactValue,
            decode,
            encode,
            to_thrift,
        )
        from ivory.values import TOMBSTONE, from_columns

        def value(r: dict[str, Any]) -> Any:
            if r.get("thrift_value") is not None:  # a virtual feature's result
                return decode(ThriftFactValue, r["thrift_value"])
            return to_thrift(parse_encoding(r["encoding"]), from_columns(r))

        entity, rows = item
        values = {r["index"]: (r["feature"], value(r)) for r in rows}
        if form == "sparse":
            row = ThriftFactSparse(entity=entity, value={
                f: v for _, (f, v) in sorted(values.items()) if v.tombstone is None})
        else:
            missing = to_thrift(None, TOMBSTONE)
            row = ThriftFactDense(entity=entity, value=[
                values[i][1] if i in values else missing for i in range(feature_count)])
        return None, bytearray(encode(row))

    return convert


def virtual_rows(virtual_values: DataFrame) -> DataFrame:
    """The virtual feature results of a squash (:mod:`ivory.jobs.squash`, with
    ``thrift_value``) as ``entity``, ``feature`` (``ns:name``), ``index``, ``thrift_value``
    (compact-protocol ``ThriftFactValue`` bytes; tombstone results included)."""
    return virtual_values.select(
        "entity", F.concat_ws(":", "namespace", "name").alias("feature"), "index",
        "thrift_value")


def write_thrift(snapshot: DataFrame, features: DataFrame, output: dict[str, Any],
                 virtual_values: DataFrame | None = None) -> int:
    """Write one thrift extract output under ``output["path"]`` (a URI); ``output["form"]``
    is ``dense`` or ``sparse``. ``virtual_values``: the squash results with ``thrift_value``
    (:func:`virtual_rows`), or None. Returns the number of rows (entities) written."""
    feature_count = features.count()
    pairs = emitted_rows(snapshot, features).rdd.map(lambda r: (r["entity"], r.asDict()))
    if virtual_values is not None:
        pairs = pairs.union(virtual_rows(virtual_values).rdd.map(
            lambda r: (r["entity"], r.asDict())))
    by_entity = (pairs.groupByKey()
                 .sortByKey().map(_rows_to_bytes(output["form"], feature_count)).cache())
    try:
        count = by_entity.count()
        by_entity.saveAsNewAPIHadoopFile(output["path"], _OUTPUT_FORMAT,
                                         keyClass=_NULL_WRITABLE, valueClass=_BYTES_WRITABLE)
        return count
    finally:
        by_entity.unpersist()
