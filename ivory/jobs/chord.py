"""The chord job (§10): per (entity, request date D), each concrete feature's winning fact as
of D, then the extracts (§9.2, §9.3) with output entities ``entity:D``.

Plan (from :func:`ivory.chord.plan_chord`)::

    {"job": "chord",
     "features": [...feature table, see ivory.planning.build_feature_table...],
     "squash": [...concretes with virtual features, see ivory.planning.build_squash_table...],
     "requests": {"inline": [["ID00000001", "2014-06-03"], ...]}
               | {"path": "file:///data/entities.psv", "count": 1234567},
     "max_date": "2014-06-30",
     "inputs": [{"factset": "00000001", "priority": 1, "files": [uri, ...]}],
     "previous": {"snapshot_id": "00000000", "files": [uri, ...]} | null,
     "extracts": [{"form": "sparse", "delimiter": "|", "escaped": false, "missing": "NA",
                   "path": "file:///out/chord"}]}

Requests (entity, date) are validated and de-duplicated by the driver. Up to
:data:`ivory.chord.INLINE_REQUESTS` of them travel inline in the plan; a larger entities file
is read here from ``path`` (``entity|yyyy-MM-dd`` lines, already validated by the driver;
blank lines skipped, duplicates collapsed), so it must be on storage the cluster can read.

Rule (§10, §7.2, §6): for each request (E, D) and concrete feature, the winner is the fact of
E with the latest (date, seconds) among facts dated on or before D, the highest priority
(smallest number; an earlier snapshot's facts have 32767) winning ties, then the same value
order as :func:`ivory.jobs.snapshot.latest_facts` for exact ties, so results equal a
snapshot at D restricted to E, whether or not an earlier snapshot seeds the input. Facts dated
after E's latest request date never take part. Tombstones win like values and are not
emitted; a request with no fact on or before D has no row for that feature (§8.2: ``latest``
is null).

Virtual features (§10, §8) are computed beside this path by
:func:`ivory.jobs.squash.chord_squash_values`: per (entity, source feature) every fact dated
on or before the entity's latest chord date, evaluated for each of its chord dates.

Plan of work for concrete features (design notes: the requests are small, facts are large;
no as-of join):

1. the requests are **broadcast** as one date list per entity; facts of ``state``
   concrete features join it on entity and each fact gets its *bucket*: the first chord date
   of its entity on or after the fact's date (none: the fact is after the entity's latest
   chord date and drops out, like facts of entities without a request);
2. per (entity, feature, bucket) one reduction keeps the maximum of a struct led by a
   ``long`` ordering key packing (days, seconds, 32767 - priority), then the tie-break
   values: every fact is reduced once, whatever the number of chord dates;
3. per (entity, feature), in bucket order, a running maximum of the bucket winners gives the
   winner as of each bucket (max is associative, so this equals the maximum over all facts
   dated on or before that chord date), and ``lead`` the next bucket;
4. these join the **broadcast** requests on entity, each kept for the chord dates in
   ``[bucket, next bucket)``: every (entity, chord date, feature) row is produced once.
   Steps 2 and 3 share one shuffle on (entity, namespace, name).

Measured on 3M facts, 100k entities, 5 string features, local[2] (warm, medians): with 3 chord
dates per entity this takes ~5 s like a single reduction over facts x later chord dates; with
12 dates per entity 10 s against 15 s. A hash aggregate of the integer key alone, joined back
to the facts for their values (what wins for snapshots), took twice as long here: the
join-back shuffles every fact's value a second time. Step 3 replaced a second aggregation
over (bucket winners x later chord dates), which grew with the square of the dates per
entity: at 1M facts with 20 dates per entity (180k requests) the chord job went from
35 s to 21 s (`scripts/bench --facts 1000000 --requests-per-entity 20`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ivory.jobs.extract import CHORD_DATE, write_extract
from ivory.jobs.snapshot import carried_values, ordering_key, read_facts, winner_values
from ivory.jobs.squash import chord_squash_values

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_GROUP = ["entity", CHORD_DATE, "namespace", "name"]


def read_requests(spark: SparkSession, requests: dict[str, Any]) -> DataFrame:
    """The (entity, chord_date) requests of a plan, de-duplicated."""
    if "inline" in requests:
        rows = [(entity, date) for entity, date in requests["inline"]]
        frame = spark.createDataFrame(rows, "entity string, chord_date string")
    else:
        parts = F.split(F.col("value"), r"\|", -1)
        frame = (spark.read.text(requests["path"])
                 .filter(F.col("value") != "")
                 .select(parts.getItem(0).alias("entity"), parts.getItem(1).alias(CHORD_DATE)))
    return (frame.select("entity", F.col(CHORD_DATE).cast("date").alias(CHORD_DATE))
            .distinct())


def chord_values(facts: DataFrame, features: DataFrame, requests: DataFrame,
                 encodings: Collection[str] | None = None) -> DataFrame:
    """The winning fact per (entity, chord date, concrete ``state`` feature), §10.

    Args:
        facts: fact schema plus ``priority`` (int, 1 = highest).
        features: the dictionary table; only concrete ``state`` features are kept, the only
            ones this version emits (§8.2; virtual features are not computed yet).
        requests: ``entity`` string, ``chord_date`` date; small (broadcast), no duplicates.
        encodings: the concrete features' encodings: value columns of other encodings stay
            out of the reductions (:func:`ivory.jobs.snapshot.carried_values`).

    Returns:
        Rows of the fact schema plus ``chord_date``; tombstones included (the extract drops
        them). No row where the entity has no fact on or before the chord date.
    """
    state = F.broadcast(features.filter(~F.col("virtual") & (F.col("mode") == "state"))
                        .select("namespace", "name"))
    dates = F.broadcast(requests.groupBy("entity")
                        .agg(F.collect_list(CHORD_DATE).alias("_dates")))
    carried = carried_values(encodings)
    winner = F.struct("_key", *carried, "date", "seconds")
    keys = ["entity", "namespace", "name"]
    buckets = (
        facts.join(dates, "entity")
        .withColumn("_bucket", F.array_min(F.filter("_dates", lambda d: d >= F.col("date"))))
        .filter(F.col("_bucket").isNotNull())
        .join(state, ["namespace", "name"])
        .select(*keys, "_bucket", "date", "seconds", *carried,
                ordering_key(F.col("date"), F.col("seconds"), F.col("priority")).alias("_key"))
        # One shuffle on the pair serves both the bucket reduction and the running maximum.
        .repartition(*keys)
        .groupBy(*keys, "_bucket")
        .agg(F.max(winner).alias("w"))
    )
    by_bucket = Window.partitionBy(*keys).orderBy("_bucket")
    running = buckets.select(
        *keys, "_bucket",
        F.max("w").over(by_bucket.rowsBetween(Window.unboundedPreceding, Window.currentRow))
        .alias("w"),
        F.lead("_bucket").over(by_bucket).alias("_next"),
    )
    return (
        running.join(F.broadcast(requests), "entity")
        .filter((F.col("_bucket") <= F.col(CHORD_DATE))
                & (F.col("_next").isNull() | (F.col(CHORD_DATE) < F.col("_next"))))
        .select("entity", "namespace", "name", "w.date", "w.seconds",
                *winner_values(carried), CHORD_DATE)
    )


def run(spark: SparkSession, plan: dict[str, Any]) -> dict[str, Any]:
    """Run a chord plan.

    Returns:
        ``{"requests": int, "entities": int, "values": int,
        "extracts": [{"path", "lines"}]}``; ``values`` counts winning facts, tombstones
        included.
    """
    features = spark.createDataFrame(
        plan["features"],
        "namespace string, name string, index int, virtual boolean, encoding string, "
        "mode string, tombstones array<string>",
    ).cache()
    requests = read_requests(spark, plan["requests"]).cache()
    facts = read_facts(spark, plan).filter(F.col("date") <= F.lit(plan["max_date"]).cast("date"))
    encodings = {f["encoding"] for f in plan["features"] if not f["virtual"]}
    values = chord_values(facts, features, requests, encodings).cache()
    virtual = chord_squash_values(facts, requests, plan).cache()
    try:
        request_count = requests.count()
        entity_count = requests.select("entity").distinct().count()
        value_count = values.count()
        extracts = [
            {"path": extract["path"],
             "lines": write_extract(values, features, extract, virtual)}
            for extract in plan["extracts"]
        ]
    finally:
        virtual.unpersist()
        values.unpersist()
        requests.unpersist()
        features.unpersist()
    return {"requests": request_count, "entities": entity_count, "values": value_count,
            "extracts": extracts}
