"""Hadoop SequenceFiles of ``NullWritable`` keys and ``BytesWritable`` values, in pure
Python (the container of Thrift facts and extract rows, §5.5, §9.4).

Format (version 6, uncompressed only): ``SEQ`` + version byte; key and value class names
(vint length + UTF-8); compressed and block-compressed flags (one byte each); metadata
(big-endian int32 count of Text pairs); a 16-byte sync marker. Each record is
``int32 record length``, ``int32 key length``, the key (empty for ``NullWritable``) and the
value (``BytesWritable``: int32 length + bytes); a record length of ``-1`` is a sync escape
followed by the marker. Compressed files (record or block) are rejected with an error that
says so: use Spark (``SparkContext.sequenceFile``) for those.

No Spark and no JVM: ``cat-thrift`` and tests read and write these files directly.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ivory.errors import IvoryError

NULL_WRITABLE = "org.apache.hadoop.io.NullWritable"
BYTES_WRITABLE = "org.apache.hadoop.io.BytesWritable"
_VERSION = 6
_SYNC_INTERVAL = 100 * 20  # bytes between sync markers, as Hadoop's SequenceFile.Writer


class SequenceFileError(IvoryError):
    """A file is not a readable uncompressed NullWritable/BytesWritable SequenceFile."""


def _read_exact(handle: BinaryIO, size: int, name: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise SequenceFileError(f"{name}: truncated SequenceFile")
    return data


def _read_vint(handle: BinaryIO, name: str) -> int:
    """Hadoop ``WritableUtils.readVInt``."""
    first = struct.unpack(">b", _read_exact(handle, 1, name))[0]
    if first >= -112:
        return first
    negative = first < -120
    size = (-119 - first) if negative else (-111 - first)
    value = 0
    for byte in _read_exact(handle, size - 1, name):
        value = (value << 8) | byte
    return ~value if negative else value


def _write_text(out: bytearray, text: str) -> None:
    data = text.encode("utf-8")
    if len(data) > 127:  # class names are short; a one-byte vint is all we write
        raise ValueError("text too long for a one-byte vint")
    out += bytes([len(data)]) + data


def read_values(handle: BinaryIO, name: str = "<sequence file>") -> Iterator[bytes]:
    """The values of a NullWritable/BytesWritable SequenceFile, in order.

    Raises:
        SequenceFileError: not a SequenceFile, other key/value classes, compressed, or
            truncated (names the file).
    """
    if _read_exact(handle, 3, name) != b"SEQ":
        raise SequenceFileError(f"{name}: not a SequenceFile (no SEQ header)")
    version = _read_exact(handle, 1, name)[0]
    if version < 5:
        raise SequenceFileError(f"{name}: SequenceFile version {version} is not supported")
    classes = []
    for _ in range(2):
        classes.append(_read_exact(handle, _read_vint(handle, name), name).decode("utf-8"))
    if classes != [NULL_WRITABLE, BYTES_WRITABLE]:
        raise SequenceFileError(f"{name}: expected NullWritable keys and BytesWritable "
                                f"values, found {classes[0]} and {classes[1]}")
    compressed, block = _read_exact(handle, 2, name)
    if compressed or block:
        raise SequenceFileError(f"{name}: compressed SequenceFiles are not supported here "
                                "(read them with Spark)")
    (count,) = struct.unpack(">i", _read_exact(handle, 4, name))
    for _ in range(2 * count):
        _read_exact(handle, _read_vint(handle, name), name)
    sync = _read_exact(handle, 16, name)
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
        (size,) = struct.unpack(">i", value[:4])
        if size != len(value) - 4:
            raise SequenceFileError(f"{name}: BytesWritable length {size} does not match "
                                    f"its record ({len(value) - 4} bytes)")
        yield value[4:]


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
