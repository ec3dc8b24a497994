"""Unit tests of ivory.values, ivory.javanum and ivory.keyorder (§4, §5.2, §9.2)."""

from __future__ import annotations

import copy
import datetime
import math
import pickle
import re
import struct
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivory.encoding import ListEncoding, PrimitiveEncoding, StructEncoding, StructField
from ivory.errors import ValueParseError
from ivory.javanum import java_trim
from ivory.keyorder import java_string_hash
from ivory.values import (
    MAX_DATE,
    MIN_DATE,
    TOMBSTONE,
    escape_text,
    json_key_order,
    parse_primitive,
    parse_value,
    render_double,
    render_json_string,
    render_value,
    stored_value,
    to_columns,
    unescape_text,
)

B = PrimitiveEncoding.BOOLEAN
I = PrimitiveEncoding.INT  # noqa: E741
L = PrimitiveEncoding.LONG
D = PrimitiveEncoding.DOUBLE
S = PrimitiveEncoding.STRING
DT = PrimitiveEncoding.DATE

MIN_VALUE = 5e-324
JAVA_PLAIN = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+")
JAVA_SCI = re.compile(r"-?[1-9]\.[0-9]+E-?[1-9][0-9]*")


def fish() -> StructEncoding:
    return StructEncoding((StructField("common_name", S), StructField("size", D, optional=True)))


def every_type() -> StructEncoding:
    return StructEncoding(
        (
            StructField("b", B, optional=True),
            StructField("i", I, optional=True),
            StructField("l", L, optional=True),
            StructField("d", D, optional=True),
            StructField("s", S, optional=True),
            StructField("t", DT, optional=True),
        )
    )


# --- §4.1 tombstone -------------------------------------------------------------------


def test_tombstone_sentinel_is_a_singleton_with_a_readable_repr_4_1() -> None:
    assert repr(TOMBSTONE) == "TOMBSTONE"
    assert pickle.loads(pickle.dumps(TOMBSTONE)) is TOMBSTONE
    assert copy.deepcopy(TOMBSTONE) is TOMBSTONE
    assert copy.copy([TOMBSTONE])[0] is TOMBSTONE


@pytest.mark.parametrize(
    "encoding",
    [B, I, L, D, S, DT, fish(), ListEncoding(S), ListEncoding(fish())],
)
def test_tombstone_string_checked_before_parsing_for_every_encoding_4_1(encoding) -> None:
    assert parse_value(encoding, "NA", ("NA",)) is TOMBSTONE
    assert parse_value(encoding, "", ("", "T")) is TOMBSTONE
    assert parse_value(encoding, "T", ("", "T")) is TOMBSTONE


def test_tombstone_wins_over_a_valid_value_4_1() -> None:
    assert parse_value(B, "true", ("true",)) is TOMBSTONE
    assert parse_value(B, "TRUE", ("true",)) is True  # exact match only
    assert parse_value(S, "NA") == "NA"  # no tombstone declared


# --- §4.2 booleans --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), ("TRUE", True), ("False", False), ("tRuE", True)],
)
def test_boolean_is_case_insensitive_4_2(raw: str, expected: bool) -> None:
    assert parse_primitive(B, raw) is expected


