"""Thrift facts and extract rows (``ingest.thrift``, §5.5, §9.4) to and from ivory values.

Pure code: compact-protocol bytes <-> generated ``ttypes`` <-> the value model of
:mod:`ivory.values` (``dict`` for structs, ``list`` for lists, :data:`TOMBSTONE`).
"""

from __future__ import annotations

import datetime
import json
import math

from thrift.protocol.TCompactProtocol import TCompactProtocolFactory
from thrift.TSerialization import deserialize, serialize

from ivory.encoding import Encoding, ListEncoding, PrimitiveEncoding, StructEncoding
from ivory.javanum import render_double
from ivory.thrift.gen.ingest.ttypes import (
    ThriftFact,
    ThriftFactDense,
    ThriftFactList,
    ThriftFactListValue,
    ThriftFactPrimitiveValue,
    ThriftFactSparse,
    ThriftFactStruct,
    ThriftFactValue,
    ThriftTombstone,
)
from ivory.values import TOMBSTONE, json_key_order, render_json_string, render_primitive

__all__ = ["ThriftFact", "ThriftFactDense", "ThriftFactSparse", "decode", "encode",
           "fact_fields", "from_thrift", "render_thrift", "to_thrift"]

_COMPACT = TCompactProtocolFactory()


def encode(struct: object) -> bytes:
    """Compact-protocol bytes of a generated Thrift struct."""
    return serialize(struct, _COMPACT)


def decode(kind: type, data: bytes) -> object:
    """A ``kind`` (e.g. :class:`ThriftFact`) decoded from compact-protocol bytes.

    Raises:
        Exception: the Thrift library's errors for bytes that are not such a struct.
    """
    return deserialize(kind(), bytes(data), _COMPACT)


def _primitive(encoding: PrimitiveEncoding | None, value: object) -> ThriftFactPrimitiveValue:
    if isinstance(value, bool):
        return ThriftFactPrimitiveValue(b=value)
    if isinstance(value, datetime.date):
        return ThriftFactPrimitiveValue(date=render_primitive(value))
    if isinstance(value, float) or encoding is PrimitiveEncoding.DOUBLE:
        return ThriftFactPrimitiveValue(d=float(value))  # type: ignore[arg-type]
    if isinstance(value, int):
        if encoding is PrimitiveEncoding.INT:
            return ThriftFactPrimitiveValue(i=value)
        return ThriftFactPrimitiveValue(l=value)
    return ThriftFactPrimitiveValue(s=str(value))


def _struct(encoding: StructEncoding | None, value: dict,
            map_values: PrimitiveEncoding | None = None) -> ThriftFactStruct:
    def field_encoding(name: str) -> PrimitiveEncoding | None:
        field = encoding.field(name) if encoding is not None else None
        return field.encoding if field is not None else map_values

    return ThriftFactStruct(v={k: _primitive(field_encoding(k), v) for k, v in value.items()})


def to_thrift(encoding: Encoding | None, value: object,
              map_values: PrimitiveEncoding | None = None) -> ThriftFactValue:
    """A value (:mod:`ivory.values` model) as a ``ThriftFactValue`` (§9.4); ``encoding``
    picks ``i32`` vs ``i64`` and double for integral numbers (None: by Python type).
    ``map_values`` types the values of struct keys the encoding does not declare (the maps
    reductions return, §8.4)."""
    if value is TOMBSTONE:
        return ThriftFactValue(tombstone=ThriftTombstone())
    if isinstance(value, dict):
        struct = encoding if isinstance(encoding, StructEncoding) else None
        return ThriftFactValue(strct=_struct(struct, value, map_values))
    if isinstance(value, list):
        element = encoding.element if isinstance(encoding, ListEncoding) else None
        items = [ThriftFactListValue(s=_struct(
                    element if isinstance(element, StructEncoding) else None, item))
                 if isinstance(item, dict) else ThriftFactListValue(p=_primitive(
                    element if isinstance(element, PrimitiveEncoding) else None, item))
                 for item in value]
        return ThriftFactValue(lst=ThriftFactList(l=items))
    prim = encoding if isinstance(encoding, PrimitiveEncoding) else None
    return ThriftFactValue(primitive=_primitive(prim, value))


