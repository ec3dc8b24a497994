"""The ingest job (§5): text facts -> a factset of Parquet partitions plus error records.

Plan (from :func:`ivory.planning.build_ingest_plan`; a Thrift input has the format
``{"thrift": true}``, §5.5)::

    {"job": "ingest", "factset_id": "00000001",
     "repository_timezone": "Australia/Sydney", "ingest_timezone": "Australia/Sydney",
     "features": [{"namespace", "name", "index", "virtual", "encoding", "mode", "tombstones"}],
     "inputs": [{"namespace": "halibut", "format": {"delimiter": "|", "escaped": false},
                 "files": ["file:///data/halibut/part-0.psv"]}],
     "output": {"factset": "file:///repo/factsets/00000001",
                "errors": "file:///repo/errors/00000001"}}

Output: ``<factset>/<namespace>/<yyyy>/<mm>/<dd>/*.parquet`` with the fact schema of
:mod:`ivory.jobs.columns` (one file per partition, rows sorted by entity and feature), and
``<errors>/*.parquet`` with columns ``line`` (the input line), ``message`` (§5.4) and
``path`` (the input file URI) when any line failed. Nothing is lost: every input line is
either a fact or an error record.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from ivory.jobs.hadoop import list_output_files, move_hive_partitions
from ivory.jobs.parsing import (
    COMPLEX_FEATURE_SCHEMA,
    is_error,
    is_fact,
    parse_facts,
    split_lines,
    with_complex_columns,
)
from ivory.schema import FACT_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PARTITION_COLUMNS = ["_ns", "_yyyy", "_mm", "_dd"]


def utf8_error(line: Column) -> Column:
    """The error reason of a text line that is not valid UTF-8 (all text input is UTF-8),
    else null. Spark keeps a line's raw bytes; decoding them replaces invalid sequences, so
    the re-encoded text differs from the bytes exactly when they are not UTF-8."""
    return F.when(F.encode(line, "UTF-8") != line.cast("binary"),
                  F.lit("Line is not valid UTF-8 text"))


def read_lines(spark: SparkSession, source: dict[str, Any]) -> DataFrame:
    """One input's lines: ``line`` (string), ``path`` (string URI), ``namespace`` (string)."""
    # A line ends at "\n" only (conventions of the spec); a CR before it stays in the
    # line, and the datetime trim of §5.2 removes it.
    return spark.read.text(source["files"], lineSep="\n").select(
        F.col("value").alias("line"),
        F.col("_metadata.file_path").alias("path"),
        F.lit(source["namespace"]).alias("namespace"),
    )


_NULL_WRITABLE = "org.apache.hadoop.io.NullWritable"
_BYTES_WRITABLE = "org.apache.hadoop.io.BytesWritable"
_THRIFT_LINES = ("line string, path string, namespace string, fields array<string>, "
                 "thrift_tombstone boolean, decode_error string")


def _decode_thrift(path: str, namespace: str, data: bytes) -> tuple[Any, ...]:
    """One SequenceFile value as a row of :data:`_THRIFT_LINES` (runs on the executors)."""
    from ivory.thrift.facts import fact_fields

    try:
        fields, tombstone = fact_fields(bytes(data))
    except Exception as e:
        return (None, path, namespace, [], False, f"Not a ThriftFact: {type(e).__name__} {e}")
    return (None, path, namespace, fields, tombstone, None)


def read_thrift(spark: SparkSession, source: dict[str, Any]) -> DataFrame:
    """One Thrift input (§5.5): SequenceFiles of compact ``ThriftFact`` values, decoded into
    the four text fields of a fact line (``fields``), ``thrift_tombstone`` and
    ``decode_error`` (see :func:`ivory.jobs.parsing.parse_facts`); ``line`` is null, so the
    error records of Thrift input hold only the message (§5.4)."""
    namespace = source["namespace"]
    rdds = [spark.sparkContext.sequenceFile(path, _NULL_WRITABLE, _BYTES_WRITABLE).map(
        lambda kv, p=path: _decode_thrift(p, namespace, kv[1])) for path in source["files"]]
    return spark.createDataFrame(spark.sparkContext.union(rdds), _THRIFT_LINES)


