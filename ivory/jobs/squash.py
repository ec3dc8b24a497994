"""Virtual features in Spark (§7.3, §8, §10): the windowed facts a snapshot keeps, and the
squash of each (entity, concrete feature[, chord dates]) group.

Plan key ``"squash"`` (from :func:`ivory.planning.build_squash_table`): the concrete features
that have virtual features, each with its virtual features in §8.5 order.

Exactness first: each group's facts are gathered with DataFrame expressions
(``collect_list`` of a struct, ``array_sort``: date, seconds, then the value columns as the
tie-break) and the reductions run in the pure-Python reference
(:mod:`ivory.reductions`) through ``mapInArrow``, so results equal the reference bit for bit.
The concrete ``latest`` of state features stays a DataFrame expression
(:func:`ivory.jobs.snapshot.latest_facts`, :func:`ivory.jobs.chord.chord_values`).

AMBIGUOUS (§7.2): set facts with the same datetime are ordered by value here, not by
factset priority: a snapshot does not store priorities, so this is the order that gives
the same result with or without a seed snapshot (§10).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ivory.reductions import (
    Fact,
    Group,
    group_from_json,
    render_result,
    thrift_result,
    virtual_results,
)
from ivory.schema import FACT_COLUMNS, VALUE_COLUMNS
from ivory.values import TOMBSTONE, stored_value
from ivory.windows import earliest_window_start

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

_VALUES = ["tombstone", *VALUE_COLUMNS.values()]
#: Columns of the squash output (besides ``chord_date`` for chords).
VALUE_SCHEMA = ("entity string, namespace string, name string, index int, value string, "
                "tombstone boolean, source_index int, position int")
#: Optional squash output columns, added only when an extract of the plan needs them (§9.1,
#: §9.4): the result in the ``deprecated`` text format, and its compact-protocol
#: ``ThriftFactValue`` bytes.
EXTRA_COLUMNS = {"deprecated_value": "string", "thrift_value": "binary"}


def extra_columns(plan: dict[str, Any]) -> tuple[str, ...]:
    """The :data:`EXTRA_COLUMNS` the plan's extracts need (none for json text outputs)."""
    extracts = plan.get("extracts") or []
    wanted = {"deprecated_value": any(e.get("deprecated") and not e.get("thrift")
                                      for e in extracts),
              "thrift_value": any(e.get("thrift") for e in extracts)}
    return tuple(c for c in EXTRA_COLUMNS if wanted[c])


def _value_schema(extras: Sequence[str], chord: bool = False) -> str:
    schema = VALUE_SCHEMA + "".join(f", {c} {EXTRA_COLUMNS[c]}" for c in extras)
    return schema.replace("entity string,", "entity string, chord_date date,") if chord else schema


def read_groups(plan: dict[str, Any]) -> dict[tuple[str, str], Group]:
    """The plan's squash table as :class:`ivory.reductions.Group` by (namespace, name)."""
    return {(row["namespace"], row["name"]): group_from_json(row)
            for row in plan.get("squash", [])}


def window_starts(groups: dict[tuple[str, str], Group], end: dt.date
                  ) -> dict[tuple[str, str], dt.date]:
    """``W`` (§7.3) at ``end`` of every concrete feature whose virtual features have a
    window; features missing here keep only their last fact."""
    out = {}
    for key, group in groups.items():
        start = earliest_window_start((v.window for v in group.virtuals), end)
        if start is not None:
            out[key] = start
    return out


def windowed_facts(facts: DataFrame, starts: DataFrame, date: str) -> DataFrame:
    """The facts a snapshot at ``date`` keeps for features with a window (§7.3).

    Per (entity, feature): every fact dated after ``W`` and on or before ``date``, plus the
    last fact dated on or before ``W``; facts inside the window de-duplicated first by mode
    (§6, :func:`mode_deduplicated`).

    Args:
        facts: fact schema plus ``priority`` (int, 1 = highest).
        starts: ``namespace``, ``name``, ``mode`` (``state``/``set``/``keyed_set``),
            ``keys`` (array<string>, the keyed_set key fields), ``window_start`` (date) of
            the windowed features (small: broadcast); see :func:`starts_frame`.

    Returns:
        Rows of the fact schema.
    """
    columns = facts.columns[: facts.columns.index("priority")]
    joined = (facts.filter(F.col("date") <= F.lit(date).cast("date"))
              .join(F.broadcast(starts), ["namespace", "name"]))
    # Only facts inside the window need the mode de-duplication; the maximum below picks
    # one fact among those on or before W, which de-duplicates them anyway.
    inside = mode_deduplicated(joined.filter(F.col("date") > F.col("window_start")))
    last = (joined.filter(F.col("date") <= F.col("window_start"))
            .groupBy("entity", "namespace", "name")
            .agg(F.max(F.struct("date", "seconds", -F.col("priority"), *_VALUES)).alias("w"))
            .select("entity", "namespace", "name", "w.date", "w.seconds",
                    *[F.col(f"w.{c}").alias(c) for c in _VALUES]))
    return inside.select(*columns).unionByName(last.select(*columns))