def _from_primitive(p: ThriftFactPrimitiveValue) -> object:
    for name in ("s", "i", "l", "d", "b"):
        item = getattr(p, name)
        if item is not None:
            return item
    if p.date is not None:
        return p.date  # kept as text: the reader decides whether it is a valid date
    raise ValueError("empty ThriftFactPrimitiveValue")


def from_thrift(value: ThriftFactValue) -> object:
    """A ``ThriftFactValue`` as a value: tombstone, primitive (dates as their text), struct
    ``dict`` in wire order, or ``list``.

    Raises:
        ValueError: an empty union.
    """
    if value.tombstone is not None:
        return TOMBSTONE
    if value.primitive is not None:
        return _from_primitive(value.primitive)
    if value.strct is not None:
        return {k: _from_primitive(v) for k, v in (value.strct.v or {}).items()}
    if value.lst is not None:
        return [_from_primitive(item.p) if item.p is not None
                else {k: _from_primitive(v) for k, v in (item.s.v or {}).items()}
                for item in (value.lst.l or [])]
    raise ValueError("empty ThriftFactValue")


def _json_scalar(value: object, is_date: bool) -> str:
    if isinstance(value, str):
        return render_json_string(value)
    if isinstance(value, float):
        return render_double(value) if math.isfinite(value) else "null"
    return render_primitive(value)


def _json_struct(value: dict, context: str) -> str:
    keys = json_key_order(list(value), context)
    return "{" + ",".join(render_json_string(k) + ":" + _json_scalar(value[k], False)
                          for k in keys) + "}"


def render_thrift(value: ThriftFactValue, missing: str = "NA",
                  context: str = "cat-thrift") -> str:
    """A ``ThriftFactValue`` as text (§4.3, §4.4): primitives plain, structs and lists as
    JSON with the key order of ``context`` (§4.5 rule 4 for ``cat-thrift``)."""
    decoded = from_thrift(value)
    if decoded is TOMBSTONE:
        return missing
    if isinstance(decoded, dict):
        return _json_struct(decoded, context)
    if isinstance(decoded, list):
        return "[" + ",".join(_json_struct(item, context) if isinstance(item, dict)
                              else _json_scalar(item, False) for item in decoded) + "]"
    if isinstance(decoded, float):
        return render_double(decoded)
    return render_primitive(decoded)


def raw_text(value: ThriftFactValue) -> tuple[str, bool]:
    """The text a ``ThriftFactValue`` stands for in a text fact line, and whether it is a
    tombstone: primitives as §4.3 text, structs and lists as compact JSON (§4.2), so that
    Thrift facts take the text parser's checks and messages (§5.5)."""
    decoded = from_thrift(value)
    if decoded is TOMBSTONE:
        return "", True
    if isinstance(decoded, dict | list):
        return json.dumps(decoded, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=True), False
    if isinstance(decoded, float):
        return render_double(decoded), False
    return render_primitive(decoded), False


def fact_fields(data: bytes) -> tuple[list[str], bool]:
    """A compact-protocol ``ThriftFact`` as the four text fields ``entity``, ``attribute``,
    ``value``, ``datetime`` of a fact line and its tombstone flag (§5.5).

    Raises:
        Exception: the bytes are not a ``ThriftFact`` (Thrift's errors), or the value
            union is empty (ValueError).
    """
    fact = decode(ThriftFact, data)
    raw, tombstone = raw_text(fact.value) if fact.value is not None else ("", False)
    return [fact.entity or "", fact.attribute or "", raw, fact.datetime or ""], tombstone
