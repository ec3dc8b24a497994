"""The snapshot job (§7): the winning fact per (entity, feature) as of a date, then extracts.

Plan (from :func:`ivory.planning.build_snapshot_plan`)::

    {"job": "snapshot", "snapshot_id": "00000002", "date": "2013-12-31", "compute": true,
     "features": [...feature table, see ivory.planning.build_feature_table...],
     "squash": [...concretes with virtual features, see ivory.planning.build_squash_table...],
     "inputs": [{"factset": "00000001", "priority": 1, "files": [uri, ...]}],
     "previous": {"snapshot_id": "00000000", "files": [uri, ...]} | null,
     "output": "file:///repo/snapshots/00000002",
     "extracts": [{"form": "dense", "delimiter": "|", "escaped": false, "missing": "NA",
                   "path": "file:///out/dense"}]}

With ``compute`` false the snapshot at ``output`` already exists (reuse, §7.1) and only the
extracts run.

Rule (§7.2, §6): facts dated on or before the date take part; per (entity, namespace, name)
the winner has the latest (date, seconds), then the highest priority (smallest number; an
earlier snapshot's facts have priority 32767). Remaining exact ties (same datetime, same
factset) are broken by the value so the result is deterministic. Facts of features no longer
in the dictionary are dropped (§6). Tombstones win like any value and are stored.
Features whose virtual features have a window store more (§7.3, :func:`stored_facts`);
virtual features are computed for the extracts by :mod:`ivory.jobs.squash`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ivory.jobs import columns as C
from ivory.jobs.extract import write_extract
from ivory.jobs.hadoop import list_output_files, move_hive_partitions
from ivory.jobs.squash import (
    read_groups,
    squash_values,
    starts_frame,
    window_starts,
    windowed_facts,
)
from ivory.schema import VALUE_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SNAPSHOT_PRIORITY = 32767
_ORDER = ["date", "seconds", "_rank"]
_VALUES = ["tombstone", *VALUE_COLUMNS.values()]


def read_facts(spark: SparkSession, plan: dict[str, Any]) -> DataFrame:
    """The candidate facts of a plan with a ``priority`` column (int, 1 = highest)."""
    frames = []
    for source in plan["inputs"]:
        frames.append(spark.read.schema(C.FACT_SCHEMA).parquet(*source["files"])
                      .withColumn("priority", F.lit(int(source["priority"]))))
    previous = plan.get("previous")
    if previous and previous["files"]:
        frames.append(spark.read.schema(C.FACT_SCHEMA).parquet(*previous["files"])
                      .withColumn("priority", F.lit(SNAPSHOT_PRIORITY)))
    if not frames:
        return spark.createDataFrame([], C.FACT_SCHEMA).withColumn("priority", F.lit(0))
    facts = frames[0]
    for frame in frames[1:]:
        facts = facts.unionByName(frame)
    return facts


def latest_facts(facts: DataFrame, features: DataFrame, date: str) -> DataFrame:
    """The winning fact per (entity, namespace, name) at ``date`` (yyyy-MM-dd), §7.2.

    Args:
        facts: fact schema plus ``priority``.
        features: the dictionary table; only its concrete features are kept.

    Returns:
        Rows of the fact schema.
    """
    concrete = F.broadcast(features.filter(~F.col("virtual")).select("namespace", "name"))
    winner = F.max(F.struct(*_ORDER, *_VALUES)).alias("w")
    return (
        facts.filter(F.col("date") <= F.lit(date).cast("date"))
        .join(concrete, ["namespace", "name"])
        .withColumn("_rank", -F.col("priority"))
        .groupBy("entity", "namespace", "name")
        .agg(winner)
        .select("entity", "namespace", "name", "w.date", "w.seconds",
                *[F.col(f"w.{c}").alias(c) for c in _VALUES])
    )


def stored_facts(facts: DataFrame, features: DataFrame, starts: DataFrame, date: str,
                 windowed: bool) -> DataFrame:
    """What a snapshot at ``date`` stores (§7.3): the winning fact of features without a
    window (:func:`latest_facts`), and for features with one every fact after ``W`` plus
    the last on or before it (:func:`ivory.jobs.squash.windowed_facts`).

    Args:
        facts: fact schema plus ``priority``.
        starts: ``namespace``, ``name``, ``mode``, ``window_start`` of windowed features.
    """
    if not windowed:
        return latest_facts(facts, features, date)
    plain = features.join(F.broadcast(starts.select("namespace", "name")),
                          ["namespace", "name"], "left_anti")
    return latest_facts(facts, plain, date).unionByName(windowed_facts(facts, starts, date))


def stored_winners(stored: DataFrame, features: DataFrame, starts: DataFrame, date: str,
                   windowed: bool) -> DataFrame:
    """The last stored fact per (entity, feature): the input of the concrete ``latest``
    values (§8.2). Features with a window store several facts (§7.3)."""
    if not windowed:
        return stored
    keys = F.broadcast(starts.select("namespace", "name"))
    plain = stored.join(keys, ["namespace", "name"], "left_anti")
    several = (stored.join(keys, ["namespace", "name"], "left_semi")
               .withColumn("priority", F.lit(SNAPSHOT_PRIORITY)))
    return plain.unionByName(latest_facts(several, features, date))


def run(spark: SparkSession, plan: dict[str, Any]) -> dict[str, Any]:
    """Run a snapshot plan.

    Returns:
        ``{"facts": int, "files": [{"path", "size", "md5"}], "extracts": [{"path", "lines"}]}``
        with file paths relative to the snapshot directory.
    """
    features = spark.createDataFrame(
        plan["features"],
        "namespace string, name string, index int, virtual boolean, encoding string, "
        "mode string, tombstones array<string>",
    ).cache()
    output = plan["output"].rstrip("/")
    groups = read_groups(plan)
    starts = starts_frame(spark, groups, plan["date"]).cache()
    windowed = bool(window_starts(groups, dt.date.fromisoformat(plan["date"])))
    if plan["compute"]:
        snapshot = stored_facts(read_facts(spark, plan), features, starts, plan["date"],
                                windowed)
        staging = output + "/_staging"
        (snapshot.withColumn("_ns", F.col("namespace"))
         .sortWithinPartitions("_ns", "entity", "name")
         .write.mode("overwrite").partitionBy("_ns").parquet(staging))
        move_hive_partitions(spark, staging, output)
    files = list_output_files(spark, output)
    if files:
        stored = spark.read.schema(C.FACT_SCHEMA).parquet(*[f"{output}/{f.path}" for f in files])
    else:
        stored = spark.createDataFrame([], C.FACT_SCHEMA)
    stored = stored.cache()
    virtual = None
    try:
        fact_count = stored.count()
        if plan.get("extracts"):
            winners = stored_winners(stored, features, starts, plan["date"], windowed)
            virtual = squash_values(stored, plan, plan["date"]).cache()
            extracts = [
                {"path": extract["path"],
                 "lines": write_extract(winners, features, extract, virtual)}
                for extract in plan["extracts"]
            ]
        else:
            extracts = []
    finally:
        if virtual is not None:
            virtual.unpersist()
        stored.unpersist()
        starts.unpersist()
        features.unpersist()
    return {
        "facts": fact_count,
        "files": [{"path": f.path, "size": f.size, "md5": f.md5} for f in files],
        "extracts": extracts,
    }
