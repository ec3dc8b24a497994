"""Extract outputs of a snapshot (§9.2, §9.3): dense and sparse delimited/escaped text.

Input is the stored snapshot (fact schema of :mod:`ivory.jobs.columns`) and the dictionary
feature table. Emitted values (§8.2): concrete ``state`` features whose latest value is not a
tombstone. ``set``/``keyed_set`` concretes are never emitted; virtual features are not
computed by this version (their dense columns show the missing value).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ivory.jobs import columns as C


def emitted_values(snapshot: DataFrame, features: DataFrame, missing: str) -> DataFrame:
    """The values an extract emits, one row per (entity, feature).

    Returns:
        ``entity`` string, ``namespace`` string, ``name`` string, ``index`` int (feature
        index, §1.2), ``value`` string (rendered, §4.3).
    """
    state = F.broadcast(
        features.filter(~F.col("virtual") & (F.col("mode") == "state"))
        .select("namespace", "name", "index", F.col("encoding").alias("_encoding"))
    )
    return (
        snapshot.filter(~F.col("tombstone"))
        .join(state, ["namespace", "name"])
        .select("entity", "namespace", "name", "index",
                C.render_value(F.col("_encoding"), missing).alias("value"))
    )


def _value_text(value: Column, output: dict[str, Any]) -> Column:
    return C.escape_text(value, output["delimiter"]) if output["escaped"] else value


def sparse_lines(values: DataFrame, output: dict[str, Any]) -> DataFrame:
    """Sparse text (§9.2): ``entity|namespace|name|value``, sorted by entity then feature.

    Returns a single ``value`` string column, ready for ``DataFrame.write.text``.
    """
    d = output["delimiter"]
    return values.orderBy("entity", "index").select(
        F.concat_ws(d, "entity", "namespace", "name", _value_text(F.col("value"), output))
        .alias("value")
    )


def dense_lines(values: DataFrame, feature_count: int, output: dict[str, Any]) -> DataFrame:
    """Dense text (§9.3): ``entity|v0|...|vN-1`` for every entity with an emitted value, one
    column per dictionary feature in feature-index order, ``missing`` where there is none.

    Returns a single ``value`` string column sorted by entity.
    """
    d = output["delimiter"]
    missing = F.lit(output["missing"])
    by_entity = values.groupBy("entity").agg(
        F.map_from_entries(
            F.collect_list(F.struct("index", _value_text(F.col("value"), output)))
        ).alias("cells")
    )
    row = F.transform(
        F.sequence(F.lit(0), F.lit(feature_count - 1)),
        lambda i: F.coalesce(F.element_at(F.col("cells"), i), missing),
    )
    return by_entity.orderBy("entity").select(
        F.concat_ws(d, F.col("entity"), F.array_join(row, d)).alias("value")
    )


def write_extract(snapshot: DataFrame, features: DataFrame, output: dict[str, Any]) -> int:
    """Write one extract output as text part files under ``output["path"]`` (a URI).

    Args:
        output: ``{"form": "dense"|"sparse", "delimiter": str, "escaped": bool,
            "missing": str, "path": uri}``.

    Returns:
        The number of lines written.
    """
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
