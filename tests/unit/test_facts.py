"""Unit tests of the reference fact-line parser ivory.facts (§5.2-§5.4, §11.1, §11.3)."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivory.encoding import ListEncoding, PrimitiveEncoding, StructEncoding, StructField
from ivory.errors import ValueParseError
from ivory.facts import (
    ENTITY_LENGTH_POSITION,
    LOOKUP_POSITION,
    Fact,
    FactError,
    parse_datetime,
    parse_fact_line,
    split_delimited,
    split_escaped,
)
from ivory.values import TOMBSTONE, escape_text, render_value

CONFORMANCE = Path("/work/shared/conformance")
SYD = "Australia/Sydney"
D = datetime.date


def definition(encoding, tombstones=("NA",), is_virtual=False) -> SimpleNamespace:
    return SimpleNamespace(encoding=encoding, tombstones=tombstones, is_virtual=is_virtual)


FEATURES = {
    ("HALIBUT", "preheat"): definition(PrimitiveEncoding.BOOLEAN),
    ("HALIBUT", "swiss_cheese"): definition(PrimitiveEncoding.DOUBLE),
    ("HALIBUT", "used_by"): definition(PrimitiveEncoding.DATE),
    ("HALIBUT", "name"): definition(PrimitiveEncoding.STRING, tombstones=()),
    ("HALIBUT", "count"): definition(PrimitiveEncoding.INT, tombstones=("T", "")),
    ("HALIBUT", "fish"): definition(
        StructEncoding(
            (
                StructField("common_name", PrimitiveEncoding.STRING),
                StructField("size", PrimitiveEncoding.DOUBLE, optional=True),
            )
        )
    ),
    ("HALIBUT", "tags"): definition(ListEncoding(PrimitiveEncoding.STRING)),
    ("HALIBUT", "adult"): definition(None, is_virtual=True),
}


def lookup(namespace: str, attribute: str) -> SimpleNamespace | None:
    return FEATURES.get((namespace, attribute))


def parse(line: str, **kwargs) -> Fact | FactError:
    options = {"ingest_zone": SYD, "repo_zone": SYD}
    options.update(kwargs)
    return parse_fact_line(line, "HALIBUT", lookup, **options)


def error(line: str, **kwargs) -> FactError:
    result = parse(line, **kwargs)
    assert isinstance(result, FactError), result
    return result


# --- §5.2 delimited splitting ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("e|a|v|2014-01-01", ["e", "a", "v", "2014-01-01"]),
        ("e|a||2014-01-01", ["e", "a", "", "2014-01-01"]),
        ("e|a|v|", ["e", "a", "v"]),
        ("e|a|v||", ["e", "a", "v"]),
        ("e|a|||", ["e", "a"]),
        ("", [""]),
        ("abc", ["abc"]),
        ("|", []),
        ("|||", []),
        ("|a", ["", "a"]),
        ("||a|", ["", "", "a"]),
        ("e|a|v|2014-01-01\r", ["e", "a", "v", "2014-01-01"]),
        (" e |a|v| 2014-01-01 \t", [" e ", "a", "v", "2014-01-01"]),
        ("e|a|v|\x002014\x1f", ["e", "a", "v", "2014"]),
        ("e|a|v|2014\u00a0", ["e", "a", "v", "2014\u00a0"]),  # NBSP is not trimmed
        ("e|a|v |d |x ", ["e", "a", "v ", "d ", "x "]),  # 5 fields: no trim
        ("e|a|v\r", ["e", "a", "v\r"]),  # 3 fields: no trim
        ("e|a|x\\|y|d", ["e", "a", "x\\", "y", "d"]),  # no escaping in delimited
    ],
)
def test_split_delimited_java_split_semantics_5_2(line: str, fields: list[str]) -> None:
    assert split_delimited(line, "|") == fields


def test_split_delimited_other_delimiters_5_2() -> None:
    assert split_delimited("e,a,v,2014-01-01 ", ",") == ["e", "a", "v", "2014-01-01"]
    assert split_delimited("e\ta\t\t2014-01-01", "\t") == ["e", "a", "", "2014-01-01"]
    assert split_delimited("e\ta\tv\t", "\t") == ["e", "a", "v"]
    assert split_delimited("e|a,v", ",") == ["e|a", "v"]


# --- §5.2 escaped splitting -----------------------------------------------------------


def test_split_escaped_text_escaped_conformance_line_5_2() -> None:
    path = CONFORMANCE / "text-escaped/input/facts/halibut.psv"
    line = path.read_text(encoding="utf-8").rstrip("\n")
    assert line == "ID00000000|preheat|a\\r\\n\\\\\\|b|2014-05-02"
    fields = split_escaped(line, "|")
    assert fields == ["ID00000000", "preheat", "a\r\n\\|b", "2014-05-02"]
    assert fields[2] == "a" + "\x0d" + "\x0a" + "\x5c" + "|" + "b"


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("", [""]),
        ("a|", ["a", ""]),
        ("a||", ["a", "", ""]),
        ("|", ["", ""]),
        ("a\\|b|c", ["a|b", "c"]),
        ("a\\", ["a\\"]),  # trailing lone backslash kept
        ("a\\|", ["a|"]),
        ("a\\\\|b", ["a\\", "b"]),
        ("a\\x|b", ["a\\x", "b"]),  # other char: both kept
        ("a\\,b", ["a\\,b"]),  # ',' is not the delimiter
        ("a\\n\\r|b", ["a\n\r", "b"]),
        (" a | 2014-01-01 ", [" a ", " 2014-01-01 "]),  # no trimming
        ("a\\\nb", ["a\\\nb"]),
    ],
)
def test_split_escaped_rules_5_2(line: str, fields: list[str]) -> None:
    assert split_escaped(line, "|") == fields


def test_split_escaped_tab_and_comma_5_2() -> None:
    assert split_escaped("a\\\tb\tc", "\t") == ["a\tb", "c"]
    assert split_escaped("a\\,b,c\\|", ",") == ["a,b", "c\\|"]


@given(st.lists(st.text(), min_size=1, max_size=6), st.sampled_from(["|", ",", "\t"]))
def test_split_escaped_inverts_escape_text_9_2(fields: list[str], delimiter: str) -> None:
    line = delimiter.join(escape_text(f, delimiter) for f in fields)
    assert split_escaped(line, delimiter) == fields


# --- §5.3 datetimes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ingest", "repo", "expected"),
    [
        ("2014-05-02", SYD, SYD, (D(2014, 5, 2), 0)),
        ("2014-05-02", "UTC", SYD, (D(2014, 5, 2), 0)),  # dates are never converted
        ("1600-03-01", SYD, SYD, (D(1600, 3, 1), 0)),
        ("3000-12-31", SYD, SYD, (D(3000, 12, 31), 0)),
        ("2014-05-02T00:00:01", SYD, SYD, (D(2014, 5, 2), 1)),
        ("2014-05-02 23:59:59", SYD, SYD, (D(2014, 5, 2), 86399)),
        ("2014-05-02T10:00:00", "UTC", SYD, (D(2014, 5, 2), 20 * 3600)),  # UTC+10
        ("2014-05-02T20:00:00", "UTC", SYD, (D(2014, 5, 3), 6 * 3600)),
        ("2014-05-02T05:00:00", SYD, "UTC", (D(2014, 5, 1), 19 * 3600)),
        ("2014-01-02T05:00:00", SYD, "UTC", (D(2014, 1, 1), 18 * 3600)),  # AEDT +11
        ("2014-05-02T00:00:00Z", SYD, SYD, (D(2014, 5, 2), 10 * 3600)),
        ("2014-05-02T00:00:00+10:00", "UTC", SYD, (D(2014, 5, 2), 0)),
        ("2014-05-02T00:00:00+1000", "UTC", SYD, (D(2014, 5, 2), 0)),
        ("2014-05-02T00:00:00-05:30", SYD, "UTC", (D(2014, 5, 2), 5 * 3600 + 1800)),
        ("2014-05-02T00:00:00+00:00", SYD, "UTC", (D(2014, 5, 2), 0)),
        ("2014-05-02T12:00:00+23:59", SYD, "UTC", (D(2014, 5, 1), 12 * 3600 + 60)),
    ],
)
def test_parse_datetime_forms_and_zones_5_3(
    text: str, ingest: str, repo: str, expected: tuple[datetime.date, int]
) -> None:
    assert parse_datetime(text, ingest, repo) == expected


def test_parse_datetime_sydney_dst_gap_shifts_forward_like_java_time_5_3() -> None:
    # 2014-10-05 02:00 AEST -> 03:00 AEDT: 02:30 does not exist locally.
    assert parse_datetime("2014-10-05T02:30:00", SYD, SYD) == (D(2014, 10, 5), 3 * 3600 + 1800)
    assert parse_datetime("2014-10-05T02:30:00", SYD, "UTC") == (D(2014, 10, 4), 16 * 3600 + 1800)
    assert parse_datetime("2014-10-05T01:59:59", SYD, SYD) == (D(2014, 10, 5), 7199)
    assert parse_datetime("2014-10-05T03:00:00", SYD, "UTC") == (D(2014, 10, 4), 16 * 3600)


def test_parse_datetime_sydney_dst_overlap_takes_earlier_offset_5_3() -> None:
    # 2014-04-06 03:00 AEDT -> 02:00 AEST: 02:30 happens twice; first is +11:00.
    assert parse_datetime("2014-04-06T02:30:00", SYD, "UTC") == (D(2014, 4, 5), 15 * 3600 + 1800)
    assert parse_datetime("2014-04-06 02:30:00", SYD, SYD) == (D(2014, 4, 6), 2 * 3600 + 1800)
    # seconds of day come from hour/minute/second even on a 25-hour day
    assert parse_datetime("2014-04-06T23:00:00", SYD, SYD) == (D(2014, 4, 6), 23 * 3600)
    # the second 02:30 can be written with an explicit offset
    assert parse_datetime("2014-04-06T02:30:00+10:00", "UTC", SYD) == (D(2014, 4, 6), 9000)
    assert parse_datetime("2014-04-06T02:30:00+11:00", "UTC", SYD) == (D(2014, 4, 6), 9000)
    assert parse_datetime("2014-04-06T02:30:00+11:00", "UTC", "UTC") == (D(2014, 4, 5), 55800)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2014-05-2",
        "2014-05-02 ",
        "2014-02-30",
        "1600-02-29",
        "3001-01-01",
        "2014-05-02T24:00:00",
        "2014-05-02T12:60:00",
        "2014-05-02T12:00:60",
        "2014-02-30T00:00:00",
        "2014-05-02X00:00:00",
        "2014-05-02T0:00:000",
        "2014-05-02 00:00:00Z",  # offsets need the 'T'
        "2014-05-02T00:00:00z",
        "2014-05-02T00:00:00+10",
        "2014-05-02T00:00:00+10:00:00",
        "2014-05-02T00:00:00+24:00",
        "2014-05-02T00:00:00+10:60",
        "2014-05-02T00:00:00 +10:00",
        "2014-05-02T00:00:00.000Z",
        "2014-05-02T00:00",
        "２014-05-02T00:00:00",
        "3000-12-31T23:00:00Z",  # 3001-01-01 in Sydney: out of range after conversion
        "1600-03-01T05:00:00+10:00",
        "0000-01-01T00:00:00",
        "9999-12-31T23:59:59Z",
        "2014-05-02T00:00:00+0a:00",
    ],
)
def test_parse_datetime_rejects_with_position_4_message_5_3(text: str) -> None:
    repo = "UTC" if text.startswith("1600") else SYD
    with pytest.raises(ValueParseError) as info:
        parse_datetime(text, SYD, repo)
    assert str(info.value) == f"Could not parse '{text}' at position '4'"


def test_parse_datetime_range_is_checked_in_the_repo_zone_5_3() -> None:
    # Sydney used local mean time (+10:04:52) before 1895, in zoneinfo as in java.time.
    assert parse_datetime("1600-03-01T05:00:00+10:00", SYD, SYD) == (D(1600, 3, 1), 18292)
    assert parse_datetime("3000-12-31T13:00:00Z", SYD, "UTC") == (D(3000, 12, 31), 13 * 3600)


# --- §5.4 error records ---------------------------------------------------------------


def test_fact_error_message_format_5_4() -> None:
    e = FactError("a|b", ("a", "b"), "Something", 2)
    assert e.message == "a, b\nSomething (position: 2)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.position = 3  # type: ignore[misc]


def test_error_facts_conformance_byte_for_byte_5_4() -> None:
    expected = (CONFORMANCE / "ingest/expected/error-facts.psv").read_bytes()
    line = "ID00000001|preheat|bad|2014-06-03"
    result = error(line)
    assert (result.position, result.reason) == (3, "Value 'bad' is not a boolean")
    assert (line + "|" + result.message + "\n").encode("utf-8") == expected


def test_good_line_gives_a_fact_5_2() -> None:
    fact = parse("ID00000000|swiss_cheese|0.042026960275581504|2014-04-02T00:00:01")
    assert fact == Fact(
        "ID00000000", "HALIBUT", "swiss_cheese", 0.042026960275581504, D(2014, 4, 2), 1
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        fact.entity = "x"  # type: ignore[union-attr, misc]


def test_values_of_every_kind_5_2() -> None:
    assert parse("e|preheat|NA|2014-04-02").value is TOMBSTONE
    assert parse("e|count||2014-04-02").value is TOMBSTONE
    assert parse("e|count|T|2014-04-02").value is TOMBSTONE
    assert parse("e|name||2014-04-02").value == ""
    assert parse("e|used_by|2014-07-02|2014-06-02").value == D(2014, 7, 2)
    assert parse('e|fish|{"common_name":"Wahoo","size":66}|2014-06-02').value == {
        "common_name": "Wahoo",
        "size": 66.0,
    }
    assert parse('e|tags|["b","a"]|2014-06-02').value == ["b", "a"]
    assert parse("e|fish|null|2014-06-02").value is TOMBSTONE


@pytest.mark.parametrize(
    ("line", "reason", "position"),
    [
        ("", "Entity id is empty", 1),
        ("|preheat|true|2014-01-01", "Entity id is empty", 1),
        ("|", "Expected 4 fields but found 0", 1),
        ("e", "Expected 4 fields but found 1", 2),
        ("e|", "Expected 4 fields but found 1", 2),
        ("e||true|2014-01-01", "Attribute is empty", 2),
        ("e|preheat", "Expected 4 fields but found 2", 3),
        ("e|preheat|true", "Expected 4 fields but found 3", 4),
        ("e|preheat|true|", "Expected 4 fields but found 3", 4),
        ("e|preheat|true|2014-01-01|x", "Expected 4 fields but found 5", 5),
        ("e|nope|true|2014-01-01", "Could not find dictionary entry for 'HALIBUT:nope'", 3),
        ("e|adult|true|2014-01-01", "Cannot import virtual feature HALIBUT:adult", 3),
        ("e|preheat|yes|2014-01-01", "Value 'yes' is not a boolean", 3),
        ("e|count|2147483648|2014-01-01", "Value '2147483648' is not an integer", 3),
        ("e|swiss_cheese|NaN|2014-01-01", "Value 'NaN' is not a double", 3),
        ("e|used_by|2014-02-30|2014-01-01", "Value '2014-02-30' is not a date", 3),
        ("e|fish|{|2014-01-01", "Value '{' is not valid JSON", 3),
        ("e|preheat|true|2014-13-01", "Could not parse '2014-13-01' at position '4'", 4),
        ("e|preheat|true|yesterday", "Could not parse 'yesterday' at position '4'", 4),
    ],
)
def test_error_reasons_and_positions_5_4(line: str, reason: str, position: int) -> None:
    result = error(line)
    assert (result.reason, result.position) == (reason, position)
    assert result.line == line
    assert result.message.endswith(f"\n{reason} (position: {position})")


def test_lookup_and_entity_length_positions_follow_upstream_5_4() -> None:
    assert LOOKUP_POSITION == 3
    assert ENTITY_LENGTH_POSITION == 4


def test_error_fields_are_the_split_fields_5_4() -> None:
    result = error("e|preheat|bad|2014-01-01\r")
    assert result.fields == ("e", "preheat", "bad", "2014-01-01")
    assert (
        result.message == "e, preheat, bad, 2014-01-01\nValue 'bad' is not a boolean (position: 3)"
    )
    escaped = error("e\\|x|preheat|b\\nad|2014-01-01", escaped=True)
    assert escaped.fields == ("e|x", "preheat", "b\nad", "2014-01-01")
    assert escaped.reason == "Value 'b\nad' is not a boolean"


def test_check_order_first_failure_wins_5_4() -> None:
    # attribute empty beats unknown value, value beats datetime, datetime beats length.
    assert error("||x|y").position == 1
    assert error("e||x|y").reason == "Attribute is empty"
    assert error("e|nope|x|y").position == 3
    assert error("e|preheat|x|y").reason == "Value 'x' is not a boolean"
    long_entity = "E" * 257
    assert error(f"{long_entity}|preheat|true|y").reason == "Could not parse 'y' at position '4'"
    # value errors come before a missing datetime (upstream parses fields in order)
    assert error("e|preheat|x").reason == "Value 'x' is not a boolean"
    # a 5th field is only reported once the first four parse
    assert error("e|preheat|x|2014-01-01|z").reason == "Value 'x' is not a boolean"


def test_entity_length_limit_256_utf16_units_5_2() -> None:
    ok = parse("E" * 256 + "|preheat|true|2014-01-01")
    assert isinstance(ok, Fact)
    bad = error("E" * 257 + "|preheat|true|2014-01-01")
    assert bad.reason == f"Entity id '{'E' * 257}' too large! Max length is 256"
    assert bad.position == 4
    # a non-BMP character counts as two UTF-16 units, as Java String.length does
    assert isinstance(parse("😀" * 128 + "|preheat|true|2014-01-01"), Fact)
    assert error("😀" * 128 + "E|preheat|true|2014-01-01").position == 4


def test_escaped_mode_5_2() -> None:
    fact = parse("ID00000000|name|a\\r\\n\\\\\\|b|2014-05-02", escaped=True)
    assert isinstance(fact, Fact)
    assert fact.value == "a\r\n\\|b"
    # no trimming in escaped mode
    assert error("e|name|v|2014-05-02\r", escaped=True).position == 4
    # a trailing delimiter is a 5th (empty) field
    assert error("e|name|v|2014-05-02|", escaped=True).reason == "Expected 4 fields but found 5"


def test_delimited_trailing_delimiter_drops_the_datetime_5_2() -> None:
    assert error("e|name|v|").reason == "Expected 4 fields but found 3"
    assert parse("e|name||2014-05-02").value == ""


def test_csv_and_tsv_delimiters_5_2() -> None:
    assert parse("e,preheat,true,2014-05-02", delimiter=",").value is True
    assert parse("e\tpreheat\tfalse\t2014-05-02", delimiter="\t").value is False


def test_ingest_zone_conversion_5_3() -> None:
    fact = parse("e|preheat|true|2014-05-02T20:00:00", ingest_zone="UTC")
    assert (fact.date, fact.seconds) == (D(2014, 5, 3), 6 * 3600)


# --- conformance inputs end to end (§5, §11.1) ----------------------------------------


def _dictionary(path: Path) -> dict[tuple[str, str], SimpleNamespace]:
    result = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, *attrs = line.split("|")
        namespace, feature = name.split(":")
        options = dict(a.split("=", 1) for a in attrs)
        tombstones = (options["tombstone"],) if "tombstone" in options else ()
        result[(namespace, feature)] = definition(
            PrimitiveEncoding(options["encoding"]), tombstones
        )
    return result


def _dump(fact: Fact, encoding: PrimitiveEncoding, factset: str) -> str:
    value = escape_text(render_value(encoding, fact.value), "|")
    hh, rest = divmod(fact.seconds, 3600)
    mm, ss = divmod(rest, 60)
    stamp = f"{fact.date.isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}"
    return f"{fact.entity}|{fact.namespace}|{fact.name}|{value}|{stamp}|Factset[{factset}]"


def _ingest(case: str, inputs: list[tuple[str, str]], factset: str, escaped: bool = False):
    dictionary = _dictionary(CONFORMANCE / case / "input/dictionary.psv")
    dumped, errors = [], []
    for namespace, relative in inputs:
        text = (CONFORMANCE / case / "input" / relative).read_text(encoding="utf-8")
        for line in text.split("\n")[:-1]:
            result = parse_fact_line(
                line,
                namespace,
                lambda ns, a: dictionary.get((ns, a)),
                escaped=escaped,
                ingest_zone=SYD,
                repo_zone=SYD,
            )
            if isinstance(result, FactError):
                errors.append(line + "|" + result.message + "\n")
            else:
                encoding = dictionary[(namespace, result.name)].encoding
                dumped.append(_dump(result, encoding, factset))
    return sorted(dumped), errors


def _expected(case: str, name: str) -> list[str]:
    text = (CONFORMANCE / case / "expected" / name).read_text(encoding="utf-8")
    return sorted(text.split("\n")[:-1])


@pytest.mark.skipif(not CONFORMANCE.exists(), reason="shared conformance cases not present")
def test_conformance_ingest_facts_and_errors_5_4_11_1() -> None:
    inputs = [
        ("HALIBUT", "facts-1/HALIBUT/halibut.psv"),
        ("SAUERKRAUT", "facts-1/SAUERKRAUT/sauerkraut.psv"),
    ]
    dumped, errors = _ingest("ingest", inputs, "00000000")
    assert dumped == _expected("ingest", "all-facts.psv")
    expected_errors = (CONFORMANCE / "ingest/expected/error-facts.psv").read_text("utf-8")
    assert "".join(errors) == expected_errors
    dumped, errors = _ingest("ingest", [("HALIBUT", "facts-2/halibut.psv")], "00000001")
    assert dumped == _expected("ingest", "halibut-facts.psv")
    assert errors == []


@pytest.mark.skipif(not CONFORMANCE.exists(), reason="shared conformance cases not present")
def test_conformance_debug_dump_facts_11_1() -> None:
    inputs = [
        ("HALIBUT", "facts-1/HALIBUT/halibut.psv"),
        ("SAUERKRAUT", "facts-1/SAUERKRAUT/sauerkraut.psv"),
    ]
    assert _ingest("debug", inputs, "00000000") == (_expected("debug", "dump-facts-1.psv"), [])
    inputs = [("HALIBUT", "facts-2/halibut.psv")]
    assert _ingest("debug", inputs, "00000001") == (_expected("debug", "dump-facts-2.psv"), [])


@pytest.mark.skipif(not CONFORMANCE.exists(), reason="shared conformance cases not present")
def test_conformance_text_escaped_11_1() -> None:
    dumped, errors = _ingest(
        "text-escaped", [("halibut", "facts/halibut.psv")], "00000000", escaped=True
    )
    assert errors == []
    assert dumped == _expected("text-escaped", "factsets.psv")


# --- robustness -----------------------------------------------------------------------

line_text = st.one_of(
    st.text(),
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "",
                    "e",
                    "preheat",
                    "count",
                    "fish",
                    "tags",
                    "adult",
                    "nope",
                    "true",
                    "NA",
                    "1e400",
                    "0x1p3",
                    '{"common_name":"x"}',
                    "[[[[",
                    "2014-05-02",
                    "2014-10-05T02:30:00",
                    "2014-05-02T00:00:00+10:00",
                    "9999-12-31T23:59:59+23:59",
                    "0001-01-01T00:00:00-23:59",
                    "\\",
                    "\r",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=6,
    ).map("|".join),
)


@given(line_text, st.booleans(), st.sampled_from(["UTC", SYD, "America/New_York"]))
@settings(max_examples=1500)
def test_parse_fact_line_never_raises_5_4(line: str, escaped: bool, zone: str) -> None:
    result = parse_fact_line(
        line, "HALIBUT", lookup, escaped=escaped, ingest_zone=zone, repo_zone=SYD
    )
    assert isinstance(result, Fact | FactError)
    if isinstance(result, FactError):
        assert 1 <= result.position <= 5
        assert result.message.endswith(f" (position: {result.position})")
    else:
        assert 0 <= result.seconds < 86400
        assert D(1600, 3, 1) <= result.date <= D(3000, 12, 31)