class _Stopwatch:
    """Seconds per named step of a job, reported in the job result."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now


def run(spark: SparkSession, plan: dict[str, Any]) -> dict[str, Any]:
    """Run an ingest plan.

    Lines are parsed once for the facts; fact and error counts are observed during that
    write (``DataFrame.observe``). Only when some line failed are the lines parsed a second
    time to write the error records.

    Returns:
        ``{"facts": int, "errors": int, "files": [{"path", "size", "md5"}],
        "seconds": {step: seconds}}`` with paths relative to the factset directory.
    """
    features = spark.createDataFrame(
        with_complex_columns(plan["features"]),
        "namespace string, name string, index int, virtual boolean, encoding string, "
        "mode string, tombstones array<string>, " + COMPLEX_FEATURE_SCHEMA,
    )
    lines = None
    thrift = any(source["format"].get("thrift") for source in plan["inputs"])
    for source in plan["inputs"]:
        if source["format"].get("thrift"):
            part = read_thrift(spark, source)
        else:
            part = split_lines(read_lines(spark, source), source["format"])
            part = part.select("*", utf8_error(F.col("line")).alias("decode_error"))
            if thrift:
                part = part.select("*", F.lit(False).alias("thrift_tombstone"))
        lines = part if lines is None else lines.unionByName(part)
    assert lines is not None, "an ingest plan has at least one input"
    complex_values = any(str(f["encoding"])[:1] in ("(", "[") for f in plan["features"])
    parsed = parse_facts(lines, features, plan["ingest_timezone"], plan["repository_timezone"],
                         complex_values)
    output = plan["output"]
    watch = _Stopwatch()
    counts = Observation("ingest")
    facts = parsed.observe(
        counts,
        F.count_if(F.col("error").isNull()).alias("facts"),
        F.count_if(F.col("error").isNotNull()).alias("errors"),
    ).filter(is_fact(parsed)).select(
        *FACT_COLUMNS,
        F.col("namespace").alias("_ns"),
        F.date_format("date", "yyyy").alias("_yyyy"),
        F.date_format("date", "MM").alias("_mm"),
        F.date_format("date", "dd").alias("_dd"),
    )
    staging = output["factset"].rstrip("/") + "/_staging"
    (facts.repartition(*PARTITION_COLUMNS)
     .sortWithinPartitions(*PARTITION_COLUMNS, "entity", "name", "seconds")
     .write.mode("overwrite").partitionBy(*PARTITION_COLUMNS).parquet(staging))
    watch.lap("parse and write facts")
    move_hive_partitions(spark, staging, output["factset"])
    watch.lap("move partitions")
    metrics = counts.get
    if "facts" not in metrics:
        # Spark reports no metrics when adaptive execution finds the filtered side empty
        # (every line rejected): count again, which only that rare case pays for.
        metrics = parsed.agg(
            F.count_if(is_fact(parsed)).alias("facts"),
            F.count_if(is_error(parsed)).alias("errors"),
        ).first().asDict()
    fact_count, error_count = int(metrics["facts"]), int(metrics["errors"])
    if error_count:
        (parsed.filter(is_error(parsed))
         .select("line", F.col("error").alias("message"), "path")
         .repartition(1).write.mode("overwrite").parquet(output["errors"]))
        watch.lap("parse and write errors")
    files = list_output_files(spark, output["factset"])
    watch.lap("checksums")
    return {
        "facts": fact_count,
        "errors": error_count,
        "files": [{"path": f.path, "size": f.size, "md5": f.md5} for f in files],
        "seconds": watch.seconds,
    }
