"""Compressed SequenceFiles written by Hadoop itself (through local Spark), for the reader
tests of §5.5: the unit tests read committed copies (``tests/unit/data/sequencefile``), the
Spark test writes fresh ones.

Regenerate the committed copies with ``.venv/bin/python -m tests.hadoop_sequencefiles``.

GzipCodec is absent: Hadoop refuses to write SequenceFiles with it without native-hadoop
code ("SequenceFile doesn't work with GzipCodec without native-hadoop code!"), so the tests
build Gzip files by hand (:func:`build_compressed`).
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable, Sequence

#: Codecs local Hadoop writes without native libraries (short class names).
CODECS = ("DefaultCodec", "BZip2Codec", "SnappyCodec", "Lz4Codec")
KINDS = ("RECORD", "BLOCK")
DATA_DIR = os.path.join(os.path.dirname(__file__), "unit", "data", "sequencefile")

#: Values of the committed files: empty, short, compressible and incompressible ones, large
#: enough (with the small buffers below) for several snappy/lz4 chunks per value and
#: several blocks per block-compressed file.
FIXTURE_VALUES = (
    [b"", b"a", bytes(range(256)) * 8, random.Random(5).randbytes(1500)]
    + [b"fact-%03d|" % i * (i % 5) for i in range(40)]
)


def fixture_path(codec: str, kind: str) -> str:
    return os.path.join(DATA_DIR, f"{codec}-{kind}.seq")


def write_hadoop(spark: object, path: str, values: Sequence[bytes], codec: str,
                 kind: str) -> str:
    """Write ``values`` as one NullWritable/BytesWritable SequenceFile with Hadoop's
    ``SequenceFileOutputFormat`` (codec ``org.apache.hadoop.io.compress.<codec>``,
    compression type ``kind``: RECORD or BLOCK) under the directory ``path``; returns the
    part file. Small snappy/lz4 buffers (512 bytes) and blocks (1000 bytes) so that tiny
    inputs still have several chunks and blocks."""
    sc = spark.sparkContext  # type: ignore[attr-defined]
    rdd = sc.parallelize([(None, bytearray(v)) for v in values], 1)
    # Not compressionCodecClass=: with it Spark forces compress.type=BLOCK.
    rdd.saveAsHadoopFile(
        path, "org.apache.hadoop.mapred.SequenceFileOutputFormat",
        "org.apache.hadoop.io.NullWritable", "org.apache.hadoop.io.BytesWritable",
        conf={"mapreduce.output.fileoutputformat.compress": "true",
              "mapreduce.output.fileoutputformat.compress.codec":
                  "org.apache.hadoop.io.compress." + codec,
              "mapreduce.output.fileoutputformat.compress.type": kind,
              "io.compression.codec.snappy.buffersize": "512",
              "io.compression.codec.lz4.buffersize": "512",
              "io.seqfile.compress.blocksize": "1000"})
    (part,) = glob.glob(os.path.join(path, "part-*"))
    return part


def _vint(value: int) -> bytes:
    """Hadoop ``WritableUtils.writeVInt`` (non-negative values)."""
    if value <= 127:
        return bytes([value])
    data = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([(-112 - len(data)) & 0xFF]) + data


def _text(text: str) -> bytes:
    data = text.encode()
    return _vint(len(data)) + data


def build_compressed(values: Sequence[bytes], codec: str, compress: Callable[[bytes], bytes],
                     block: bool, sync: bytes = b"0123456789abcdef",
                     block_records: int = 3) -> bytes:
    """A compressed NullWritable/BytesWritable SequenceFile laid out as Hadoop's
    ``SequenceFile.Writer`` does (record- or block-compressed, ``block_records`` records a
    block), each stream compressed with ``compress``; ``codec`` is the class written in the
    header. For codecs Hadoop cannot write here (GzipCodec)."""
    out = bytearray(b"SEQ\x06" + _text("org.apache.hadoop.io.NullWritable")
                    + _text("org.apache.hadoop.io.BytesWritable") + bytes([1, int(block)])
                    + _text(codec) + struct.pack(">i", 0) + sync)
    serialised = [struct.pack(">i", len(v)) + v for v in values]
    if not block:
        for data in serialised:
            packed = compress(data)
            out += struct.pack(">ii", len(packed), 0) + packed
        return bytes(out)
    for start in range(0, len(serialised), block_records):
        chunk = serialised[start:start + block_records]
        out += b"\xff\xff\xff\xff" + sync + _vint(len(chunk))
        for buffer in (b"\x00" * len(chunk), b"", b"".join(_vint(len(d)) for d in chunk),
                       b"".join(chunk)):
            packed = compress(buffer)
            out += _vint(len(packed)) + packed
    return bytes(out)


def main() -> int:
    """Regenerate the committed files of :data:`DATA_DIR` with a local Spark."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[1]").getOrCreate()
    os.makedirs(DATA_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for codec in CODECS:
            for kind in KINDS:
                part = write_hadoop(spark, os.path.join(tmp, f"{codec}-{kind}"),
                                    FIXTURE_VALUES, codec, kind)
                shutil.copyfile(part, fixture_path(codec, kind))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
