"""Shared fixtures: one local SparkSession for the whole run (one JVM), built with the
production settings of :mod:`ivory.spark` plus a small test override set."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import pytest

# The local S3 server fixtures (s3_server, s3_env, s3_bucket) for every test.
from tests.s3server import s3_bucket, s3_env, s3_server  # noqa: F401

#: Overrides for tests: small shuffles, two cores, modest memory.
TEST_SPARK_SETTINGS = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "2g",
    "spark.app.name": "ivory-tests",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/spark use the JVM: mark them ``spark``."""
    for item in items:
        if f"{os.sep}tests{os.sep}spark{os.sep}" in str(item.fspath):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """The session-scoped local SparkSession. Its ``stop`` is disabled so code under test
    cannot end it for the tests that follow."""
    from ivory.spark import check_java, configure

    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from ivory.errors import IvoryError
    from ivory.s3a import s3a_jars, s3a_settings

    settings = dict(TEST_SPARK_SETTINGS)
    # s3a on the classpath from the start (each S3 test sets its endpoint on the session's
    # Hadoop configuration); when the jars were not fetched the Spark-on-S3 tests skip.
    with contextlib.suppress(IvoryError):
        settings.update(s3a_settings({}, jars=s3a_jars(download=False)))
    session = configure(SparkSession.builder, settings).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    real_stop = session.stop
    session.stop = lambda: None  # type: ignore[method-assign]
    yield session
    real_stop()


@pytest.fixture(scope="session")
def local_runner(spark: object) -> object:
    """A :class:`ivory.runner.LocalRunner` on the shared session (no progress bar)."""
    from ivory.runner import LocalRunner

    return LocalRunner(spark=spark, show_progress=False)  # type: ignore[arg-type]
