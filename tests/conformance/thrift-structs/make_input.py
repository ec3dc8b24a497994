"""Re-create ``input/facts/halibut/out-m-00000``, the Thrift input of the upstream
``thrift-structs`` case, whose stored copy is binary and could not be read (see NOTES.md).

Writes a Hadoop SequenceFile (version 6, uncompressed, NullWritable keys, BytesWritable
values) of four compact-protocol ``ThriftFact`` records, the facts upstream's
``expected/fact.psv`` lists. The encoding is written out here by hand, independently of
ivory's own Thrift and SequenceFile code, so that the case tests those. Deterministic
(fixed sync marker): running it again gives the same bytes.

Usage: ``python make_input.py [OUT]`` (default: the path above, beside this script).
"""

from __future__ import annotations

import pathlib
import struct
import sys

# (entity, attribute, struct fields in upstream's order, datetime): expected/fact.psv
FACTS = [
    ("a", "mandatory", [("s", "foo"), ("i", 12345), ("b", True), ("l", 1234567898765432),
                        ("d", 3.14159265359)], "2012-03-22"),
    ("a", "optional", [("i", 12345), ("l", 1234567898765432)], "2012-03-22"),
    ("z", "mandatory", [("s", "bar"), ("i", 67890), ("b", False), ("l", 987654321),
                        ("d", 6.28318530718)], "2012-03-22"),
    ("z", "optional", [("b", False), ("s", "bar"), ("d", 6.28318530718)], "2012-03-22"),
]
#: ThriftFactPrimitiveValue union field per struct field: (field id, compact type).
#: ``i`` is an i32 and ``l`` an i64, as the dictionary's ``int`` and ``long``.
PRIMITIVE = {"s": (1, 8), "i": (2, 5), "l": (3, 6), "d": (4, 7), "b": (5, 1)}
STRUCT, STRING, MAP, STOP = 12, 8, 11, 0


def varint(n: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def zigzag(n: int) -> bytes:
    """Zig-zag varint of a signed 64-bit integer."""
    return varint((n << 1) ^ (n >> 63))


def string(s: str) -> bytes:
    data = s.encode("utf-8")
    return varint(len(data)) + data


def field(delta: int, kind: int) -> bytes:
    """Short-form field header (field id delta 1..15)."""
    return bytes([(delta << 4) | kind])


def primitive(name: str, value: object) -> bytes:
    """A ThriftFactPrimitiveValue union holding ``value`` as field ``name``'s type."""
    fid, kind = PRIMITIVE[name]
    if kind == 1:  # bool: the type nibble carries the value (1 true, 2 false)
        return field(fid, 1 if value else 2) + bytes([STOP])
    if kind == 8:
        body = string(str(value))
    elif kind == 7:
        body = struct.pack("<d", value)
    else:
        body = zigzag(int(value))
    return field(fid, kind) + body + bytes([STOP])


def fact(entity: str, attribute: str, fields: list[tuple[str, object]], when: str) -> bytes:
    """ThriftFact{1 entity, 2 attribute, 3 value: ThriftFactValue{2 strct:
    ThriftFactStruct{1 v: map<string, ThriftFactPrimitiveValue>}}, 4 datetime}."""
    entries = b"".join(string(k) + primitive(k, v) for k, v in fields)
    mapping = varint(len(fields)) + bytes([(STRING << 4) | STRUCT]) + entries
    value = field(2, STRUCT) + field(1, MAP) + mapping + bytes([STOP]) + bytes([STOP])
    return (field(1, STRING) + string(entity) + field(1, STRING) + string(attribute)
            + field(1, STRUCT) + value + field(1, STRING) + string(when) + bytes([STOP]))


def sequence_file(values: list[bytes]) -> bytes:
    """SequenceFile v6 bytes: header, then one record per value (no sync escapes: the file
    is far below the 2,000-byte sync interval)."""
    def text(s: str) -> bytes:
        return varint(len(s)) + s.encode()
    sync = b"ivory-thrift-sq!"
    out = (b"SEQ\x06" + text("org.apache.hadoop.io.NullWritable")
           + text("org.apache.hadoop.io.BytesWritable") + b"\x00\x00"
           + struct.pack(">i", 0) + sync)
    for value in values:
        out += struct.pack(">iii", len(value) + 4, 0, len(value)) + value
    return out


def main() -> None:
    here = pathlib.Path(__file__).resolve().parent
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else (
        here / "input" / "facts" / "halibut" / "out-m-00000")
    target.write_bytes(sequence_file([fact(*f) for f in FACTS]))


if __name__ == "__main__":
    main()
