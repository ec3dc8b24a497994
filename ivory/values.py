"""Parsing raw text into values and rendering values as text (§4).

Values are plain Python objects:

* ``boolean`` -> ``bool``; ``int``/``long`` -> ``int``; ``double`` -> ``float`` (finite
  once parsed); ``string`` -> ``str``; ``date`` -> ``datetime.date``;
* a struct -> ``dict`` ``{field name: primitive value}`` holding only the fields that
  are present, in declaration order;
* a list -> ``list`` of primitives or of struct dicts;
* the tombstone -> :data:`TOMBSTONE`.

Pure logic, no Spark and no I/O. This is the reference implementation the Spark code
is tested against.
"""

from __future__ import annotations

import datetime
import enum
import json
import math
from collections.abc import Sequence

from ivory.encoding import Encoding, ListEncoding, PrimitiveEncoding, StructEncoding
from ivory.errors import ValueParseError
from ivory.escaping import escape_text, unescape_text
from ivory.javanum import parse_java_double, parse_java_int, parse_java_long, render_double
from ivory.keyorder import json_key_order

__all__ = [
    "MAX_DATE",
    "MIN_DATE",
    "TOMBSTONE",
    "Tombstone",
    "escape_text",
    "json_key_order",
    "parse_date",
    "parse_primitive",
    "parse_value",
    "render_double",
    "render_json_string",
    "render_primitive",
    "render_value",
    "unescape_text",
]

MIN_DATE = datetime.date(1600, 3, 1)
"""Earliest valid date (§4.2, §5.3)."""
MAX_DATE = datetime.date(3000, 12, 31)
"""Latest valid date (§4.2, §5.3)."""


class Tombstone(enum.Enum):
    """Type of the tombstone sentinel (§4.1); its only member is :data:`TOMBSTONE`.

    An enum member is a true singleton, also across ``pickle`` and ``copy`` (Spark ships
    values between processes), so ``value is TOMBSTONE`` is always the right test.
    """

    TOMBSTONE = "TOMBSTONE"

    def __repr__(self) -> str:
        return "TOMBSTONE"

    def __str__(self) -> str:
        return "TOMBSTONE"


TOMBSTONE = Tombstone.TOMBSTONE
"""The "deleted" value (§4.1). Printed as the output's missing string (§4.3)."""

_PRIMITIVE_ERRORS = {
    PrimitiveEncoding.BOOLEAN: "is not a boolean",
    PrimitiveEncoding.INT: "is not an integer",
    PrimitiveEncoding.LONG: "is not a long",
    PrimitiveEncoding.DOUBLE: "is not a double",
    PrimitiveEncoding.STRING: "is not a string",
    PrimitiveEncoding.DATE: "is not a date",
}


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_date(raw: str) -> datetime.date | None:
    """Parse a ``yyyy-MM-dd`` date (§4.2).

    Exactly 10 characters, ``-`` at positions 4 and 7, ASCII digits elsewhere, a valid
    Gregorian date within :data:`MIN_DATE`..:data:`MAX_DATE`. (Upstream parsed the parts
    with ``toShort``/``toByte``, which would also take ``+1`` or non-ASCII digits as a
    month; the spec says "exactly ``yyyy-MM-dd``", so those are rejected here.)

    Args:
        raw: Raw text.

    Returns:
        The date, or None if invalid.
    """
    if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
        return None
    y, m, d = raw[0:4], raw[5:7], raw[8:10]
    if not (_is_ascii_digits(y) and _is_ascii_digits(m) and _is_ascii_digits(d)):
        return None
    try:
        value = datetime.date(int(y), int(m), int(d))
    except ValueError:
        return None
    if value < MIN_DATE or value > MAX_DATE:
        return None
    return value


