"""Extract outputs of a snapshot or a chord (§9.2, §9.3, §10): dense and sparse
delimited/escaped text.

Input is one winning fact per (entity, feature) (fact schema of :mod:`ivory.jobs.columns`:
the stored snapshot, or the chord's winners) and the dictionary feature table. Emitted values
(§8.2): concrete ``state`` features whose latest value is not a tombstone. ``set``/``keyed_set``
concretes are never emitted; virtual features are not computed by this version (their dense
columns show the missing value).

Chords: the input carries one more column, ``chord_date`` (date), the request date the row
was computed for. It is kept through :func:`emitted_values`; the output entity becomes
``<entity>:<yyyy-MM-dd>`` and lines are ordered by entity, then chord date (§10), then feature
index. Without ``chord_date`` (snapshots) the order is entity, then feature index.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ivory.jobs import columns as C

#: The extra key column of chord rows (§10).
CHORD_DATE = "chord_date"


def _keys(frame: DataFrame) -> list[str]:
    """The row key columns: ``entity``, plus ``chord_date`` for chords."""
    return ["entity", CHORD_DATE] if CHORD_DATE in frame.columns else ["entity"]


def _entity_text(frame: DataFrame) -> Column:
    """The output entity: ``entity``, or ``entity:yyyy-MM-dd`` for chord rows (§10)."""
    if CHORD_DATE in frame.columns:
        return F.concat(F.col("entity"), F.lit(":"), F.col(CHORD_DATE).cast("string"))
    return F.col("entity")


def emitted_values(snapshot: DataFrame, features: DataFrame, missing: str) -> DataFrame:
    """The values an extract emits, one row per (entity, feature), or per (entity, chord
    date, feature) when ``snapshot`` has a ``chord_date`` column.

    Returns:
        ``entity`` string, [``chord_date`` date,] ``namespace`` string, ``name`` string,
        ``index`` int (feature index, §1.2), ``value`` string (rendered, §4.3).
    """
    state = F.broadcast(
        features.filter(~F.col("virtual") & (F.col("mode") == "state"))
        .select("namespace", "name", "index", F.col("encoding").alias("_encoding"))
    )
    return (
        snapshot.filter(~F.col("tombstone"))
        .join(state, ["namespace", "name"])
        .select(*_keys(snapshot), "namespace", "name", "index",
                C.render_value(F.col("_encoding"), missing).alias("value"))
    )


def _value_text(value: Column, output: dict[str, Any]) -> Column:
    return C.escape_text(value, output["delimiter"]) if output["escaped"] else value


def sparse_lines(values: DataFrame, output: dict[str, Any]) -> DataFrame:
    """Sparse text (§9.2): ``entity|namespace|name|value``, sorted by entity (then chord
    date) then feature.

    Returns a single ``value`` string column, ready for ``DataFrame.write.text``.
    """
    d = output["delimiter"]
    return values.orderBy(*_keys(values), "index").select(
        F.concat_ws(d, _entity_text(values), "namespace", "name",
                    _value_text(F.col("value"), output))
        .alias("value")
    )


def dense_lines(values: DataFrame, feature_count: int, output: dict[str, Any]) -> DataFrame:
    """Dense text (§9.3): ``entity|v0|...|vN-1`` for every entity (entity:date for chords)
    with an emitted value, one column per dictionary feature in feature-index order,
    ``missing`` where there is none.

    Returns a single ``value`` string column sorted by entity (then chord date).
    """
    d = output["delimiter"]
    missing = F.lit(output["missing"])
    keys = _keys(values)
    by_entity = values.groupBy(*keys).agg(
        F.map_from_entries(
            F.collect_list(F.struct("index", _value_text(F.col("value"), output)))
        ).alias("cells")
    )
    row = F.transform(
        F.sequence(F.lit(0), F.lit(feature_count - 1)),
        lambda i: F.coalesce(F.element_at(F.col("cells"), i), missing),
    )
    return by_entity.orderBy(*keys).select(
        F.concat_ws(d, _entity_text(by_entity), F.array_join(row, d)).alias("value")
    )


def write_extract(snapshot: DataFrame, features: DataFrame, output: dict[str, Any]) -> int:
    """Write one extract output as text part files under ``output["path"]`` (a URI).

    Args:
        snapshot: winning facts (fact schema), with ``chord_date`` for a chord.
        output: ``{"form": "dense"|"sparse", "delimiter": str, "escaped": bool,
            "missing": str, "path": uri}``.

    Returns:
        The number of lines written.
    """
    if output.get("thrift"):  # dense:thrift / sparse:thrift (§9.4)
        from ivory.jobs.thrift_output import write_thrift

        return write_thrift(snapshot, features, output)
    values = emitted_values(snapshot, features, output["missing"]).cache()
    try:
        if output["form"] == "sparse":
            lines = sparse_lines(values, output)
        else:
            lines = dense_lines(values, features.count(), output)
        lines = lines.cache()
        count = lines.count()
        lines.write.mode("errorifexists").text(output["path"])
        lines.unpersist()
        return count
    finally:
        values.unpersist()