def key_values() -> Column:
    """The values of the ``keys`` fields (array<string>) in ``struct_value``, in key order:
    array<FIELD> (an element is null where the field is absent, e.g. for a tombstone).
    Null where ``keys`` is null (features that are not keyed sets). §4.1, §6."""
    return F.transform(
        F.col("keys"),
        lambda k: F.get(F.filter(F.col("struct_value"), lambda f: f["name"] == k), 0))


def mode_deduplicated(facts: DataFrame) -> DataFrame:
    """Mode de-duplication (§6, §4.1) of facts with ``priority``, ``mode`` and ``keys``.

    ``state``: one fact per (entity, feature, datetime); ``keyed_set``: one per (entity,
    feature, datetime, tombstone, key field values) — a tombstone has no key values and
    de-duplicates with the other tombstones of its datetime; ``set``: every fact. The kept
    fact has the highest priority (smallest number), then the largest value (the
    ``latest_facts`` tie-break for exact ties).

    Returns:
        Rows of the fact schema (no ``priority``, ``mode``, ``keys``).
    """
    columns = list(FACT_COLUMNS)
    keyed = F.when(F.col("mode") == "keyed_set", F.struct("tombstone", key_values().alias("k")))
    winner = F.max(F.struct(-F.col("priority"), *_VALUES)).alias("w")
    unique = (facts.filter(F.col("mode") != "set")
              .groupBy("entity", "namespace", "name", "date", "seconds", keyed.alias("_key"))
              .agg(winner)
              .select("entity", "namespace", "name", "date", "seconds",
                      *[F.col(f"w.{c}").alias(c) for c in _VALUES]))
    return unique.select(*columns).unionByName(
        facts.filter(F.col("mode") == "set").select(*columns))


def gathered(facts: DataFrame, groups: dict[tuple[str, str], Group],
             keys: Sequence[str] = ("entity",)) -> DataFrame:
    """Each group's facts as one sorted array (§7.2 order; see the module note on sets).

    Args:
        facts: fact schema, already de-duplicated (a stored snapshot, or the output of
            :func:`mode_deduplicated`); only features in ``groups`` are kept.

    Returns:
        ``keys``, ``namespace``, ``name``, ``facts`` array<struct<date, seconds, tombstone,
        boolean_value, ..., date_value>>.
    """
    spark = facts.sparkSession
    wanted = spark.createDataFrame(list(groups), "namespace string, name string")
    element = F.struct("date", "seconds", *_VALUES)
    return (facts.join(F.broadcast(wanted), ["namespace", "name"])
            .groupBy(*keys, "namespace", "name")
            .agg(F.array_sort(F.collect_list(element)).alias("facts")))


def _fact(row: dict[str, Any], column: str | None) -> Fact:
    return Fact(row["date"], row["seconds"], stored_value(row, column))


def _evaluator(groups: dict[tuple[str, str], Group], index: dict[tuple[str, str], int],
               end: str | None, extras: Sequence[str] = ()) -> Any:
    """The ``mapInArrow`` function: one input row per group (with ``chord_dates`` for
    chords, else the snapshot date ``end``), one output row per non-null result, with the
    ``extras`` columns of :data:`EXTRA_COLUMNS`."""
    end_date = dt.date.fromisoformat(end) if end else None
    columns = {key: VALUE_COLUMNS.get(g.concrete.encoding.value)  # type: ignore[union-attr]
               if hasattr(g.concrete.encoding, "value") else None
               for key, g in groups.items()}

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            out: dict[str, list[Any]] = {k: [] for k in (
                "entity", "chord_date", "namespace", "name", "index", "value", "tombstone",
                "source_index", "position", *extras)}
            for row in batch.to_pylist():
                key = (row["namespace"], row["name"])
                group = groups[key]
                facts = [_fact(f, columns[key]) for f in row["facts"]]
                ends = row["chord_dates"] if end_date is None else [end_date]
                for chord_date in ends:
                    for position, virtual, result in virtual_results(group, facts, chord_date):
                        fid = virtual.feature
                        out["entity"].append(row["entity"])
                        out["chord_date"].append(chord_date)
                        out["namespace"].append(fid.namespace)
                        out["name"].append(fid.name)
                        out["index"].append(index[(fid.namespace, fid.name)])
                        tomb = result is TOMBSTONE
                        out["value"].append(None if tomb else render_result(virtual.render,
                                                                            result))
                        out["tombstone"].append(tomb)
                        out["source_index"].append(index[key])
                        out["position"].append(position)
                        if extras:
                            _add_extras(out, extras, virtual, result, tomb)
            if end_date is None:
                yield pa.RecordBatch.from_pydict(out, schema=_arrow_schema(True, extras))
            else:
                del out["chord_date"]
                yield pa.RecordBatch.from_pydict(out, schema=_arrow_schema(False, extras))

    return run