def parse_primitive(
    encoding: PrimitiveEncoding, raw: str
) -> bool | int | float | str | datetime.date:
    """Parse raw text with Java semantics (§4.2).

    * boolean: ``true``/``false``, case-insensitive;
    * int/long: ``Integer.parseInt``/``Long.parseLong`` (optional sign, ASCII digits,
      range checked), see :func:`ivory.javanum.parse_java_int`;
    * double: ``Double.parseDouble``, finite results only, see
      :func:`ivory.javanum.parse_java_double`;
    * date: :func:`parse_date`;
    * string: verbatim (may be empty).

    Args:
        encoding: The primitive encoding.
        raw: Raw text (no tombstone check here; see :func:`parse_value`).

    Returns:
        The parsed value (``bool``, ``int``, ``float``, ``str`` or ``datetime.date``).

    Raises:
        ValueParseError: ``Value '<raw>' is not a boolean`` (``an integer``, ``a long``,
            ``a double``, ``a date``).
    """
    result: object
    if encoding is PrimitiveEncoding.STRING:
        return raw
    if encoding is PrimitiveEncoding.BOOLEAN:
        lowered = raw.lower()
        result = True if lowered == "true" else False if lowered == "false" else None
    elif encoding is PrimitiveEncoding.INT:
        result = parse_java_int(raw)
    elif encoding is PrimitiveEncoding.LONG:
        result = parse_java_long(raw)
    elif encoding is PrimitiveEncoding.DOUBLE:
        result = parse_java_double(raw)
    elif encoding is PrimitiveEncoding.DATE:
        result = parse_date(raw)
    else:  # pragma: no cover - exhaustive
        raise TypeError(f"Not a primitive encoding: {encoding!r}")
    if result is None:
        raise ValueParseError(f"Value '{raw}' {_PRIMITIVE_ERRORS[encoding]}")
    return result  # type: ignore[return-value]


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _json_primitive(encoding: PrimitiveEncoding, value: object, where: str) -> object:
    """Convert one decoded JSON value to a primitive of ``encoding`` (§4.2)."""
    ok: object = None
    if encoding is PrimitiveEncoding.BOOLEAN:
        ok = value if isinstance(value, bool) else None
    elif encoding is PrimitiveEncoding.STRING:
        ok = value if isinstance(value, str) else None
    elif encoding is PrimitiveEncoding.DATE:
        ok = parse_date(value) if isinstance(value, str) else None
    elif isinstance(value, bool):
        ok = None
    elif encoding is PrimitiveEncoding.INT:
        ok = value if isinstance(value, int) and -(2**31) <= value < 2**31 else None
    elif encoding is PrimitiveEncoding.LONG:
        ok = value if isinstance(value, int) and -(2**63) <= value < 2**63 else None
    elif encoding is PrimitiveEncoding.DOUBLE and isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        ok = number if math.isfinite(number) else None
    if ok is None:
        raise ValueParseError(f"{where} {_PRIMITIVE_ERRORS[encoding]}")
    return ok


