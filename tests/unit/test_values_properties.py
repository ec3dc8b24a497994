"""Property tests (hypothesis): for every encoding, primitives, structs and lists alike,
``parse_value(render_value(x)) == x`` with the pure-Python parser and renderer (§4.2-§4.5)."""

from __future__ import annotations

import datetime
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ivory.dictionary import canonical_struct
from ivory.encoding import ListEncoding, PrimitiveEncoding, StructEncoding, StructField
from ivory.values import MAX_DATE, MIN_DATE, TOMBSTONE, parse_value, render_value

_PRIMITIVES = {
    PrimitiveEncoding.BOOLEAN: st.booleans(),
    PrimitiveEncoding.INT: st.integers(-(2**31), 2**31 - 1),
    PrimitiveEncoding.LONG: st.integers(-(2**63), 2**63 - 1),
    PrimitiveEncoding.DOUBLE: st.floats(allow_nan=False, allow_infinity=False),
    PrimitiveEncoding.STRING: st.text(),
    PrimitiveEncoding.DATE: st.dates(MIN_DATE, MAX_DATE),
}
_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@st.composite
def _struct(draw: st.DrawFn) -> StructEncoding:
    names = draw(st.lists(_NAMES, min_size=1, max_size=7, unique=True))
    return canonical_struct(StructField(n, draw(st.sampled_from(list(_PRIMITIVES))),
                                        draw(st.booleans())) for n in names)


def _struct_value(encoding: StructEncoding) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {f.name: _PRIMITIVES[f.encoding] for f in encoding.fields if not f.optional},
        optional={f.name: _PRIMITIVES[f.encoding] for f in encoding.fields if f.optional})


@st.composite
def _encoded_value(draw: st.DrawFn) -> tuple[object, object]:
    kind = draw(st.sampled_from(["primitive", "struct", "list", "list-of-struct"]))
    if kind == "primitive":
        encoding = draw(st.sampled_from(list(_PRIMITIVES)))
        return encoding, draw(_PRIMITIVES[encoding])
    if kind == "struct":
        encoding = draw(_struct())
        return encoding, draw(_struct_value(encoding))
    if kind == "list":
        element = draw(st.sampled_from(list(_PRIMITIVES)))
        return ListEncoding(element), draw(st.lists(_PRIMITIVES[element], max_size=4))
    element = draw(_struct())
    return ListEncoding(element), draw(st.lists(_struct_value(element), max_size=3))


def _exact(value: object) -> object:
    """Floats by their text (so -0.0 and 0.0 differ), structs as plain dicts."""
    if isinstance(value, float):
        assert math.isfinite(value)
        return repr(value)
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


@settings(max_examples=400, deadline=None)
@given(_encoded_value())
def test_parse_of_render_is_identity_sec_4_2_4_4(encoded: tuple[object, object]) -> None:
    """§4.2/§4.3/§4.4: the rendered text of any value parses back to the same value
    (doubles exactly, dates, strings with any character, structs in §4.5 key order)."""
    encoding, value = encoded
    text = render_value(encoding, value)  # type: ignore[arg-type]
    assert _exact(parse_value(encoding, text)) == _exact(value)  # type: ignore[arg-type]


@given(_encoded_value())
def test_null_json_and_tombstone_strings_are_tombstones_sec_4_1(
        encoded: tuple[object, object]) -> None:
    """§4.1/§4.2: a raw value equal to a tombstone string, and JSON ``null`` for structs and
    lists, is the tombstone; the tombstone renders as the missing string."""
    encoding, value = encoded
    text = render_value(encoding, value)  # type: ignore[arg-type]
    assert parse_value(encoding, text, (text,)) is TOMBSTONE  # type: ignore[arg-type]
    assert render_value(encoding, TOMBSTONE, missing="-") == "-"  # type: ignore[arg-type]
    if not isinstance(encoding, PrimitiveEncoding):
        assert parse_value(encoding, "null") is TOMBSTONE


def test_dates_outside_the_range_do_not_round_trip() -> None:
    """The range check of §4.2 applies to rendered dates too."""
    encoding = PrimitiveEncoding.DATE
    assert render_value(encoding, datetime.date(1600, 2, 29)) == "1600-02-29"
    try:
        parse_value(encoding, "1600-02-29")
    except ValueError as e:
        assert "is not a date" in str(e)
    else:
        raise AssertionError("1600-02-29 parsed")
