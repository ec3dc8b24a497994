"""Hadoop SequenceFiles of ``NullWritable`` keys and ``BytesWritable`` values, in pure
Python (the container of Thrift facts and extract rows, §5.5, §9.4).

Format (version 6): ``SEQ`` + version byte; key and value class names (vint length +
UTF-8); compressed and block-compressed flags (one byte each); when compressed, the codec
class name (vint length + UTF-8); metadata (big-endian int32 count of Text pairs); a
16-byte sync marker. Then, by the flags:

* uncompressed: records of ``int32 record length``, ``int32 key length``, the key (empty
  for ``NullWritable``) and the value (``BytesWritable``: int32 length + bytes);
* record-compressed: the same records with the value (its ``BytesWritable`` bytes)
  compressed on its own by the codec;
* block-compressed: blocks of ``int32 -1`` + the sync marker, a vint record count, then
  four vint-length-prefixed compressed buffers: key lengths (vints), keys, value lengths
  (vints), values (their ``BytesWritable`` bytes back to back).

Outside blocks a record length of ``-1`` is a sync escape followed by the marker.

Codecs (class names as Hadoop writes them in the header): ``DefaultCodec`` and
``DeflateCodec`` (zlib), ``GzipCodec`` (gzip members), ``BZip2Codec`` (bzip2 streams) from
the standard library; ``SnappyCodec`` and ``Lz4Codec`` (raw snappy / raw LZ4 blocks in
Hadoop's block framing, see :func:`parse_hadoop_blocks`) through pyarrow's codecs. Any
other codec (LZO, ZStandard, ...) is an error naming the file and the codec class.

The parsing of bytes (:func:`decompress`, :func:`parse_hadoop_blocks`,
:func:`parse_block_values`) is pure; :func:`read_values` drives it from a binary handle.
No Spark and no JVM: ``cat-thrift`` and tests read and write these files directly (Spark's
own ``SparkContext.sequenceFile`` reads the same files in the ingest job).
"""

from __future__ import annotations

import bz2
import gzip
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from ivory.errors import IvoryError

NULL_WRITABLE = "org.apache.hadoop.io.NullWritable"
BYTES_WRITABLE = "org.apache.hadoop.io.BytesWritable"
_VERSION = 6
_SYNC_INTERVAL = 100 * 20  # bytes between sync markers, as Hadoop's SequenceFile.Writer
_CODEC_PACKAGE = "org.apache.hadoop.io.compress."


class SequenceFileError(IvoryError):
    """A file is not a readable NullWritable/BytesWritable SequenceFile."""


# --- pure parsing -------------------------------------------------------------------------


def _vint_at(data: bytes, pos: int, name: str) -> tuple[int, int]:
    """Hadoop ``WritableUtils.readVInt`` of ``data`` at ``pos``: ``(value, next position)``."""
    if pos >= len(data):
        raise SequenceFileError(f"{name}: truncated SequenceFile (in a vint)")
    first = data[pos] - 256 if data[pos] > 127 else data[pos]
    if first >= -112:
        return first, pos + 1
    negative = first < -120
    size = (-119 - first) if negative else (-111 - first)
    if pos + size > len(data):
        raise SequenceFileError(f"{name}: truncated SequenceFile (in a vint)")
    value = int.from_bytes(data[pos + 1:pos + size], "big")
    return (~value if negative else value), pos + size


def _snappy_length(chunk: bytes, name: str) -> int:
    """The uncompressed length a raw snappy chunk declares (its varint preamble)."""
    value, shift = 0, 0
    for byte in chunk[:5]:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
    raise SequenceFileError(f"{name}: corrupt snappy data (no length preamble)")


def _lz4_extended(chunk: bytes, length: int, pos: int, end: int) -> tuple[int, int]:
    """An LZ4 token's 4-bit length (literals or match) with its extension bytes: 15 means
    more bytes follow, each added, until one below 255. Returns (length, position after)."""
    if length == 15:
        while pos < end:
            length += chunk[pos]
            pos += 1
            if chunk[pos - 1] != 255:
                break
    return length, pos


