"""Compressed Thrift SequenceFiles (§5.5, §11.4) written by Hadoop through the local Spark:
the pure reader (``cat-thrift``) and the ingest job's Spark reader see the same facts."""

from __future__ import annotations

import gzip
import os

from ivory.debug import thrift_lines
from ivory.dictionary import parse_encoding
from ivory.jobs.ingest import read_thrift
from ivory.sequencefile import read_values
from ivory.thrift.facts import ThriftFact, encode, fact_fields, to_thrift
from tests.hadoop_sequencefiles import build_compressed, write_hadoop

VALUES = [
    encode(ThriftFact(entity="E1", attribute="weight",
                      value=to_thrift(parse_encoding("double"), 1.5), datetime="2014-01-01")),
    encode(ThriftFact(entity="E2", attribute="count",
                      value=to_thrift(parse_encoding("int"), 7), datetime="2014-01-02")),
]


def test_compressed_thrift_input_section_5_5(spark, tmp_path) -> None:
    """§5.5: a block-compressed Snappy file written by Hadoop now (every codec and kind is
    covered by the Hadoop-written files of the unit tests; each Spark write or read costs
    seconds), plus hand-built record- and block-compressed Gzip ones (Hadoop cannot write
    Gzip SequenceFiles without native code, but reads them): the pure reader returns the
    values written, Spark's reader (the ingest job's ``read_thrift``) decodes the same
    facts, and ``cat-thrift`` (§11.4) prints them."""
    inputs = tmp_path / "in"
    os.makedirs(inputs)
    files = []
    part = write_hadoop(spark, str(tmp_path / "snappy"), VALUES, "SnappyCodec", "BLOCK")
    files.append(str(inputs / "snappy-block"))
    os.rename(part, files[-1])
    for block in (False, True):
        files.append(str(inputs / f"gzip-{block}"))
        with open(files[-1], "wb") as handle:
            handle.write(build_compressed(VALUES, "org.apache.hadoop.io.compress.GzipCodec",
                                          gzip.compress, block))
    for path in files:
        with open(path, "rb") as handle:
            assert list(read_values(handle, path)) == VALUES, path

    rows = read_thrift(spark, {"namespace": "fish", "files": files}).collect()
    expected = sorted(fact_fields(v)[0] for v in VALUES)
    for path in files:
        mine = [r for r in rows if r.path == path]
        assert [r.decode_error for r in mine] == [None, None], path
        assert sorted(r.fields for r in mine) == expected, path

    lines = list(thrift_lines(str(inputs), "fact"))
    assert sorted(set(lines)) == ["E1|weight|1.5|2014-01-01", "E2|count|7|2014-01-02"]
    assert len(lines) == 2 * len(files)