@pytest.mark.parametrize("raw", ["", "yes", "1", "0", " true", "true ", "t", "truee", "ｔrue"])
def test_boolean_rejects_anything_else_4_2(raw: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_primitive(B, raw)
    assert str(info.value) == f"Value '{raw}' is not a boolean"


# --- §4.2 int / long ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("-0", 0),
        ("+5", 5),
        ("-5", -5),
        ("007", 7),
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
        ("+2147483647", 2147483647),
    ],
)
def test_int_accepts_java_parse_int_4_2(raw: str, expected: int) -> None:
    assert parse_primitive(I, raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "+",
        "-",
        " 12",
        "12 ",
        "1_000",
        "2147483648",
        "-2147483649",
        "1.0",
        "1e3",
        "0x10",
        "١٢",  # Arabic-Indic digits: ASCII only (§4.2)
        "１２",  # fullwidth digits
        "+-1",
        "--1",
        "1,000",
    ],
)
def test_int_rejects_non_java_or_out_of_range_4_2(raw: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_primitive(I, raw)
    assert str(info.value) == f"Value '{raw}' is not an integer"


def test_long_range_is_64_bits_4_2() -> None:
    assert parse_primitive(L, "2147483648") == 2147483648
    assert parse_primitive(L, "9223372036854775807") == 2**63 - 1
    assert parse_primitive(L, "-9223372036854775808") == -(2**63)
    for raw in ["9223372036854775808", "-9223372036854775809", " 1", "1_0", "1L"]:
        with pytest.raises(ValueParseError) as info:
            parse_primitive(L, raw)
        assert str(info.value) == f"Value '{raw}' is not a long"


# --- §4.2 doubles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1.0),
        ("2", 2.0),
        (" 12 ", 12.0),
        ("\t1.5\r\n", 1.5),
        ("\x001\x1f", 1.0),  # Java trim removes every char <= U+0020
        ("1.", 1.0),
        (".5", 0.5),
        ("+.5", 0.5),
        ("-.5", -0.5),
        ("1.e2", 100.0),
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("1e+3", 1000.0),
        ("1e0005", 100000.0),
        ("1.5d", 1.5),
        ("1.5D", 1.5),
        ("2f", 2.0),
        ("2F", 2.0),
        ("1e3d", 1000.0),
        ("+5", 5.0),
        ("0x1p3", 8.0),
        ("0x1.8p1", 3.0),
        ("0X.8P1", 1.0),
        ("-0x1p-2", -0.25),
        ("0x1.p1", 2.0),
        ("0x1p3d", 8.0),
        ("0x1.fffffffffffffp1023", 1.7976931348623157e308),
        ("1e-400", 0.0),  # underflow is zero in Java
        ("4.9E-324", MIN_VALUE),
        ("0.36182843787152693", 0.3618284378715269),
        ("1.7976931348623157E308", 1.7976931348623157e308),
    ],
)
def test_double_accepts_java_parse_double_4_2(raw: str, expected: float) -> None:
    value = parse_primitive(D, raw)
    assert isinstance(value, float)
    assert value == expected


def test_double_negative_zero_keeps_its_sign_4_2() -> None:
    assert math.copysign(1.0, parse_primitive(D, "-0")) == -1.0
    assert math.copysign(1.0, parse_primitive(D, "-0.0e5")) == -1.0