def _add_extras(out: dict[str, list[Any]], extras: Sequence[str], virtual: Any,
                result: object, tomb: bool) -> None:
    from ivory.thrift.facts import encode

    if "deprecated_value" in extras:
        out["deprecated_value"].append(
            None if tomb else render_result(virtual.render, result, text_format="deprecated"))
    if "thrift_value" in extras:
        out["thrift_value"].append(encode(thrift_result(virtual, result)))


def _arrow_schema(chord: bool, extras: Sequence[str] = ()) -> pa.Schema:
    import pyarrow as pa

    fields = [("entity", pa.string())]
    if chord:
        fields.append(("chord_date", pa.date32()))
    fields += [("namespace", pa.string()), ("name", pa.string()), ("index", pa.int32()),
               ("value", pa.string()), ("tombstone", pa.bool_()),
               ("source_index", pa.int32()), ("position", pa.int32())]
    types = {"string": pa.string(), "binary": pa.binary()}
    fields += [(c, types[EXTRA_COLUMNS[c]]) for c in extras]
    return pa.schema(fields)


def feature_index(features: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(namespace, name) -> feature index, from the plan's feature table."""
    return {(f["namespace"], f["name"]): int(f["index"]) for f in features}


def squash_values(facts: DataFrame, plan: dict[str, Any], end: str) -> DataFrame:
    """The virtual feature values of a snapshot at ``end`` (§8.2).

    Args:
        facts: the stored snapshot (fact schema).

    Returns:
        ``entity``, ``namespace``, ``name``, ``index`` (feature index), ``value`` (rendered,
        §4.3/§4.4; null for a tombstone result), ``tombstone`` (boolean), ``source_index``
        and ``position`` (the §8.5 order: source feature, entity, position in the group),
        then the :func:`extra_columns` of the plan (``deprecated_value``, null for a
        tombstone result; ``thrift_value``).
    """
    groups = read_groups(plan)
    spark = facts.sparkSession
    extras = extra_columns(plan)
    schema = _value_schema(extras)
    if not groups:
        return spark.createDataFrame([], schema)
    frame = gathered(facts, groups)
    return frame.mapInArrow(_evaluator(groups, feature_index(plan["features"]), end, extras),
                            schema)


def chord_squash_values(facts: DataFrame, requests: DataFrame, plan: dict[str, Any]
                        ) -> DataFrame:
    """The virtual feature values per (entity, chord date) of a chord (§10).

    An entity with a fact for the source feature (dated on or before its latest chord date)
    gets its group evaluated for every chord date, even dates before all its facts.

    Args:
        facts: fact schema plus ``priority``, dated on or before the latest chord date.
        requests: ``entity`` string, ``chord_date`` date.

    Returns:
        As :func:`squash_values` plus ``chord_date`` (date) after ``entity``.
    """
    groups = read_groups(plan)
    extras = extra_columns(plan)
    schema = _value_schema(extras, chord=True)
    spark = facts.sparkSession
    if not groups:
        return spark.createDataFrame([], schema)
    dates = requests.groupBy("entity").agg(
        F.array_sort(F.collect_list("chord_date")).alias("chord_dates"),
        F.max("chord_date").alias("_last"))
    modes = spark.createDataFrame(
        [(ns, name, g.concrete.mode.kind, list(g.concrete.mode.keys))
         for (ns, name), g in groups.items()],
        "namespace string, name string, mode string, keys array<string>")
    mine = (facts.join(F.broadcast(dates.select("entity", "_last")), "entity")
            .filter(F.col("date") <= F.col("_last")).drop("_last")
            .join(F.broadcast(modes), ["namespace", "name"]))
    frame = gathered(mode_deduplicated(mine), groups).join(F.broadcast(dates), "entity")
    return frame.mapInArrow(_evaluator(groups, feature_index(plan["features"]), None, extras),
                            schema)


def starts_frame(spark: SparkSession, groups: dict[tuple[str, str], Group], end: str
                 ) -> DataFrame:
    """``namespace``, ``name``, ``mode``, ``keys`` (the keyed_set key fields, else empty),
    ``window_start`` of the windowed features (§7.3)."""
    starts = window_starts(groups, dt.date.fromisoformat(end))
    rows = [(ns, name, groups[(ns, name)].concrete.mode.kind,
             list(groups[(ns, name)].concrete.mode.keys), start)
            for (ns, name), start in starts.items()]
    return spark.createDataFrame(rows, "namespace string, name string, mode string, "
                                       "keys array<string>, window_start date")