def _lz4_length(chunk: bytes, name: str) -> int:
    """The uncompressed length of a raw LZ4 block, found by walking its sequences: raw LZ4
    does not store it, pyarrow needs it exactly, and a Hadoop block may hold several
    chunks, so the block's length does not give each chunk's."""
    pos, total, end = 0, 0, len(chunk)
    while pos < end:
        token = chunk[pos]
        pos += 1
        literals, pos = _lz4_extended(chunk, token >> 4, pos, end)
        pos += literals
        total += literals
        if pos >= end:  # the last sequence has literals only
            break
        pos += 2  # match offset
        match, pos = _lz4_extended(chunk, token & 15, pos, end)
        total += match + 4
    if pos != end:
        raise SequenceFileError(f"{name}: corrupt LZ4 data")
    return total


def _arrow_chunk(codec: str, length_of: Callable[[bytes, str], int]
                 ) -> Callable[[bytes, str], bytes]:
    """A chunk decoder for pyarrow's ``codec``, sized by ``length_of`` (pyarrow needs the
    exact uncompressed size)."""
    made: list[Any] = []  # the pyarrow Codec, made on first use (no import at load time)

    def decode(chunk: bytes, name: str) -> bytes:
        if not made:
            import pyarrow as pa

            made.append(pa.Codec(codec))
        try:
            return made[0].decompress(chunk, decompressed_size=length_of(chunk, name),
                                      asbytes=True)
        except (OSError, ValueError) as e:
            raise SequenceFileError(f"{name}: corrupt {codec} data: {e}") from e
    return decode


_snappy_chunk = _arrow_chunk("snappy", _snappy_length)
_lz4_chunk = _arrow_chunk("lz4_raw", _lz4_length)