@pytest.mark.parametrize(
    "raw",
    [
        "NaN",
        "-NaN",
        "+NaN",
        "Infinity",
        "-Infinity",
        "+Infinity",
        "inf",
        "-inf",
        "nan",
        "infinity",
        "INF",
        "1e400",  # Java parses to Infinity: rejected
        "-1e400",
        "0x1p1024",
        "0x1p99999999999",
        "1_000",
        "1_000.5",
        "",
        " ",
        ".",
        "e5",
        "1e",
        "1e+",
        "1e-",
        "0x1",  # hex needs the binary exponent
        "0x1.8",
        "0x",
        "0xp1",
        "1.5dd",
        "1d5",
        "1 5",
        "1,5",
        "--1",
        "+-1",
        "\u00a01",  # NBSP is not trimmed by Java
        "1\u2003",
        "１",  # fullwidth digit
        "١",  # Arabic-Indic digit
        "0b101",
        "1.2.3",
        "1e5.5",
        "true",
    ],
)
def test_double_rejects_what_java_rejects_or_non_finite_4_2(raw: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_primitive(D, raw)
    assert str(info.value) == f"Value '{raw}' is not a double"


# --- §4.2 dates and strings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2014-05-02", datetime.date(2014, 5, 2)),
        ("1600-03-01", MIN_DATE),
        ("3000-12-31", MAX_DATE),
        ("2000-02-29", datetime.date(2000, 2, 29)),
    ],
)
def test_date_accepts_yyyy_mm_dd_in_range_4_2(raw: str, expected: datetime.date) -> None:
    assert parse_primitive(DT, raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "1600-02-29",
        "1600-02-28",
        "3001-01-01",
        "2014-02-30",
        "1900-02-29",
        "2014-13-01",
        "2014-00-10",
        "2014-05-00",
        "2014-5-02",
        "2014-05-2",
        "2014/05/02",
        "20140502",
        "2014-05-02 ",
        " 2014-05-02",
        "2014-05-02T00:00:00",
        "+014-05-02",
        "2014-+5-02",
        "２014-05-02",
        "",
    ],
)
def test_date_rejects_other_forms_and_out_of_range_4_2(raw: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_primitive(DT, raw)
    assert str(info.value) == f"Value '{raw}' is not a date"


@pytest.mark.parametrize("raw", ["", " x ", "a|b", "NaN", "\\n", "é"])
def test_string_is_verbatim_4_2(raw: str) -> None:
    assert parse_primitive(S, raw) == raw
    assert parse_value(S, raw) == raw


# --- §4.2 structs and lists -----------------------------------------------------------


def test_struct_parses_json_object_extra_keys_ignored_int_for_double_4_2() -> None:
    value = parse_value(fish(), '{"size": 66, "common_name": "Wahoo", "colour": "blue"}')
    assert value == {"common_name": "Wahoo", "size": 66.0}
    assert isinstance(value["size"], float)
    assert list(value) == ["common_name", "size"]  # declaration order


def test_struct_optional_field_may_be_absent_or_null_4_2() -> None:
    assert parse_value(fish(), '{"common_name":"Wahoo"}') == {"common_name": "Wahoo"}
    assert parse_value(fish(), '{"common_name":"Wahoo","size":null}') == {"common_name": "Wahoo"}


def test_struct_missing_mandatory_field_message_4_2() -> None:
    raw = '{"size":1.5}'
    with pytest.raises(ValueParseError) as info:
        parse_value(fish(), raw)
    assert str(info.value) == "Mandatory field 'common_name' not found in '{\"size\":1.5}'"


@pytest.mark.parametrize("raw", ["{", "", "Wahoo", "{'a':1}", '{"size":NaN}', "[1,]", "{} x"])
def test_struct_requires_valid_json_4_2(raw: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_value(fish(), raw)
    assert str(info.value) == f"Value '{raw}' is not valid JSON"


def test_json_nesting_too_deep_is_invalid_json_not_a_crash_4_2() -> None:
    raw = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ValueParseError):
        parse_value(ListEncoding(S), raw)


def test_json_null_is_a_tombstone_for_structs_and_lists_4_2() -> None:
    assert parse_value(fish(), "null") is TOMBSTONE
    assert parse_value(ListEncoding(I), " null ") is TOMBSTONE


def test_struct_fields_of_every_type_4_2() -> None:
    raw = '{"b":true,"i":-7,"l":9223372036854775807,"d":1e-5,"s":"x\\ny","t":"2014-05-02"}'
    assert parse_value(every_type(), raw) == {
        "b": True,
        "i": -7,
        "l": 2**63 - 1,
        "d": 1e-5,
        "s": "x\ny",
        "t": datetime.date(2014, 5, 2),
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"i":2147483648}', "Field 'i' in '{\"i\":2147483648}' is not an integer"),
        ('{"i":1.0}', "Field 'i' in '{\"i\":1.0}' is not an integer"),
        ('{"i":true}', "Field 'i' in '{\"i\":true}' is not an integer"),
        ('{"l":"1"}', "Field 'l' in '{\"l\":\"1\"}' is not a long"),
        ('{"b":1}', "Field 'b' in '{\"b\":1}' is not a boolean"),
        ('{"d":"1.0"}', "Field 'd' in '{\"d\":\"1.0\"}' is not a double"),
        ('{"d":1e400}', "Field 'd' in '{\"d\":1e400}' is not a double"),
        ('{"s":1}', "Field 's' in '{\"s\":1}' is not a string"),
        ('{"t":"2014-02-30"}', "Field 't' in '{\"t\":\"2014-02-30\"}' is not a date"),
        ("[1]", "Value '[1]' is not a JSON object"),
    ],
)
def test_struct_field_type_errors_4_2(raw: str, message: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_value(every_type(), raw)
    assert str(info.value) == message


def test_list_of_primitives_and_structs_keeps_order_4_2() -> None:
    assert parse_value(ListEncoding(S), '["b","a"]') == ["b", "a"]
    assert parse_value(ListEncoding(D), "[1, 2.5]") == [1.0, 2.5]
    assert parse_value(ListEncoding(I), "[]") == []
    assert parse_value(
        ListEncoding(fish()), '[{"common_name":"a"},{"common_name":"b","size":2}]'
    ) == [
        {"common_name": "a"},
        {"common_name": "b", "size": 2.0},
    ]


def test_list_errors_4_2() -> None:
    with pytest.raises(ValueParseError, match=r"^Value '\{\}' is not a JSON array$"):
        parse_value(ListEncoding(S), "{}")
    with pytest.raises(ValueParseError, match=r"^Element 1 of '\[1,null\]' is not an integer$"):
        parse_value(ListEncoding(I), "[1,null]")
    with pytest.raises(ValueParseError, match=r"^Mandatory field 'common_name' not found in"):
        parse_value(ListEncoding(fish()), '[{"common_name":"a"},{}]')
    with pytest.raises(ValueParseError, match=r"^Element 0 of '\[1\]' is not a JSON object$"):
        parse_value(ListEncoding(fish()), "[1]")


# --- §4.3 render_double ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (2.0, "2.0"),
        (170.0, "170.0"),
        (0.042026960275581504, "0.042026960275581504"),
        (0.36182843787152693, "0.3618284378715269"),
        (9999999.999, "9999999.999"),
        (1e7, "1.0E7"),
        (1e-4, "1.0E-4"),
        (-2.5e-5, "-2.5E-5"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
        (0.001, "0.001"),
        (0.0009999999999999998, "9.999999999999998E-4"),
        (9999999.999999998, "9999999.999999998"),
        (123456.789, "123456.789"),
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (0.5, "0.5"),
        (100.0, "100.0"),
        (1e16, "1.0E16"),
        (1.5e16, "1.5E16"),
        (1e23, "1.0E23"),
        (2.0**63, "9.223372036854776E18"),
        (2.2250738585072014e-308, "2.2250738585072014E-308"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        # Tiny subnormals: the JDK's shortest-decimal rule allows two digits when one
        # would do and picks the closer one, so these differ from Python's repr.
        (MIN_VALUE, "4.9E-324"),
        (-MIN_VALUE, "-4.9E-324"),
        (2 * MIN_VALUE, "9.9E-324"),
        (3 * MIN_VALUE, "1.5E-323"),
        (4 * MIN_VALUE, "2.0E-323"),
        (10 * MIN_VALUE, "4.9E-323"),
        (20 * MIN_VALUE, "9.9E-323"),
        (21 * MIN_VALUE, "1.04E-322"),
    ],
)
def test_render_double_java_to_string_4_3(x: float, text: str) -> None:
    assert render_double(x) == text


def test_render_double_accepts_an_int_4_3() -> None:
    assert render_double(2) == "2.0"


def _java_shortest_oracle(x: float) -> tuple[int, int]:
    """Brute force of the JDK 19 ``Double.toString`` javadoc rule for tiny ``x > 0``.

    Returns ``(digits, exponent)`` with ``x ~ digits * 10**exponent`` and no trailing
    zeros in ``digits``.
    """
    exact = Fraction(x)
    top = math.floor(math.log10(x))
    by_length: dict[int, list[tuple[int, int]]] = {}
    for length in (1, 2, 3, 4):
        for scale in range(top - length - 1, top - length + 3):
            for mantissa in range(10 ** (length - 1), 10**length):
                if float(mantissa * Fraction(10) ** scale) == x:
                    by_length.setdefault(length, []).append((mantissa, scale))
    m = min(by_length)
    pool = by_length[m] + (by_length.get(2, []) if m == 1 else [])
    best = min(
        pool,
        key=lambda c: (abs(c[0] * Fraction(10) ** c[1] - exact), c[0] % 2),
    )
    mantissa, scale = best
    while mantissa % 10 == 0:
        mantissa //= 10
        scale += 1
    return mantissa, scale


def _parse_java_sci(text: str) -> tuple[int, int]:
    mant, exp = text.split("E")
    int_part, frac = mant.split(".")
    digits = (int_part + frac).rstrip("0")
    return int(digits), int(exp) - len(digits) + 1


@pytest.mark.parametrize("c", range(1, 61))
def test_render_double_tiny_subnormals_match_jdk_rule_4_3(c: int) -> None:
    x = c * MIN_VALUE
    assert _parse_java_sci(render_double(x)) == _java_shortest_oracle(x)
    assert float(render_double(x)) == x


finite_doubles = st.floats(allow_nan=False, allow_infinity=False)


@given(finite_doubles)
@settings(max_examples=2000)
def test_render_double_round_trips_and_has_java_shape_4_3(x: float) -> None:
    text = render_double(x)
    assert float(text) == x
    assert parse_primitive(D, text) == x
    assert math.copysign(1.0, parse_primitive(D, text)) == math.copysign(1.0, x)
    ax = abs(x)
    if x == 0.0 or 1e-3 <= ax < 1e7:
        assert JAVA_PLAIN.fullmatch(text), text
    else:
        assert JAVA_SCI.fullmatch(text), text
    # Same digits as Python's shortest repr (apart from the tiny subnormals).
    if ax >= 1e-320 or x == 0.0:
        digits = re.sub(r"[^0-9]", "", repr(ax).split("e")[0]).strip("0") or "0"
        ours = re.sub(r"[^0-9]", "", text.split("E")[0]).strip("0") or "0"
        assert ours == digits


@given(st.integers(min_value=0, max_value=2**64 - 1))
@settings(max_examples=1000)
def test_render_double_round_trips_for_every_bit_pattern_4_3(bits: int) -> None:
    (x,) = struct.unpack("<d", bits.to_bytes(8, "little"))
    text = render_double(x)
    if math.isnan(x):
        assert text == "NaN"
    else:
        assert float(text) == x


# --- §4.3 / §4.4 render_value ---------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "value", "text"),
    [
        (B, True, "true"),
        (B, False, "false"),
        (I, -12, "-12"),
        (L, 2**63 - 1, "9223372036854775807"),
        (D, 2.0, "2.0"),
        (D, 2, "2.0"),
        (D, math.nan, "NaN"),
        (D, -math.inf, "-Infinity"),
        (S, 'a"b|c\n', 'a"b|c\n'),
        (DT, datetime.date(2014, 5, 2), "2014-05-02"),
        (DT, datetime.date(1600, 3, 1), "1600-03-01"),
    ],
)
def test_render_value_primitives_4_3(encoding, value, text: str) -> None:
    assert render_value(encoding, value) == text


