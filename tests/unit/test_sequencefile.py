"""``ivory.sequencefile``: the NullWritable/BytesWritable SequenceFile container of Thrift
facts and extract rows (§5.5, §9.4)."""

from __future__ import annotations

import io

import pytest

from ivory.sequencefile import SequenceFileError, read_values, write_values


def test_round_trip_with_sync_markers_section_9_4() -> None:
    """Values come back in order, across the sync markers written every ~2000 bytes."""
    values = [bytes([i % 256]) * (i % 50) for i in range(500)]
    out = io.BytesIO()
    assert write_values(out, values, sync=b"0123456789abcdef") == 500
    data = out.getvalue()
    assert data.startswith(b"SEQ\x06")
    assert data.count(b"\xff\xff\xff\xff0123456789abcdef") >= 5
    assert list(read_values(io.BytesIO(data))) == values


def test_hadoop_header_layout() -> None:
    """The header Hadoop writes: class names as vint-prefixed text, flags, empty metadata."""
    out = io.BytesIO()
    write_values(out, [b"x"], sync=b"S" * 16)
    assert out.getvalue() == (
        b"SEQ\x06" + b"\x21org.apache.hadoop.io.NullWritable"
        + b"\x22org.apache.hadoop.io.BytesWritable" + b"\x00\x00" + b"\x00\x00\x00\x00"
        + b"S" * 16 + b"\x00\x00\x00\x05" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x01x")


@pytest.mark.parametrize(("data", "message"), [
    (b"PAR1", "not a SequenceFile"),
    (b"SEQ\x06\x21org.apache.hadoop.io.NullWritable\x19org.apache.hadoop.io.Text",
     "expected NullWritable keys and BytesWritable values"),
    (b"SEQ\x06\x21org.apache.hadoop.io.NullWritable\x22org.apache.hadoop.io.BytesWritable"
     b"\x01\x00", "compressed SequenceFiles are not supported"),
])
def test_bad_files_name_the_file(data: bytes, message: str) -> None:
    with pytest.raises(SequenceFileError, match=f"in.seq: .*{message}"):
        list(read_values(io.BytesIO(data), "in.seq"))


def test_truncated_record_is_an_error() -> None:
    out = io.BytesIO()
    write_values(out, [b"abcdef"])
    with pytest.raises(SequenceFileError, match="truncated"):
        list(read_values(io.BytesIO(out.getvalue()[:-2])))
