"""Spark session settings shared by the jobs, the local runner and the tests.

:func:`configure` composes settings onto a ``SparkSession.Builder`` (builder -> builder) so
that jobs on EMR, the local runner and the test fixture use the same production settings,
each adding only a small override set. Nothing here runs at import time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ivory.errors import IvoryError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Spark's logging on a laptop: errors only (ivory shows its own progress).
LOG4J2_CONFIG = str(Path(__file__).with_name("log4j2.properties"))

#: Settings every ivory job runs with, local or on a cluster.
JOB_SETTINGS: dict[str, str] = {
    # All timestamps are wall-clock values we convert explicitly (§5.3): never the JVM's zone.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    # Size partitions by the advisory size, not by the core count: small outputs, few files.
    "spark.sql.adaptive.coalescePartitions.parallelismFirst": "false",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes": str(64 * 1024 * 1024),
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.hadoop.parquet.enable.summary-metadata": "false",
    "spark.ui.showConsoleProgress": "false",
}

#: Extra settings for local Spark on a laptop (the embedded default, D6.3).
LOCAL_SETTINGS: dict[str, str] = {
    "spark.master": "local[*]",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "4g",
    # Generated code for wide projections exceeds the JIT's 8000-byte limit; compile it anyway.
    # The throughput collector: a 10M-fact snapshot aggregation took a median 11.9 s against
    # 13.0 s with G1, Java 17's default (6 runs each, 2 cores); pauses do not matter here.
    "spark.driver.extraJavaOptions": "-XX:-DontCompileHugeMethods -XX:+UseParallelGC "
    f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
    "spark.sql.shuffle.partitions": "16",
    "spark.default.parallelism": "4",
}


def configure(builder: SparkSession.Builder, overrides: Mapping[str, str] | None = None,
              *, local: bool = True) -> SparkSession.Builder:
    """Apply ivory's Spark settings to ``builder`` and return it.

    Args:
        builder: a ``SparkSession.builder``.
        overrides: settings that win over the defaults (e.g. a ``conf/`` profile or a test).
        local: also apply :data:`LOCAL_SETTINGS` (local master, loopback only, no UI).

    Returns:
        The same builder, for chaining.
    """
    settings = dict(JOB_SETTINGS)
    if local:
        settings.update(LOCAL_SETTINGS)
    settings.update(overrides or {})
    builder = builder.appName(settings.pop("spark.app.name", "ivory"))
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder


def start_local_session(overrides: Mapping[str, str] | None = None) -> SparkSession:
    """Start (or join) a local SparkSession with ivory's settings.

    The Python workers run this interpreter (``PYSPARK_PYTHON``), so they see the same
    packages as the driver.

    Raises:
        IvoryError: Java 17 or newer is not installed.
    """
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = configure(SparkSession.builder, overrides).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


JAVA_HELP = (
    "local Spark needs Java 17: install it with 'apt-get install openjdk-17-jre-headless' "
    "(Debian/Ubuntu), 'brew install openjdk@17' (macOS) or from https://adoptium.net, "
    "then put 'java' on PATH or set JAVA_HOME"
)


def java_major_version(java: str | None = None) -> int | None:
    """The major version of the ``java`` that Spark will start, or None when there is none."""
    if java is None:
        home = os.environ.get("JAVA_HOME")
        java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> None:
    """Raise :class:`IvoryError` unless Java 17 or newer is available to start Spark."""
    major = java_major_version()
    if major is None:
        raise IvoryError(f"Java was not found: {JAVA_HELP}")
    if major < 17:
        raise IvoryError(f"Java {major} was found but {JAVA_HELP}")