def test_render_value_tombstone_is_the_missing_string_4_3() -> None:
    for encoding in (B, D, S, fish(), ListEncoding(S)):
        assert render_value(encoding, TOMBSTONE) == "NA"
        assert render_value(encoding, TOMBSTONE, missing="") == ""
        assert render_value(encoding, TOMBSTONE, "missing", "deprecated") == "missing"


def test_render_value_struct_and_list_json_4_4() -> None:
    wahoo = {"common_name": "Wahoo", "size": 170.0}
    assert render_value(fish(), wahoo) == '{"common_name":"Wahoo","size":170.0}'
    assert render_value(fish(), {}) == "{}"
    assert render_value(ListEncoding(S), ["b", "a"]) == '["b","a"]'
    assert render_value(ListEncoding(S), []) == "[]"
    assert render_value(ListEncoding(fish()), [wahoo, {"common_name": "x"}]) == (
        '[{"common_name":"Wahoo","size":170.0},{"common_name":"x"}]'
    )
    assert render_value(ListEncoding(D), [1.0, math.nan, math.inf, 1e-5]) == (
        "[1.0,null,null,1.0E-5]"
    )
    assert render_value(ListEncoding(DT), [datetime.date(2014, 5, 2)]) == '["2014-05-02"]'
    assert render_value(ListEncoding(B), [True, False]) == "[true,false]"
    assert render_value(ListEncoding(L), [1, -2]) == "[1,-2]"


