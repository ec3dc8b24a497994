"""Extract outputs of a snapshot or a chord (§9.2, §9.3, §10): dense and sparse
delimited/escaped text, json or ``deprecated`` text format (§9.1), and thrift (§9.4,
:mod:`ivory.jobs.thrift_output`).

Input is one winning fact per (entity, feature) (fact schema of :mod:`ivory.jobs.columns`:
the snapshot's winners, or the chord's) and the dictionary feature table, plus the values of
virtual features computed by :mod:`ivory.jobs.squash`. Emitted values (§8.2): concrete
``state`` features whose latest value is not a tombstone, and every non-null virtual
feature result (a tombstone result prints the missing value). ``set``/``keyed_set``
concretes are never emitted.

Chords: the input carries one more column, ``chord_date`` (date), the request date the row
was computed for. It is kept through :func:`emitted_values`; the output entity becomes
``<entity>:<yyyy-MM-dd>``.

Order (§8.5, our contract): sparse lines by source concrete feature (feature-id order),
then entity (UTF-8 byte order), then chord date, then position in the group (the concrete
``latest`` first, then the virtual features in reverse order of their dictionary lines).
Entities compare as plain UTF-8 bytes: upstream's
QUIRK (entity bytes followed by a 4-byte date, §8.5) differs only for an entity whose next
byte after a shorter entity's end is below 0x07. Dense lines by entity, then chord date.
Small outputs (up to :data:`SINGLE_FILE_LINES` lines) are written as a single part file;
part files are named ``part-m-NNNNN`` (sparse) and ``part-r-NNNNN`` (dense) as §9.1
says. The one place an output's format is dispatched is :func:`write_extract`.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ivory.jobs import columns as C

#: The extra key column of chord rows (§10).
CHORD_DATE = "chord_date"
#: Outputs with at most this many lines are written as one part file (§8.5 order in one file).
SINGLE_FILE_LINES = 1_000_000


def _keys(frame: DataFrame) -> list[str]:
    """The row key columns: ``entity``, plus ``chord_date`` for chords."""
    return ["entity", CHORD_DATE] if CHORD_DATE in frame.columns else ["entity"]


def _entity_text(frame: DataFrame) -> Column:
    """The output entity: ``entity``, or ``entity:yyyy-MM-dd`` for chord rows (§10)."""
    if CHORD_DATE in frame.columns:
        return F.concat(F.col("entity"), F.lit(":"), F.col(CHORD_DATE).cast("string"))
    return F.col("entity")


def emitted_values(snapshot: DataFrame, features: DataFrame, missing: str,
                   virtual_values: DataFrame | None = None, deprecated: bool = False
                   ) -> DataFrame:
    """The values an extract emits, one row per (entity, feature), or per (entity, chord
    date, feature) when ``snapshot`` has a ``chord_date`` column.

    Args:
        virtual_values: results of virtual features (:mod:`ivory.jobs.squash`: keys,
            ``namespace``, ``name``, ``index``, ``value``, ``tombstone``, ``source_index``,
            ``position``; ``deprecated_value`` when ``deprecated``), or None.
        deprecated: render structs and lists in the ``deprecated`` text format (§9.1).

    Returns:
        ``entity`` string, [``chord_date`` date,] ``namespace`` string, ``name`` string,
        ``index`` int (feature index, §1.2), ``value`` string (rendered, §4.3),
        ``source_index`` and ``position`` (int, the §8.5 order).
    """
    state = F.broadcast(
        features.filter(~F.col("virtual") & (F.col("mode") == "state"))
        .select("namespace", "name", "index", F.col("encoding").alias("_encoding"))
    )
    concrete = (
        snapshot.filter(~F.col("tombstone"))
        .join(state, ["namespace", "name"])
        .select(*_keys(snapshot), "namespace", "name", "index",
                C.render_value(F.col("_encoding"), missing, deprecated).alias("value"),
                F.col("index").alias("source_index"), F.lit(0).alias("position"))
    )
    if virtual_values is None:
        return concrete
    rendered = F.col("deprecated_value" if deprecated else "value")
    virtual = virtual_values.select(
        *_keys(snapshot), "namespace", "name", "index",
        F.when(F.col("tombstone"), F.lit(missing)).otherwise(rendered).alias("value"),
        "source_index", "position")
    return concrete.unionByName(virtual)


def _value_text(value: Column, output: dict[str, Any]) -> Column:
    return C.escape_text(value, output["delimiter"]) if output["escaped"] else value


def sparse_lines(values: DataFrame, output: dict[str, Any]) -> DataFrame:
    """Sparse text (§9.2): ``entity|namespace|name|value`` in the order of §8.5 (source
    feature, entity, chord date, position in the group; see the module note).

    Returns a single ``value`` string column, ready for ``DataFrame.write.text``.
    """
    d = output["delimiter"]
    order = ["source_index", *_keys(values), "position"]
    if "source_index" not in values.columns:
        order = [*_keys(values), "index"]
    return values.orderBy(*order).select(
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


def write_extract(snapshot: DataFrame, features: DataFrame, output: dict[str, Any],
                  virtual_values: DataFrame | None = None) -> int:
    """Write one extract output as text part files under ``output["path"]`` (a URI).

    Args:
        snapshot: winning facts (fact schema), with ``chord_date`` for a chord.
        output: ``{"form": "dense"|"sparse", "delimiter": str, "escaped": bool,
            "deprecated": bool, "missing": str, "path": uri, "thrift": bool}``.
        virtual_values: virtual feature results (see :func:`emitted_values`; with
            ``thrift_value`` for thrift outputs), or None.

    Returns:
        The number of lines written.
    """
    if output.get("thrift"):  # dense:thrift / sparse:thrift (§9.4)
        from ivory.jobs.thrift_output import write_thrift

        return write_thrift(snapshot, features, output, virtual_values)
    values = emitted_values(snapshot, features, output["missing"], virtual_values,
                            bool(output.get("deprecated"))).cache()
    try:
        if output["form"] == "sparse":
            lines = sparse_lines(values, output)
        else:
            lines = dense_lines(values, features.count(), output)
        lines = lines.cache()
        count = lines.count()
        (lines.coalesce(1) if count <= SINGLE_FILE_LINES else lines).write.mode(
            "errorifexists").text(output["path"])
        lines.unpersist()
        rename_parts(values.sparkSession, output["path"],
                     "part-m" if output["form"] == "sparse" else "part-r")
        return count
    finally:
        values.unpersist()


def rename_parts(spark: Any, uri: str, prefix: str) -> int:
    """Rename Spark's ``part-*`` files under ``uri`` to ``<prefix>-NNNNN`` in name order
    (so ``part-00000-<uuid>.txt`` becomes ``part-m-00000``, §9.1). Returns the count."""
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(uri)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    names = sorted(s.getPath().getName() for s in fs.listStatus(root)
                   if s.getPath().getName().startswith("part-") and s.isFile())
    for i, name in enumerate(names):
        source = jvm.org.apache.hadoop.fs.Path(root, name)
        target = jvm.org.apache.hadoop.fs.Path(root, f"{prefix}-{i:05d}")
        if not fs.rename(source, target):
            raise OSError(f"could not rename {source.toString()} to {target.toString()}")
    return len(names)
