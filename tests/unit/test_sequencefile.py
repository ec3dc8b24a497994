"""``ivory.sequencefile``: the NullWritable/BytesWritable SequenceFile container of Thrift
facts and extract rows (§5.5, §9.4), uncompressed and compressed. The compressed files under
``data/sequencefile`` were written by Hadoop (``tests/hadoop_sequencefiles.py``); Gzip ones
are built by hand, as Hadoop cannot write them without its native library."""

from __future__ import annotations

import bz2
import gzip
import io
import struct
import zlib

import pyarrow as pa
import pytest

import ivory.sequencefile as sequencefile
from ivory.sequencefile import (
    SequenceFileError,
    decompress,
    parse_block_values,
    parse_hadoop_blocks,
    read_values,
    write_values,
)
from tests.hadoop_sequencefiles import (
    CODECS,
    FIXTURE_VALUES,
    KINDS,
    build_compressed,
    fixture_path,
)

GZIP = "org.apache.hadoop.io.compress.GzipCodec"


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
     b"\x01\x00\x23com.hadoop.compression.lzo.LzoCodec",
     "codec com.hadoop.compression.lzo.LzoCodec is not supported"),
])
def test_bad_files_name_the_file(data: bytes, message: str) -> None:
    with pytest.raises(SequenceFileError, match=f"in.seq: .*{message}"):
        list(read_values(io.BytesIO(data), "in.seq"))


def test_truncated_record_is_an_error() -> None:
    out = io.BytesIO()
    write_values(out, [b"abcdef"])
    with pytest.raises(SequenceFileError, match="truncated"):
        list(read_values(io.BytesIO(out.getvalue()[:-2])))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("codec", CODECS)
def test_hadoop_compressed_files_section_5_5(codec: str, kind: str) -> None:
    """§5.5: record- and block-compressed files Hadoop wrote (Default/zlib, BZip2, Snappy,
    Lz4) read back to the values written, in order (empty, short, 2 KB compressible and
    1.5 KB incompressible values; several blocks per block-compressed file)."""
    with open(fixture_path(codec, kind), "rb") as handle:
        data = handle.read()
    assert data[data.index(b"BytesWritable") + 13:][:2] == bytes([1, kind == "BLOCK"])
    assert list(read_values(io.BytesIO(data), "f.seq")) == FIXTURE_VALUES


@pytest.mark.parametrize(("codec", "decoder"), [("SnappyCodec", "_snappy_chunk"),
                                                ("Lz4Codec", "_lz4_chunk")])