def test_render_value_nan_inside_struct_is_null_4_4() -> None:
    assert render_value(fish(), {"common_name": "a", "size": math.nan}) == (
        '{"common_name":"a","size":null}'
    )


def test_render_value_deprecated_format_4_4() -> None:
    value = {"common_name": 'Wa"hoo', "size": 170.0}
    assert (
        render_value(fish(), value, text_format="deprecated") == '(common_name:Wa"hoo,size:170.0)'
    )
    assert render_value(ListEncoding(S), ["b", "a"], text_format="deprecated") == "[b,a]"
    assert render_value(ListEncoding(fish()), [value], text_format="deprecated") == (
        '[(common_name:Wa"hoo,size:170.0)]'
    )
    assert render_value(S, "x", text_format="deprecated") == "x"


def test_render_value_rejects_unknown_format_and_mismatched_values_4_4() -> None:
    with pytest.raises(ValueError):
        render_value(S, "x", text_format="xml")
    with pytest.raises(TypeError):
        render_value(fish(), ["not", "a", "dict"])
    with pytest.raises(TypeError):
        render_value(ListEncoding(S), {"a": 1})


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
        ("\x7f\x85\x9f", '"\\u007f\\u0085\\u009f"'),
        ("\xa0é/€😀", '"\xa0é/€😀"'),
        ("", '""'),
    ],
)
def test_json_string_escaping_4_4(text: str, literal: str) -> None:
    assert render_json_string(text) == literal