def _json_struct(encoding: StructEncoding, value: object, raw: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise ValueParseError(f"{where} is not a JSON object")
    result: dict[str, object] = {}
    for field in encoding.fields:
        item = value.get(field.name)
        if item is None:  # absent, or JSON null: treated alike
            if field.optional:
                continue
            raise ValueParseError(f"Mandatory field '{field.name}' not found in '{raw}'")
        result[field.name] = _json_primitive(
            field.encoding, item, f"Field '{field.name}' in '{raw}'"
        )
    return result


def parse_value(encoding: Encoding, raw: str, tombstones: Sequence[str] = ()) -> object:
    """Parse the raw text of a fact value (§4.1, §4.2).

    Order: a raw value equal to one of ``tombstones`` is :data:`TOMBSTONE` whatever the
    encoding; then primitives by :func:`parse_primitive`; structs and lists must be JSON:

    * JSON ``null`` is :data:`TOMBSTONE`;
    * struct: a JSON object; each mandatory field must be present and not ``null``,
      optional fields may be absent or ``null``, extra keys are ignored. Field values:
      JSON booleans, JSON strings (dates as ``"yyyy-MM-dd"``), JSON integers for
      ``int``/``long`` (range checked), any JSON number for ``double`` (an integer
      literal becomes a float; the result must be finite);
    * list: a JSON array of such primitives or objects, order kept.

    Args:
        encoding: The feature's encoding.
        raw: Raw text of the value field.
        tombstones: The feature's tombstone strings.

    Returns:
        :data:`TOMBSTONE`, a primitive, a struct ``dict`` or a ``list``.

    Raises:
        ValueParseError: The primitive messages of :func:`parse_primitive`;
            ``Value '<raw>' is not valid JSON``; ``Value '<raw>' is not a JSON object``
            / ``... array``; ``Mandatory field '<k>' not found in '<raw>'``;
            ``Field '<k>' in '<raw>' is not an integer`` (etc.) for a mistyped field;
            ``Element <i> of '<raw>' is not a double`` (etc., 0-based ``i``) for a
            mistyped list element.
    """
    if raw in tombstones:
        return TOMBSTONE
    if isinstance(encoding, PrimitiveEncoding):
        return parse_primitive(encoding, raw)
    try:
        decoded = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ValueParseError(f"Value '{raw}' is not valid JSON") from None
    if decoded is None:
        return TOMBSTONE
    if isinstance(encoding, StructEncoding):
        return _json_struct(encoding, decoded, raw, f"Value '{raw}'")
    if not isinstance(decoded, list):
        raise ValueParseError(f"Value '{raw}' is not a JSON array")
    element = encoding.element
    if isinstance(element, StructEncoding):
        return [
            _json_struct(element, item, raw, f"Element {i} of '{raw}'")
            for i, item in enumerate(decoded)
        ]
    return [
        _json_primitive(element, item, f"Element {i} of '{raw}'") for i, item in enumerate(decoded)
    ]


# --- rendering ------------------------------------------------------------------------

_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_JSON_TABLE = {
    **{c: f"\\u{c:04x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]},
    **{ord(k): v for k, v in _JSON_ESCAPES.items()},
}


def render_json_string(text: str) -> str:
    """A JSON string literal with the escaping of §4.4.

    ``"`` -> ``\\"``, ``\\`` -> ``\\\\``, ``\\b \\f \\n \\r \\t``, other U+0000-U+001F and
    U+007F-U+009F as ``\\u00xx`` (lower-case hex); ``/`` and non-ASCII are not escaped.

    Args:
        text: Any string.

    Returns:
        The quoted literal, e.g. ``"a\\"b"``.
    """
    return '"' + text.translate(_JSON_TABLE) + '"'


def render_primitive(value: object) -> str:
    """Render a primitive as plain text (§4.3), by its Python type.

    ``true``/``false``; integers in decimal; doubles by :func:`render_double`; dates as
    ``yyyy-MM-dd``; strings as is.

    Args:
        value: ``bool``, ``int``, ``float``, ``datetime.date`` or ``str``.

    Returns:
        The text.

    Raises:
        TypeError: ``value`` is not a primitive.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return render_double(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    raise TypeError(f"Not a primitive value: {value!r}")


def _render_scalar(encoding: PrimitiveEncoding | None, value: object) -> str:
    if encoding is PrimitiveEncoding.DOUBLE and not isinstance(value, bool):
        return render_double(float(value))  # type: ignore[arg-type]
    return render_primitive(value)


def _json_scalar(encoding: PrimitiveEncoding | None, value: object) -> str:
    if isinstance(value, str):
        return render_json_string(value)
    if isinstance(value, datetime.date):
        return '"' + render_primitive(value) + '"'
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return _render_scalar(encoding, value)


def _struct_keys(encoding: StructEncoding | None, value: dict, context: str) -> list[str]:
    if encoding is None:
        ordered = list(value)
    else:
        declared = [f.name for f in encoding.fields if f.name in value]
        ordered = declared + [k for k in value if encoding.field(k) is None]
    return json_key_order(ordered, context)


def _field_encoding(encoding: StructEncoding | None, name: str) -> PrimitiveEncoding | None:
    field = encoding.field(name) if encoding is not None else None
    return field.encoding if field is not None else None


def _render_struct(
    encoding: StructEncoding | None, value: dict, text_format: str, context: str
) -> str:
    keys = _struct_keys(encoding, value, context)
    if text_format == "json":
        parts = (
            render_json_string(k) + ":" + _json_scalar(_field_encoding(encoding, k), value[k])
            for k in keys
        )
        return "{" + ",".join(parts) + "}"
    parts = (k + ":" + _render_scalar(_field_encoding(encoding, k), value[k]) for k in keys)
    return "(" + ",".join(parts) + ")"


def render_value(
    encoding: Encoding,
    value: object,
    missing: str = "NA",
    text_format: str = "json",
    *,
    context: str = "stored",
) -> str:
    """Render a value as text (§4.3, §4.4).

    * :data:`TOMBSTONE` -> ``missing``;
    * primitives -> §4.3 (doubles via :func:`render_double`, so ``NaN``/``Infinity``
      print as such at the top level);
    * ``text_format="json"``: structs and lists as compact JSON -- numbers per §4.3 but
      a non-finite double becomes ``null``, dates as JSON strings, strings escaped by
      :func:`render_json_string`; struct keys in the order of :func:`json_key_order`
      (``context``), fed with the declared field order;
    * ``text_format="deprecated"``: structs as ``(k:v,k2:v2)`` and lists as
      ``[v1,v2]``, nothing quoted or escaped (§4.4).

    Args:
        encoding: The value's encoding.
        value: A value as produced by :func:`parse_value`.
        missing: Text for a tombstone (``--missing-value``, default ``NA``).
        text_format: ``"json"`` or ``"deprecated"``.
        context: Key-order context of §4.5: ``"stored"``, ``"reduction"`` or
            ``"cat-thrift"``.

    Returns:
        The text (not escaped for delimited output; see :func:`escape_text`).

    Raises:
        ValueError: Unknown ``text_format`` or ``context``.
        TypeError: ``value`` does not fit ``encoding``.
    """
    if text_format not in ("json", "deprecated"):
        raise ValueError(f"Unknown text format '{text_format}', expected json or deprecated")
    if value is TOMBSTONE:
        return missing
    if isinstance(encoding, PrimitiveEncoding):
        return _render_scalar(encoding, value)
    if isinstance(encoding, StructEncoding):
        if not isinstance(value, dict):
            raise TypeError(f"Not a struct value: {value!r}")
        return _render_struct(encoding, value, text_format, context)
    if not isinstance(value, list):
        raise TypeError(f"Not a list value: {value!r}")
    element = encoding.element if isinstance(encoding, ListEncoding) else None
    items: list[str] = []
    for item in value:
        if isinstance(item, dict):
            struct = element if isinstance(element, StructEncoding) else None
            items.append(_render_struct(struct, item, text_format, context))
        else:
            prim = element if isinstance(element, PrimitiveEncoding) else None
            scalar = _json_scalar if text_format == "json" else _render_scalar
            items.append(scalar(prim, item))
    return "[" + ",".join(items) + "]"


# --- stored columns ---------------------------------------------------------------------

_PRIMITIVE_COLUMN_NAMES = ("boolean_value", "int_value", "long_value", "double_value",
                           "string_value", "date_value")


def _primitive_column(value: object, encoding: PrimitiveEncoding | None = None) -> str:
    if encoding is not None:
        return f"{encoding.value}_value"
    if isinstance(value, bool):
        return "boolean_value"
    if isinstance(value, int):
        return "long_value"
    if isinstance(value, float):
        return "double_value"
    if isinstance(value, str):
        return "string_value"
    if isinstance(value, datetime.date):
        return "date_value"
    raise TypeError(f"Not a primitive value: {value!r}")


def _record(value: object, encoding: PrimitiveEncoding | None) -> dict[str, object]:
    out: dict[str, object] = dict.fromkeys(_PRIMITIVE_COLUMN_NAMES)
    out[_primitive_column(value, encoding)] = value
    return out


def _struct_record(encoding: StructEncoding, value: dict) -> list[dict[str, object]]:
    return [{"name": f.name, **_record(value[f.name], f.encoding)}
            for f in encoding.fields if f.name in value]


def to_columns(encoding: Encoding, value: object) -> dict[str, object]:
    """The stored value columns of a fact (:mod:`ivory.schema`): ``tombstone`` plus every
    value column, the one of ``encoding`` set (struct fields in declaration order).

    Raises:
        KeyError / TypeError: ``value`` does not fit ``encoding``.
    """
    out: dict[str, object] = {"tombstone": value is TOMBSTONE,
                              **dict.fromkeys(_PRIMITIVE_COLUMN_NAMES),
                              "struct_value": None, "list_value": None}
    if value is TOMBSTONE:
        return out
    if isinstance(encoding, PrimitiveEncoding):
        out[_primitive_column(value, encoding)] = value
    elif isinstance(encoding, StructEncoding):
        out["struct_value"] = _struct_record(encoding, value)  # type: ignore[arg-type]
    else:
        element = encoding.element
        out["list_value"] = [
            {**dict.fromkeys(_PRIMITIVE_COLUMN_NAMES),
             "struct_value": _struct_record(element, item)}  # type: ignore[arg-type]
            if isinstance(element, StructEncoding)
            else {**_record(item, element), "struct_value": None}
            for item in value  # type: ignore[attr-defined]
        ]
    return out


def _from_record(record: object) -> object:
    for column in _PRIMITIVE_COLUMN_NAMES:
        item = record[column]  # type: ignore[index]
        if item is not None:
            return item
    return None


def from_columns(row: object) -> object:
    """The value of a stored fact row (a dict, a pyarrow row or a Spark ``Row`` with the
    value columns of :mod:`ivory.schema`): :data:`TOMBSTONE`, a primitive, a struct ``dict``
    in stored (declaration) order or a ``list``; None when no value column is set."""
    get = row.get if isinstance(row, dict) else row.__getitem__  # type: ignore[attr-defined]
    if get("tombstone"):
        return TOMBSTONE
    fields = get("struct_value") if _has(row, "struct_value") else None
    if fields is not None:
        return {f["name"]: _from_record(f) for f in fields}
    items = get("list_value") if _has(row, "list_value") else None
    if items is not None:
        return [{f["name"]: _from_record(f) for f in item["struct_value"]}
                if item["struct_value"] is not None else _from_record(item) for item in items]
    return _from_record(row)


def stored_value(row: dict, column: str | None) -> object:
    """The reference value (:mod:`ivory.reductions`) of a stored fact row: the ``column`` of
    a primitive encoding; for a struct or list encoding (``column`` None) the
    ``struct_value`` / ``list_value`` array as a ``dict`` (declaration order) / ``list``."""
    if row["tombstone"]:
        return TOMBSTONE
    return row[column] if column is not None else from_columns(row)


def _has(row: object, column: str) -> bool:
    if isinstance(row, dict):
        return column in row
    fields = getattr(row, "__fields__", None)
    return fields is None or column in fields


def render_stored(row: object, missing: str = "NA") -> str:
    """Render a stored fact row's value as text (§4.3, §4.4 json, §4.5 key order of stored
    values) without its encoding: the value column that is set gives the type, and struct
    fields are stored in declaration order."""
    value = from_columns(row)
    if value is TOMBSTONE or value is None:
        return missing
    if isinstance(value, dict):
        return _render_struct(None, value, "json", "stored")
    if isinstance(value, list):
        return render_value(ListEncoding(PrimitiveEncoding.STRING), value, missing)
    return render_primitive(value)