def parse_hadoop_blocks(data: bytes, chunk: Callable[[bytes, str], bytes],
                        name: str = "<sequence file>") -> bytes:
    """Undo Hadoop's ``BlockCompressorStream`` framing (SnappyCodec, Lz4Codec): blocks of
    ``int32 uncompressed length`` followed by chunks of ``int32 compressed length`` +
    compressed bytes until the block's length is reached; a block length of 0 ends the
    stream.

    Args:
        data: one compressed stream (a record's value, or one buffer of a block).
        chunk: ``(compressed chunk, name) -> uncompressed bytes``.
        name: the file, for errors.

    Returns:
        The uncompressed bytes.

    Raises:
        SequenceFileError: truncated framing, or chunks longer than their block.
    """
    out = bytearray()
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise SequenceFileError(f"{name}: truncated compressed block")
        (block,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if block == 0:
            break
        done = 0
        while done < block:
            if pos + 4 > len(data):
                raise SequenceFileError(f"{name}: truncated compressed block")
            (length,) = struct.unpack_from(">i", data, pos)
            pos += 4
            if length < 0 or pos + length > len(data):
                raise SequenceFileError(f"{name}: truncated compressed block")
            part = chunk(bytes(data[pos:pos + length]), name)
            pos += length
            done += len(part)
            if done > block:
                raise SequenceFileError(f"{name}: compressed block longer than declared "
                                        f"({done} > {block} bytes)")
            out += part
    return bytes(out)


def _zlib(data: bytes, name: str) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error as e:
        raise SequenceFileError(f"{name}: corrupt zlib (DefaultCodec) data: {e}") from e


def _gzip(data: bytes, name: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise SequenceFileError(f"{name}: corrupt gzip data: {e}") from e


def _bzip2(data: bytes, name: str) -> bytes:
    try:
        return bz2.decompress(data)
    except (OSError, ValueError, EOFError) as e:
        raise SequenceFileError(f"{name}: corrupt bzip2 data: {e}") from e


#: Codec class (as in the header) -> ``(compressed stream, file name) -> bytes``.
CODECS: dict[str, Callable[[bytes, str], bytes]] = {
    _CODEC_PACKAGE + "DefaultCodec": _zlib,
    _CODEC_PACKAGE + "DeflateCodec": _zlib,
    _CODEC_PACKAGE + "GzipCodec": _gzip,
    _CODEC_PACKAGE + "BZip2Codec": _bzip2,
    _CODEC_PACKAGE + "SnappyCodec": lambda d, n: parse_hadoop_blocks(d, _snappy_chunk, n),
    _CODEC_PACKAGE + "Lz4Codec": lambda d, n: parse_hadoop_blocks(d, _lz4_chunk, n),
}


def check_codec(codec: str, name: str = "<sequence file>") -> None:
    """Raise :class:`SequenceFileError` naming ``name`` and ``codec`` when the codec class
    is not one of :data:`CODECS`."""
    if codec not in CODECS:
        known = ", ".join(c.rsplit(".", 1)[1] for c in CODECS)
        raise SequenceFileError(f"{name}: SequenceFile codec {codec} is not supported "
                                f"(supported: {known})")


def decompress(codec: str, data: bytes, name: str = "<sequence file>") -> bytes:
    """One compressed stream of a SequenceFile (a record's value or a block's buffer)
    decompressed with the Hadoop codec class ``codec``.

    Raises:
        SequenceFileError: unknown codec or corrupt data (names the file and codec).
    """
    check_codec(codec, name)
    return CODECS[codec](data, name)


def parse_bytes_writable(data: bytes, name: str = "<sequence file>") -> bytes:
    """The bytes of one serialised ``BytesWritable`` (int32 length + bytes).

    Raises:
        SequenceFileError: the length does not match the data.
    """
    if len(data) < 4:
        raise SequenceFileError(f"{name}: BytesWritable shorter than its length field")
    (size,) = struct.unpack_from(">i", data)
    if size != len(data) - 4:
        raise SequenceFileError(f"{name}: BytesWritable length {size} does not match "
                                f"its record ({len(data) - 4} bytes)")
    return bytes(data[4:])


def parse_block_values(count: int, lengths: bytes, values: bytes,
                       name: str = "<sequence file>") -> list[bytes]:
    """The values of one block of a block-compressed SequenceFile.

    Args:
        count: the block's record count.
        lengths: the decompressed value-lengths buffer (``count`` vints).
        values: the decompressed values buffer (serialised ``BytesWritable`` back to back).

    Raises:
        SequenceFileError: lengths that do not cover the values exactly.
    """
    out, pos, start = [], 0, 0
    for _ in range(count):
        length, pos = _vint_at(lengths, pos, name)
        if length < 0 or start + length > len(values):
            raise SequenceFileError(f"{name}: block value lengths exceed its values")
        out.append(parse_bytes_writable(values[start:start + length], name))
        start += length
    if pos != len(lengths) or start != len(values):
        raise SequenceFileError(f"{name}: block of {count} records has data left over")
    return out


# --- reading from a handle ----------------------------------------------------------------


def _read_exact(handle: BinaryIO, size: int, name: str) -> bytes:
    if size < 0:
        raise SequenceFileError(f"{name}: corrupt SequenceFile (negative length {size})")
    data = handle.read(size)
    if len(data) != size:
        raise SequenceFileError(f"{name}: truncated SequenceFile")
    return data


def _read_vint(handle: BinaryIO, name: str) -> int:
    """Hadoop ``WritableUtils.readVInt`` from ``handle``."""
    first = _read_exact(handle, 1, name)
    signed = first[0] - 256 if first[0] > 127 else first[0]
    extra = 0 if signed >= -112 else (-120 - signed if signed < -120 else -112 - signed)
    return _vint_at(first + _read_exact(handle, extra, name), 0, name)[0]


def _read_text(handle: BinaryIO, name: str) -> str:
    return _read_exact(handle, _read_vint(handle, name), name).decode("utf-8")


def _write_text(out: bytearray, text: str) -> None:
    data = text.encode("utf-8")
    if len(data) > 127:  # class names are short; a one-byte vint is all we write
        raise ValueError("text too long for a one-byte vint")
    out += bytes([len(data)]) + data


def read_values(handle: BinaryIO, name: str = "<sequence file>") -> Iterator[bytes]:
    """The values of a NullWritable/BytesWritable SequenceFile, in order: uncompressed,
    record-compressed or block-compressed with one of the codecs of :data:`CODECS`.

    Raises:
        SequenceFileError: not a SequenceFile, other key/value classes, an unsupported codec
            (names it), corrupt or truncated data (names the file).
    """
    if _read_exact(handle, 3, name) != b"SEQ":
        raise SequenceFileError(f"{name}: not a SequenceFile (no SEQ header)")
    version = _read_exact(handle, 1, name)[0]
    if version < 5:
        raise SequenceFileError(f"{name}: SequenceFile version {version} is not supported")
    classes = [_read_text(handle, name), _read_text(handle, name)]
    if classes != [NULL_WRITABLE, BYTES_WRITABLE]:
        raise SequenceFileError(f"{name}: expected NullWritable keys and BytesWritable "
                                f"values, found {classes[0]} and {classes[1]}")
    compressed, block = _read_exact(handle, 2, name)
    codec = _read_text(handle, name) if compressed else None
    if codec is not None:
        check_codec(codec, name)
    (count,) = struct.unpack(">i", _read_exact(handle, 4, name))
    for _ in range(2 * count):
        _read_exact(handle, _read_vint(handle, name), name)
    sync = _read_exact(handle, 16, name)
    if codec is not None and block:
        yield from _read_blocks(handle, codec, sync, name)
        return
    while True:
        head = handle.read(4)
        if not head:
            return
        if len(head) != 4:
            raise SequenceFileError(f"{name}: truncated SequenceFile record")
        (length,) = struct.unpack(">i", head)
        if length == -1:
            if _read_exact(handle, 16, name) != sync:
                raise SequenceFileError(f"{name}: corrupt sync marker")
            continue
        (key_length,) = struct.unpack(">i", _read_exact(handle, 4, name))
        _read_exact(handle, key_length, name)
        value = _read_exact(handle, length - key_length, name)
        if codec is not None:
            value = decompress(codec, value, name)
        yield parse_bytes_writable(value, name)


def _read_blocks(handle: BinaryIO, codec: str, sync: bytes, name: str) -> Iterator[bytes]:
    """The values of the blocks of a block-compressed file, after its header."""
    while True:
        head = handle.read(4)
        if not head:
            return
        if head != b"\xff\xff\xff\xff" or _read_exact(handle, 16, name) != sync:
            raise SequenceFileError(f"{name}: corrupt sync marker before a block")
        count = _read_vint(handle, name)
        buffers = [_read_exact(handle, _read_vint(handle, name), name) for _ in range(4)]
        # buffers: key lengths, keys (NullWritable: nothing to read), value lengths, values
        lengths = decompress(codec, buffers[2], name)
        yield from parse_block_values(count, lengths, decompress(codec, buffers[3], name),
                                      name)


def write_values(handle: BinaryIO, values: Iterable[bytes], sync: bytes | None = None) -> int:
    """Write ``values`` as an uncompressed NullWritable/BytesWritable SequenceFile (readable
    by Hadoop and by :func:`read_values`); returns the number of records."""
    marker = sync if sync is not None else os.urandom(16)
    header = bytearray(b"SEQ" + bytes([_VERSION]))
    _write_text(header, NULL_WRITABLE)
    _write_text(header, BYTES_WRITABLE)
    header += b"\x00\x00" + struct.pack(">i", 0) + marker
    handle.write(bytes(header))
    position, last_sync, count = len(header), len(header), 0
    for value in values:
        if position >= last_sync + _SYNC_INTERVAL:
            handle.write(struct.pack(">i", -1) + marker)
            position += 20
            last_sync = position
        record = struct.pack(">iii", len(value) + 4, 0, len(value)) + value
        handle.write(record)
        position += len(record)
        count += 1
    return count