# --- §4.5 key order -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "context", "expected"),
    [
        ("abc", "stored", "bca"),
        ("cab", "stored", "bca"),
        ("cd", "stored", "cd"),
        ("dc", "stored", "cd"),
        ("ab", "stored", "ba"),
        ("il", "stored", "li"),
        ("bilds", "stored", "sibld"),
        ("sdlib", "cat-thrift", "sibld"),
        ("bildsx", "reduction", None),  # rule 1 applies in every context
        ("il", "cat-thrift", "il"),
        ("li", "cat-thrift", "il"),
        ("bsd", "cat-thrift", "bsd"),
        ("dc", "reduction", "dc"),
        ("ab", "reduction", "ba"),
        ("", "stored", ""),
        ("a", "cat-thrift", "a"),
    ],
)
def test_json_key_order_examples_4_5(keys: str, context: str, expected: str | None) -> None:
    result = json_key_order(list(keys), context)
    assert sorted(result) == sorted(keys)
    if expected is not None:
        assert "".join(result) == expected
    else:
        assert result == json_key_order(sorted(keys), "stored")


def test_json_key_order_two_word_keys_4_5() -> None:
    assert json_key_order(["size", "common_name"]) == ["common_name", "size"]
    assert json_key_order(["common_name", "size"], "stored") == ["common_name", "size"]


def test_json_key_order_collisions_latest_inserted_first_4_5() -> None:
    # 'a' (97 -> 103) and 'e' (101 -> 99) share Java 7 bucket 3 of a 4-bucket table.
    assert json_key_order(["a", "e"]) == ["e", "a"]
    assert json_key_order(["e", "a"]) == ["a", "e"]
    # cat-thrift inserts in the Java order, then the Scala buckets decide.
    assert sorted(json_key_order(["a", "e"], "cat-thrift")) == ["a", "e"]


def test_json_key_order_rejects_unknown_context_4_5() -> None:
    with pytest.raises(ValueError):
        json_key_order(["a"], "sorted")


def test_render_value_uses_key_order_rules_4_5() -> None:
    five = StructEncoding(
        tuple(StructField(k, e) for k, e in zip("bildsx"[:5], (B, I, L, D, S), strict=True))
    )
    value = {"b": True, "i": 1, "l": 2, "d": 3.0, "s": "x"}
    assert render_value(five, value) == '{"s":"x","i":1,"b":true,"l":2,"d":3.0}'
    assert render_value(five, value, text_format="deprecated") == "(s:x,i:1,b:true,l:2,d:3.0)"
    abc = StructEncoding(tuple(StructField(k, I) for k in "abc"))
    assert render_value(abc, {"a": 1, "b": 2, "c": 3}) == '{"b":2,"c":3,"a":1}'
    il = StructEncoding((StructField("i", I), StructField("l", L)))
    assert render_value(il, {"i": 1, "l": 2}) == '{"l":2,"i":1}'
    assert render_value(il, {"i": 1, "l": 2}, context="cat-thrift") == '{"i":1,"l":2}'


def test_java_string_hash_known_values_4_5() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("a") == 97
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == 0x80000000  # Integer.MIN_VALUE
    assert java_string_hash("😀") == (31 * 0xD83D + 0xDE00)  # two UTF-16 units


# --- §5.2 / §9.2 escaping -------------------------------------------------------------


def test_escape_text_conformance_value_9_2() -> None:
    assert escape_text("a\r\n\\|b", "|") == "a\\r\\n\\\\\\|b"  # a\r\n\\\|b
    assert escape_text("a,b|c\td", ",") == "a\\,b|c\td"
    assert escape_text("a\tb", "\t") == "a\\\tb"
    assert escape_text("plain", "|") == "plain"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\\r\\n\\\\\\|b", "a\r\n\\|b"),
        ("\\x", "\\x"),  # other char: both kept
        ("\\,", "\\,"),  # ',' is not the delimiter here
        ("ab\\", "ab\\"),  # trailing lone backslash kept
        ("\\", "\\"),
        ("\\\\\\", "\\\\"),
        ("\\t", "\\t"),
        ("", ""),
        ("|", "|"),
    ],
)
def test_unescape_text_5_2(text: str, expected: str) -> None:
    assert unescape_text(text, "|") == expected


