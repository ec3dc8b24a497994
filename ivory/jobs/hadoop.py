"""Job-side file operations through Hadoop's FileSystem API (file://, hdfs://, s3a://).

Jobs run where only Spark's JVM can reach the data (an EMR cluster's HDFS), so they move and
list their own output with the JVM's FileSystem, not with the driver's storage backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class OutputFile:
    """A file a job wrote: ``path`` relative to the job's output root, ``size`` in bytes and
    ``md5`` (32 lower-case hex digits)."""

    path: str
    size: int
    md5: str


def _fs(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jvm


def move_hive_partitions(spark: SparkSession, staging_uri: str, target_uri: str) -> int:
    """Move Spark's ``col=value/...`` partition directories under ``staging_uri`` to plain
    ``value/...`` directories under ``target_uri`` (the Ivory layout, D2.5), file by file,
    then delete the staging directory.

    Returns:
        The number of files moved. Hidden files (``.``/``_``) are left behind and deleted.
    """
    if staging_uri.startswith("file:"):
        return _move_local(staging_uri, target_uri)
    fs, jvm = _fs(spark, staging_uri)
    Path = jvm.org.apache.hadoop.fs.Path
    staging = fs.makeQualified(Path(staging_uri)).toString().rstrip("/")
    target = target_uri.rstrip("/")
    moved = 0
    if not fs.exists(Path(staging_uri)):
        return 0
    files = fs.listFiles(Path(staging_uri), True)
    while files.hasNext():
        status = files.next()
        source = status.getPath()
        relative = source.toString()[len(staging) + 1 :]
        parts = relative.split("/")
        if any(p.startswith((".", "_")) and "=" not in p for p in parts):
            continue
        plain = [p.split("=", 1)[1] if "=" in p else p for p in parts]
        destination = Path(target + "/" + "/".join(plain))
        fs.mkdirs(destination.getParent())
        if not fs.rename(source, destination):
            raise OSError(f"could not move {source.toString()} to {destination.toString()}")
        moved += 1
    fs.delete(Path(staging_uri), True)
    return moved


def _local_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def _move_local(staging_uri: str, target_uri: str) -> int:
    """:func:`move_hive_partitions` for ``file:`` URIs with plain renames (no JVM calls)."""
    import os
    import shutil

    staging, target = _local_path(staging_uri), _local_path(target_uri)
    moved = 0
    for directory, _, names in os.walk(staging):
        relative = os.path.relpath(directory, staging)
        parts = [] if relative == "." else relative.split(os.sep)
        plain = [p.split("=", 1)[1] if "=" in p else p for p in parts]
        for name in names:
            if name.startswith((".", "_")):
                continue
            destination = os.path.join(target, *plain, name)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            os.rename(os.path.join(directory, name), destination)
            moved += 1
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def list_output_files(spark: SparkSession, root_uri: str) -> list[OutputFile]:
    """Every visible file under ``root_uri`` with its size and MD5, computed by Spark tasks
    (``binaryFile`` source + ``md5``), sorted by path.

    Hidden files (``.``/``_`` prefixes, e.g. ``.allocated``, ``.crc``) are not listed.
    """
    fs, jvm = _fs(spark, root_uri)
    if not fs.exists(jvm.org.apache.hadoop.fs.Path(root_uri)):
        return []
    root = fs.makeQualified(jvm.org.apache.hadoop.fs.Path(root_uri)).toString().rstrip("/")
    rows = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(root_uri)
        .select("path", "length", F.md5("content").alias("md5"))
        .collect()
    )
    out = []
    for row in rows:
        path = row.path
        if not path.startswith(root + "/"):
            # binaryFile qualifies paths the same way as makeQualified; be strict if not.
            raise OSError(f"unexpected output path {path} outside {root}")
        out.append(OutputFile(path[len(root) + 1 :], int(row.length), row.md5))
    return sorted(out, key=lambda f: f.path)


def delete_path(spark: SparkSession, uri: str) -> None:
    """Delete ``uri`` recursively if it exists."""
    fs, jvm = _fs(spark, uri)
    fs.delete(jvm.org.apache.hadoop.fs.Path(uri), True)


def path_exists(spark: SparkSession, uri: str) -> bool:
    fs, jvm = _fs(spark, uri)
    return bool(fs.exists(jvm.org.apache.hadoop.fs.Path(uri)))


def read_text(spark: SparkSession, uri: str) -> str:
    """Read a small UTF-8 file (a plan) through Hadoop's FileSystem."""
    fs, jvm = _fs(spark, uri)
    stream = fs.open(jvm.org.apache.hadoop.fs.Path(uri))
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Write a small UTF-8 file (a job result) through Hadoop's FileSystem, replacing it."""
    fs, jvm = _fs(spark, uri)
    stream = fs.create(jvm.org.apache.hadoop.fs.Path(uri), True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()