def test_hadoop_block_framing_with_several_chunks_section_5_5(
        codec: str, decoder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """§5.5: Hadoop split the larger snappy/lz4 values into several chunks of one framed
    block (the fixtures use 512-byte buffers): more chunks than values, all read back."""
    calls = []
    real = getattr(sequencefile, decoder)
    monkeypatch.setattr(sequencefile, decoder, lambda c, n: calls.append(c) or real(c, n))
    with open(fixture_path(codec, "RECORD"), "rb") as handle:
        assert list(read_values(handle)) == FIXTURE_VALUES
    assert len(calls) > len([v for v in FIXTURE_VALUES if v]) + 1


@pytest.mark.parametrize("block", [False, True])
def test_gzip_files_section_5_5(block: bool) -> None:
    """§5.5: GzipCodec files (hand-built in Hadoop's layout: Hadoop cannot write them
    without native code), record- and block-compressed."""
    data = build_compressed(FIXTURE_VALUES, GZIP, gzip.compress, block)
    assert list(read_values(io.BytesIO(data))) == FIXTURE_VALUES


def test_deflate_codec_is_zlib_section_5_5() -> None:
    """§5.5: DeflateCodec streams are zlib streams, as DefaultCodec."""
    data = build_compressed([b"x", b"yy"], "org.apache.hadoop.io.compress.DeflateCodec",
                            zlib.compress, block=True)
    assert list(read_values(io.BytesIO(data))) == [b"x", b"yy"]


def test_unknown_codec_names_file_and_class() -> None:
    data = build_compressed([b"x"], "org.apache.hadoop.io.compress.ZStandardCodec",
                            zlib.compress, block=False)
    with pytest.raises(SequenceFileError,
                       match=r"in\.seq: SequenceFile codec "
                             r"org\.apache\.hadoop\.io\.compress\.ZStandardCodec is not "
                             r"supported \(supported: DefaultCodec, .*Lz4Codec\)"):
        next(read_values(io.BytesIO(data), "in.seq"))


@pytest.mark.parametrize(("codec", "message"), [
    ("DefaultCodec", "corrupt zlib"), ("BZip2Codec", "corrupt bzip2"),
    ("SnappyCodec", "corrupt snappy"), ("Lz4Codec", "corrupt"),
])
def test_corrupt_compressed_data_names_the_file(codec: str, message: str) -> None:
    """A value stream with its compressed bytes damaged is an error naming the file."""
    data = build_compressed([b"abc" * 50], "org.apache.hadoop.io.compress." + codec,
                            lambda d: b"\x00\x00\x00\x96\x00\x00\x00\x05junk!"
                            if codec in ("SnappyCodec", "Lz4Codec") else b"junk!" * 3,
                            block=False)
    with pytest.raises(SequenceFileError, match=f"bad.seq: .*{message}"):
        list(read_values(io.BytesIO(data), "bad.seq"))


def test_truncated_block_is_an_error() -> None:
    data = build_compressed(FIXTURE_VALUES, GZIP, gzip.compress, block=True)
    with pytest.raises(SequenceFileError, match=r"x\.seq: truncated"):
        list(read_values(io.BytesIO(data[:-10]), "x.seq"))


def test_parse_hadoop_blocks_framing() -> None:
    """Blocks of ``int32 length`` + chunks of ``int32 length`` + data; 0 ends the stream;
    a chunk overrunning its block is an error."""
    def frame(*blocks: list[bytes]) -> bytes:
        out = b""
        for chunks in blocks:
            out += struct.pack(">i", sum(map(len, chunks)))
            out += b"".join(struct.pack(">i", len(c)) + c for c in chunks)
        return out

    def identity(chunk: bytes, name: str) -> bytes:
        return chunk

    assert parse_hadoop_blocks(frame([b"ab", b"c"], [b"de"]), identity) == b"abcde"
    assert parse_hadoop_blocks(frame([b"ab"]) + b"\x00\x00\x00\x00", identity) == b"ab"
    assert parse_hadoop_blocks(b"", identity) == b""
    with pytest.raises(SequenceFileError, match="longer than declared"):
        parse_hadoop_blocks(b"\x00\x00\x00\x01" + frame([b"ab"])[4:], identity)
    with pytest.raises(SequenceFileError, match="f: truncated compressed block"):
        parse_hadoop_blocks(frame([b"abc"])[:-1], identity, "f")


def test_lz4_chunks_measure_themselves() -> None:
    """Raw LZ4 stores no length: a chunk's size comes from walking its sequences."""
    codec = pa.Codec("lz4_raw")
    for data in [b"a", b"hello world " * 100, bytes(range(256)) * 3 + b"tail" * 70]:
        chunk = codec.compress(data, asbytes=True)
        assert sequencefile._lz4_length(chunk, "f") == len(data)
        assert decompress("org.apache.hadoop.io.compress.Lz4Codec",
                          struct.pack(">ii", len(data), len(chunk)) + chunk) == data


def test_bzip2_and_zlib_streams() -> None:
    assert decompress("org.apache.hadoop.io.compress.BZip2Codec", bz2.compress(b"q")) == b"q"
    assert decompress("org.apache.hadoop.io.compress.DefaultCodec", zlib.compress(b"")) == b""


def test_block_lengths_must_cover_values() -> None:
    values = struct.pack(">i", 1) + b"a" + struct.pack(">i", 0)
    assert parse_block_values(2, b"\x05\x04", values) == [b"a", b""]
    with pytest.raises(SequenceFileError, match="f: block of 1 records has data left over"):
        parse_block_values(1, b"\x05", values, "f")
    with pytest.raises(SequenceFileError, match="exceed"):
        parse_block_values(2, b"\x05\x09", values)
    with pytest.raises(SequenceFileError, match="BytesWritable length 1 does not match"):
        parse_block_values(1, b"\x06", values[:5] + b"z")