@given(st.text(), st.sampled_from(["|", ",", "\t"]))
def test_escape_round_trip_9_2(text: str, delimiter: str) -> None:
    escaped = escape_text(text, delimiter)
    assert unescape_text(escaped, delimiter) == text
    assert "\n" not in escaped and "\r" not in escaped
    # every delimiter left in the output is escaped
    assert delimiter not in escaped.replace("\\\\", "").replace("\\" + delimiter, "")


def test_java_trim_only_strips_chars_up_to_space_4_2() -> None:
    assert java_trim("\x00 a b\t\r\n") == "a b"
    assert java_trim("\u00a0a\u2003") == "\u00a0a\u2003"
    assert java_trim("   ") == ""


# --- round-trip properties ------------------------------------------------------------

dates = st.dates(min_value=MIN_DATE, max_value=MAX_DATE)
texts = st.text(st.characters(exclude_categories=("Cs",)))


@given(st.booleans())
def test_boolean_round_trip_4_3(value: bool) -> None:
    assert parse_value(B, render_value(B, value)) is value


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_int_round_trip_4_3(value: int) -> None:
    assert parse_value(I, render_value(I, value)) == value


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_long_round_trip_4_3(value: int) -> None:
    assert parse_value(L, render_value(L, value)) == value


@given(finite_doubles)
def test_double_round_trip_4_3(value: float) -> None:
    assert parse_value(D, render_value(D, value)) == value


@given(texts)
def test_string_round_trip_4_3(value: str) -> None:
    assert parse_value(S, render_value(S, value)) == value


@given(dates)
def test_date_round_trip_4_3(value: datetime.date) -> None:
    assert parse_value(DT, render_value(DT, value)) == value


struct_values = st.fixed_dictionaries(
    {},
    optional={
        "b": st.booleans(),
        "i": st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "l": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "d": finite_doubles,
        "s": texts,
        "t": dates,
    },
)


@given(struct_values)
def test_struct_round_trip_4_4(value: dict) -> None:
    encoding = every_type()
    text = render_value(encoding, value)
    parsed = parse_value(encoding, text)
    assert parsed == value
    for key in ("d",):
        if key in value:
            assert math.copysign(1.0, parsed[key]) == math.copysign(1.0, value[key])


@given(st.lists(struct_values, max_size=5))
def test_list_of_structs_round_trip_4_4(value: list) -> None:
    encoding = ListEncoding(every_type())
    assert parse_value(encoding, render_value(encoding, value)) == value


@given(
    st.one_of(
        st.tuples(st.just(S), st.lists(texts, max_size=5)),
        st.tuples(st.just(D), st.lists(finite_doubles, max_size=5)),
        st.tuples(st.just(DT), st.lists(dates, max_size=5)),
        st.tuples(st.just(B), st.lists(st.booleans(), max_size=5)),
    )
)
def test_list_of_primitives_round_trip_4_4(case: tuple) -> None:
    element, value = case
    encoding = ListEncoding(element)
    assert parse_value(encoding, render_value(encoding, value)) == value


def test_stored_value_gives_the_reference_value_of_struct_and_list_columns():
    """The squash (§8.4 ``latest_by``) reads struct/list facts back as dict/list values."""
    fish = StructEncoding((StructField("common_name", S, False), StructField("size", D, True)))
    value = {"common_name": "Wahoo", "size": 43.2}
    assert stored_value(to_columns(fish, value), None) == value
    assert list(stored_value(to_columns(fish, value), None)) == ["common_name", "size"]
    assert stored_value(to_columns(fish, {"common_name": "Tuna"}), None) == {
        "common_name": "Tuna"}
    assert stored_value(to_columns(ListEncoding(fish), [value]), None) == [value]
    assert stored_value(to_columns(ListEncoding(S), ["a", "b"]), None) == ["a", "b"]
    assert stored_value(to_columns(fish, TOMBSTONE), None) is TOMBSTONE
    assert stored_value(to_columns(D, 1.5), "double_value") == 1.5
